import { useEffect } from "preact/hooks";
import { navigate, useRoute } from "../router";
import { useStore } from "../store";
import { AuthForm } from "./AuthForm";
import { ChatLayout } from "./ChatLayout";

/** Picks the screen: the auth forms without a session, the chat with one. */
export function App() {
  const route = useRoute();
  const signedIn = useStore((state) => state.session !== null);
  const onAuthScreen = route.name === "login" || route.name === "signup";

  useEffect(() => {
    if (!signedIn && !onAuthScreen) navigate("/login", { replace: true });
    if (signedIn && onAuthScreen) navigate("/", { replace: true });
  }, [signedIn, onAuthScreen]);

  if (!signedIn) return <AuthForm mode={route.name === "signup" ? "signup" : "login"} />;
  return (
    <ChatLayout conversationId={route.name === "conversation" ? route.conversationId : null} />
  );
}
