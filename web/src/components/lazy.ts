import type { ComponentType } from "preact";
import { useState } from "preact/hooks";

/** A component loaded on first use (a dynamic import: not part of the first page's load).
 * `open()` loads it; null until it has arrived. */
export function useLazy<P>(
  load: () => Promise<{ default: ComponentType<P> }>,
): [ComponentType<P> | null, () => Promise<void>] {
  const [component, setComponent] = useState<ComponentType<P> | null>(null);
  async function open() {
    const loaded = (await load()).default;
    setComponent(() => loaded);
  }
  return [component, open];
}
