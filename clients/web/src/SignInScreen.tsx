import { type FormEvent, useState } from "react";
import { register, signIn } from "./session";
import { errorText } from "./format";

/** The token of an invite link (`/invite?invite=...`, as invite emails and texts link to it), if this page is one. */
function inviteToken(): string | undefined {
  if (window.location.pathname !== "/invite") return undefined;
  const token = new URLSearchParams(window.location.search).get("invite");
  return token && /^[A-Za-z0-9_-]{8,256}$/.test(token) ? token : undefined;
}

/**
 * Signed out: sign in on Identity's login page (code + PKCE), or create an account first. An invite link opens the
 * account form with the invite, so the new account and its inviter become contacts.
 */
export function SignInScreen({ error }: { error?: string | undefined }) {
  const [invite] = useState(inviteToken);
  const [creating, setCreating] = useState(invite !== undefined);
  const [message, setMessage] = useState<string | undefined>(error ?? (invite ? "You were invited. Create your account to start chatting." : undefined));
  const [busy, setBusy] = useState(false);

  const start = () => {
    setBusy(true);
    const path = window.location.pathname;
    signIn.signIn(path === "/callback" || path === "/invite" ? "/" : path).catch((e: unknown) => {
      setBusy(false);
      setMessage(errorText(e));
    });
  };

  const create = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    try {
      await register({
        displayName: String(form.get("displayName")), email: String(form.get("email")), password: String(form.get("password")),
        ...(invite ? { inviteToken: invite } : {}),
      });
      setMessage("Account created. Sign in with your email and password.");
      setCreating(false);
    } catch (e) {
      setMessage(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="sign-in">
      <h1>Platform chat</h1>
      {message && <p role="alert" className="notice">{message}</p>}
      {!creating ? (
        <>
          <button type="button" className="primary" onClick={start} disabled={busy}>Sign in</button>
          <p>
            New here?{" "}
            <button type="button" className="link" onClick={() => setCreating(true)}>Create an account</button>
          </p>
        </>
      ) : (
        <form onSubmit={create} aria-label="Create an account">
          <label htmlFor="displayName">Display name</label>
          <input id="displayName" name="displayName" required maxLength={100} autoComplete="name" />
          <label htmlFor="email">Email</label>
          <input id="email" name="email" type="email" required autoComplete="email" />
          <label htmlFor="password">Password</label>
          <input id="password" name="password" type="password" required minLength={8} autoComplete="new-password" />
          <button type="submit" className="primary" disabled={busy}>Create account</button>
          <button type="button" className="link" onClick={() => setCreating(false)}>Back to sign in</button>
        </form>
      )}
    </main>
  );
}
