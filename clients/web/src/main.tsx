import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { ChatStore } from "./chat";
import { openSession, signIn } from "./session";
import { SignInScreen } from "./SignInScreen";
import "./styles.css";
import { errorText } from "./format";

type Boot = { kind: "loading" } | { kind: "signed-out"; error?: string } | { kind: "ready"; store: ChatStore; name: string };

// Once per page load, outside React's effects (which development mode runs twice): a code is exchanged only once.
const booting: Promise<Boot> = (async (): Promise<Boot> => {
  try {
    if (window.location.pathname === "/callback") {
      // Back from Identity's login page with the code: exchange it (PKCE), then leave the callback URL. A callback
      // visited again (history, a reload) has nothing to exchange: the stored user, if any, still counts.
      let target = "/";
      try {
        const user = await signIn.completeSignIn();
        if (typeof user.state === "string" && user.state.startsWith("/") && !user.state.startsWith("//")) target = user.state;
      } catch (error) {
        if (!(await signIn.getUser())) throw error;
      }
      window.history.replaceState(null, "", target);
    }
    const user = await signIn.getUser();
    if (!user || (user.expired && !user.refresh_token)) return { kind: "signed-out" };
    const session = openSession(user);
    const store = new ChatStore(session.client, session.userId);
    void store.start().catch(() => undefined);
    return { kind: "ready", store, name: String(user.profile.name ?? user.profile.preferred_username ?? "") };
  } catch (error) {
    if (window.location.pathname === "/callback") window.history.replaceState(null, "", "/");
    return { kind: "signed-out", error: errorText(error) };
  }
})();

function Root() {
  const [boot, setBoot] = useState<Boot>({ kind: "loading" });
  useEffect(() => {
    void booting.then(setBoot);
  }, []);

  if (boot.kind === "loading") return <p className="centered" role="status">Loading…</p>;
  if (boot.kind === "signed-out") return <SignInScreen error={boot.error} />;
  return <App store={boot.store} name={boot.name} />;
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
