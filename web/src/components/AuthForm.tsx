import { useState } from "preact/hooks";
import type { JSX } from "preact";
import { ApiError } from "../api/client";
import { logIn, signUp } from "../chat";
import { navigate } from "../router";
import { useStore } from "../store";

interface Props {
  mode: "login" | "signup";
}

/** Log in or sign up; shows why a session ended (`notice`) and what the server refused. */
export function AuthForm({ mode }: Props) {
  const notice = useStore((state) => state.notice);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const signup = mode === "signup";

  async function submit(event: JSX.TargetedEvent<HTMLFormElement>) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (signup) await signUp(username, password, displayName);
      else await logIn(username, password);
    } catch (caught) {
      setError(describe(caught));
    } finally {
      setBusy(false);
    }
  }

  function switchTo(path: string) {
    return (event: Event) => {
      event.preventDefault();
      setError(null);
      navigate(path);
    };
  }

  return (
    <main class="auth">
      <form class="auth-card" onSubmit={submit}>
        <h1>Parley</h1>
        <h2>{signup ? "Create an account" : "Log in"}</h2>
        {notice && !error && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <label>
          Username
          <input
            name="username"
            autoComplete="username"
            required
            value={username}
            onInput={(event) => setUsername(event.currentTarget.value)}
          />
        </label>
        {signup && (
          <label>
            Display name <span class="hint">(optional)</span>
            <input
              name="displayName"
              autoComplete="name"
              value={displayName}
              onInput={(event) => setDisplayName(event.currentTarget.value)}
            />
          </label>
        )}
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete={signup ? "new-password" : "current-password"}
            minLength={signup ? 8 : undefined}
            required
            value={password}
            onInput={(event) => setPassword(event.currentTarget.value)}
          />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          {signup ? "Sign up" : "Log in"}
        </button>
        <p class="switch">
          {signup ? (
            <>
              Have an account?{" "}
              <a href="/login" onClick={switchTo("/login")}>
                Log in
              </a>
            </>
          ) : (
            <>
              New here?{" "}
              <a href="/signup" onClick={switchTo("/signup")}>
                Create an account
              </a>
            </>
          )}
        </p>
      </form>
    </main>
  );
}

function describe(error: unknown): string {
  if (!(error instanceof ApiError)) return "Could not reach the server. Try again.";
  const fields = error.details["errors"];
  if (error.code === "VALIDATION_ERROR" && Array.isArray(fields)) {
    return fields
      .map((item: { field?: string; message?: string }) => `${item.field}: ${item.message}`)
      .join("; ");
  }
  return error.message;
}
