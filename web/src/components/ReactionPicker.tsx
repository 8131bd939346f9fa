import { useLayoutEffect, useRef } from "preact/hooks";
import type { JSX } from "preact";

/** The common emoji the picker offers. */
export const COMMON_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀"];

interface Props {
  onPick: (emoji: string) => void;
  onClose: () => void;
}

/** A row of emoji buttons: focus starts on the first, arrow keys move, Escape closes. */
export function ReactionPicker({ onPick, onClose }: Props) {
  const row = useRef<HTMLDivElement>(null);

  useLayoutEffect(() => {
    row.current?.querySelector("button")?.focus();
  }, []);

  function onKeyDown(event: JSX.TargetedKeyboardEvent<HTMLDivElement>) {
    const buttons = Array.from(row.current?.querySelectorAll("button") ?? []);
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    const moves: Record<string, number> = {
      ArrowRight: at + 1,
      ArrowDown: at + 1,
      ArrowLeft: at - 1,
      ArrowUp: at - 1,
      Home: 0,
      End: buttons.length - 1,
    };
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      onClose();
    } else if (event.key in moves) {
      event.preventDefault();
      const next = (moves[event.key]! + buttons.length) % buttons.length;
      buttons[next]?.focus();
    }
  }

  return (
    <div
      class="reaction-picker"
      role="group"
      aria-label="Pick a reaction"
      ref={row}
      onKeyDown={onKeyDown}
      onFocusOut={(event) => {
        // Closed when focus leaves it (a click elsewhere, Tab past the end).
        const next = event.relatedTarget as Node | null;
        if (next !== null && !row.current?.contains(next)) onClose();
      }}
    >
      {COMMON_EMOJI.map((emoji) => (
        <button
          type="button"
          key={emoji}
          aria-label={`React with ${emoji}`}
          onClick={() => onPick(emoji)}
        >
          {emoji}
        </button>
      ))}
    </div>
  );
}
