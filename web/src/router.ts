// Client-side routes, on the History API. The server answers index.html for exactly these
// paths (parley/web/routes.py, CLIENT_ROUTES): keep the two lists the same.
import { useEffect, useMemo, useState } from "preact/hooks";

export type Route =
  | { name: "home" }
  | { name: "login" }
  | { name: "signup" }
  | { name: "conversation"; conversationId: string };

export function parseRoute(path: string): Route {
  if (path === "/login") return { name: "login" };
  if (path === "/signup") return { name: "signup" };
  const match = /^\/c\/([0-9a-fA-F-]{36})$/.exec(path);
  if (match) return { name: "conversation", conversationId: match[1]!.toLowerCase() };
  return { name: "home" };
}

const listeners = new Set<() => void>();

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === location.pathname) return;
  if (options.replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  for (const listener of listeners) listener();
}

export function useRoute(): Route {
  const [path, setPath] = useState(() => location.pathname);
  useEffect(() => {
    const listener = () => setPath(location.pathname);
    listeners.add(listener);
    window.addEventListener("popstate", listener);
    // A navigation between this render and this effect (which runs after the browser
    // paints) called no listener: read the path now (the same path renders nothing anew).
    listener();
    return () => {
      listeners.delete(listener);
      window.removeEventListener("popstate", listener);
    };
  }, []);
  return useMemo(() => parseRoute(path), [path]);
}
