import { PlatformClient, WebStorageOutboxStorage, WebStoragePositionStore } from "@platform/client";
import { BrowserSignIn, type User } from "@platform/client/browser";

/** Where the API, the hub and sign-in live: the page's own origin when the Gateway serves the app. */
export const gatewayUrl: string = import.meta.env.VITE_PLATFORM_GATEWAY_URL ?? `${window.location.origin}/`;

export const signIn = new BrowserSignIn({
  gatewayUrl,
  redirectUri: `${window.location.origin}/callback`,
  postLogoutRedirectUri: `${window.location.origin}/`,
});

export interface Session {
  user: User;
  userId: string;
  client: PlatformClient;
}

/**
 * The signed-in user's client. Positions and the outbox live in localStorage under keys of this user, so a reload
 * resumes the stream where the page stopped (nothing handed out twice) and sends what was composed offline.
 */
export function openSession(user: User): Session {
  const userId = user.profile.sub;
  const client = new PlatformClient({
    gatewayUrl,
    accessTokenFactory: signIn.accessTokenFactory,
    positionStore: new WebStoragePositionStore(window.localStorage, `platform.positions.${userId}`),
    outboxStorage: new WebStorageOutboxStorage(window.localStorage, `platform.outbox.${userId}`),
    deviceKind: "web",
  });
  return { user, userId, client };
}

/** Registers an account (anonymous `POST /api/v1/users`); the user then signs in on Identity's login page. */
export async function register(account: { email: string; password: string; displayName: string; inviteToken?: string }): Promise<void> {
  const response = await fetch(new URL("api/v1/users", gatewayUrl), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(account),
  });
  if (!response.ok) {
    const problem = (await response.json().catch(() => ({}))) as { title?: string; detail?: string; errors?: Record<string, string[]> };
    const details = Object.values(problem.errors ?? {}).flat();
    throw new Error(details.length > 0 ? details.join(" ") : (problem.detail ?? problem.title ?? `Registration failed (${response.status}).`));
  }
}
