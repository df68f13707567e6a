import { UserManager, WebStorageStateStore, type User, type UserManagerSettings } from "oidc-client-ts";

export interface BrowserSignInOptions {
  /** The Gateway's URL: the issuer (its discovery document is proxied there). */
  gatewayUrl: string | URL;
  /** Where Identity sends the browser back with the code: one of `Identity:Clients:WebRedirectUris`, exactly. */
  redirectUri: string;
  /** One of `Identity:Clients:WebPostLogoutRedirectUris`. */
  postLogoutRedirectUri?: string;
  /** Default `platform-web` (public client, code + PKCE S256, refresh tokens). */
  clientId?: string;
  /** Default `openid profile email offline_access api`. */
  scope?: string;
  /** Where the signed-in user (tokens) is kept; default `localStorage`, so a reload stays signed in. */
  userStore?: Storage;
  /** Anything else oidc-client-ts takes. */
  settings?: Partial<UserManagerSettings>;
}

/**
 * Sign-in for browsers: authorization code + PKCE with oidc-client-ts (a certified OIDC client) against Identity through
 * the Gateway. Tokens are renewed with the refresh token before they expire; hand {@link accessTokenFactory} to
 * `PlatformClient`.
 */
export class BrowserSignIn {
  readonly userManager: UserManager;

  constructor(options: BrowserSignInOptions) {
    const authority = options.gatewayUrl.toString().replace(/\/$/, "");
    this.userManager = new UserManager({
      authority,
      client_id: options.clientId ?? "platform-web",
      redirect_uri: options.redirectUri,
      ...(options.postLogoutRedirectUri ? { post_logout_redirect_uri: options.postLogoutRedirectUri } : {}),
      response_type: "code",
      scope: options.scope ?? "openid profile email offline_access api",
      // Renewal is ours (renew() below, also on the expiring event): one at a time. A refresh token is used once (rolling
      // refresh tokens); two renewals at once would redeem it twice, and Identity then revokes the whole session.
      automaticSilentRenew: false,
      accessTokenExpiringNotificationTimeInSeconds: 60,
      userStore: new WebStorageStateStore({ store: options.userStore ?? window.localStorage }),
      ...options.settings,
    });
    // With a refresh token (offline_access), a silent renew is a token request, no iframe.
    this.userManager.events.addAccessTokenExpiring(() => void this.renew().catch(() => undefined));
  }

  #renewing: Promise<User | null> | null = null;

  /** Renews the tokens with the refresh token; concurrent callers share one renewal. */
  renew(): Promise<User | null> {
    this.#renewing ??= this.userManager.signinSilent().finally(() => {
      this.#renewing = null;
    });
    return this.#renewing;
  }

  /** Sends the browser to the login page; it comes back to `redirectUri`. */
  signIn(state?: unknown): Promise<void> {
    return this.userManager.signinRedirect(state === undefined ? undefined : { state });
  }

  /** On the `redirectUri` page: exchanges the code (PKCE) for tokens. Answers the signed-in user. */
  completeSignIn(url?: string): Promise<User> {
    return this.userManager.signinRedirectCallback(url);
  }

  /** The signed-in user, or null. */
  getUser(): Promise<User | null> {
    return this.userManager.getUser();
  }

  /** Ends the session at Identity and here. */
  async signOut(): Promise<void> {
    await this.userManager.signoutRedirect();
  }

  /** A current access token, renewed with the refresh token when it is about to expire; throws when signed out. */
  accessTokenFactory = async (): Promise<string> => {
    let user = await this.userManager.getUser();
    if (user && (user.expires_in ?? 0) < 60) user = await this.renew();
    if (!user?.access_token) throw new Error("Not signed in: call signIn() first.");
    return user.access_token;
  };
}

export type { User } from "oidc-client-ts";
