import { useEffect, useRef, useState } from "preact/hooks";
import type { JSX } from "preact";
import {
  insertAt,
  stillMatching,
  suggest,
  triggerAt,
  type Suggestion,
  type Trigger,
} from "../chat/autocomplete";

// Tags are asked of the server: one question per pause in typing, not per key.
const HASHTAG_DEBOUNCE_MS = 150;

/**
 * `@name` and `#tag` completion for a text box (the composer's), after the ARIA 1.2
 * combobox pattern with the text box keeping focus: the box is a textbox with
 * `aria-autocomplete="list"`, `aria-controls` and `aria-activedescendant` pointing into
 * the listbox. Up/Down move, Enter or Tab inserts (Enter does not send while the list is
 * open), Escape closes it, a click inserts.
 *
 * Wiring: spread `inputProps` on the textarea, call `onInput(textarea)` from its input
 * handler, give `onKeyDown` the first look at keys (true: handled), `close()` on blur, and
 * render `popup`.
 */
export function useAutocomplete(
  conversationId: string,
  listId: string,
  text: string,
  setText: (text: string) => void,
) {
  const [trigger, setTrigger] = useState<Trigger | null>(null);
  const [items, setItems] = useState<Suggestion[]>([]);
  const [active, setActive] = useState(0);
  // Escape closes the list for the token being typed (where it starts), until another.
  const [dismissedAt, setDismissedAt] = useState<number | null>(null);
  const input = useRef<HTMLTextAreaElement | null>(null);

  const kind = trigger?.kind;
  const wanted = trigger?.query;
  useEffect(() => {
    if (trigger === null) {
      setItems([]);
      return;
    }
    setItems((shown) => stillMatching(shown, trigger));
    const controller = new AbortController();
    const timer = setTimeout(
      () => {
        suggest(conversationId, trigger, controller.signal).then(
          (found) => {
            if (controller.signal.aborted) return;
            setItems(found);
            setActive(0);
          },
          () => {
            // Aborted (superseded), or the server could not answer: no list this time.
            if (!controller.signal.aborted) setItems([]);
          },
        );
      },
      trigger.kind === "hashtag" ? HASHTAG_DEBOUNCE_MS : 0,
    );
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
    // The trigger's position moves with every key; what to ask only with these.
  }, [conversationId, kind, wanted]);

  // Only while the text still holds what was typed (a send empties it, for one).
  const typed =
    trigger !== null &&
    text.startsWith((trigger.kind === "mention" ? "@" : "#") + trigger.query, trigger.start);
  const open = typed && items.length > 0 && dismissedAt !== trigger.start;
  const optionId = (index: number) => `${listId}-option-${index}`;

  function look(box: HTMLTextAreaElement) {
    input.current = box;
    const caret = box.selectionStart;
    const found = caret === box.selectionEnd ? triggerAt(box.value, caret) : null;
    setTrigger(found);
    if (found?.start !== dismissedAt) setDismissedAt(null);
    if (found?.kind !== trigger?.kind) setItems([]);
  }

  function pick(index: number) {
    const chosen = items[index];
    if (trigger === null || chosen === undefined) return;
    const next = insertAt(text, trigger, chosen.value);
    // The box and its caret change here, at once: a key typed before the next render (or
    // the next frame) then goes after the insertion. Putting the caret back from an effect
    // once rendered moved it behind what was typed in between ("#" then "l" read "l#").
    const box = input.current;
    if (box !== null) {
      box.value = next.text;
      box.setSelectionRange(next.caret, next.caret);
    }
    setText(next.text);
    setTrigger(null);
    setItems([]);
    input.current?.focus();
  }

  function close() {
    setTrigger(null);
    setItems([]);
  }

  function onKeyDown(event: JSX.TargetedKeyboardEvent<HTMLTextAreaElement>): boolean {
    input.current = event.currentTarget;
    if (!open || event.isComposing) return false;
    const count = items.length;
    switch (event.key) {
      case "ArrowDown":
        setActive((active + 1) % count);
        break;
      case "ArrowUp":
        setActive((active - 1 + count) % count);
        break;
      case "Enter":
      case "Tab":
        if (event.shiftKey) return false;
        pick(active);
        break;
      case "Escape":
        setDismissedAt(trigger.start);
        break;
      default:
        return false;
    }
    event.preventDefault();
    event.stopPropagation();
    return true;
  }

  const inputProps = {
    "aria-autocomplete": "list" as const,
    "aria-controls": open ? listId : undefined,
    "aria-activedescendant": open ? optionId(active) : undefined,
    // The caret moved without typing (arrows, a click): what it is in now.
    onKeyUp: (event: JSX.TargetedKeyboardEvent<HTMLTextAreaElement>) => {
      if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) look(event.currentTarget);
    },
    onClick: (event: JSX.TargetedMouseEvent<HTMLTextAreaElement>) => look(event.currentTarget),
  };

  const popup = (
    <>
      {open && (
        <ul
          id={listId}
          class="autocomplete"
          role="listbox"
          aria-label={trigger.kind === "mention" ? "People to mention" : "Hashtags"}
        >
          {items.map((item, index) => (
            <li
              key={item.value}
              id={optionId(index)}
              role="option"
              aria-selected={index === active}
              // The text box keeps the focus (and the caret) while the mouse picks.
              onMouseDown={(event) => event.preventDefault()}
              onClick={() => pick(index)}
            >
              <span class="autocomplete-label">{item.label}</span>{" "}
              <span class="autocomplete-detail">{item.detail}</span>
            </li>
          ))}
        </ul>
      )}
      <span class="visually-hidden" role="status">
        {open ? (items.length === 1 ? "1 suggestion" : `${items.length} suggestions`) : ""}
      </span>
    </>
  );

  return { inputProps, onInput: look, onKeyDown, close, popup };
}
