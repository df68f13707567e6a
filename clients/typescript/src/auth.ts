import { PlatformError } from "./errors.js";

/** Gives a current access token; the SDK calls it before each request and each hub (re)connect. */
export type AccessTokenFactory = () => string | Promise<string>;

export interface PasswordSignInOptions {
  /** The Gateway's URL, e.g. `https://chat.example.com/`. */
  gatewayUrl: string | URL;
  username: string;
  password: string;
  /**
   * For an account with two-factor sign-in on: gives the authenticator's current code (or a recovery code) each time the
   * SDK signs in with the password (the password grant's `otp` parameter).
   */
  twoFactorCode?: () => string | Promise<string>;
  /** The OAuth client of the password grant (default `platform-cli`). */
  clientId?: string;
  /** Default `openid profile email offline_access api`. */
  scope?: string;
  /** Default the Gateway's `/connect/token`. */
  tokenEndpoint?: string | URL;
  /** Refresh this long before the access token expires, in seconds (default 60). */
  refreshMarginSeconds?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  expires_in?: number;
  token_type?: string;
}

/**
 * Keeps a valid access token for scripts and Node: signs in with the password grant of `platform-cli`, refreshes with
 * the refresh token before expiry (refresh tokens rotate), and signs in again if the refresh token was refused.
 * Concurrent callers share one request.
 */
export class PasswordTokenSource {
  #accessToken: string | undefined;
  #refreshToken: string | undefined;
  #expiresAt = 0;
  #pending: Promise<string> | undefined;

  constructor(private readonly options: PasswordSignInOptions) {}

  /** A current access token (signing in or refreshing as needed). */
  getAccessToken = (): Promise<string> => {
    const margin = (this.options.refreshMarginSeconds ?? 60) * 1000;
    if (this.#accessToken && this.#now() < this.#expiresAt - margin) return Promise.resolve(this.#accessToken);
    this.#pending ??= this.#renew().finally(() => (this.#pending = undefined));
    return this.#pending;
  };

  /** When the current access token expires (ms since the epoch), 0 before the first sign-in. */
  get expiresAt(): number {
    return this.#expiresAt;
  }

  async #renew(): Promise<string> {
    let response: TokenResponse | undefined;
    if (this.#refreshToken) {
      try {
        response = await this.#request({ grant_type: "refresh_token", refresh_token: this.#refreshToken });
      } catch (error) {
        // A refused refresh token (revoked, expired, already used): sign in again. Anything else is the caller's to see.
        if (!(error instanceof PlatformError) || error.status >= 500) throw error;
        this.#refreshToken = undefined;
      }
    }
    response ??= await this.#request({
      grant_type: "password",
      username: this.options.username,
      password: this.options.password,
      scope: this.options.scope ?? "openid profile email offline_access api",
      ...(this.options.twoFactorCode ? { otp: await this.options.twoFactorCode() } : {}),
    });
    this.#accessToken = response.access_token;
    this.#refreshToken = response.refresh_token ?? this.#refreshToken;
    this.#expiresAt = this.#now() + (response.expires_in ?? 3600) * 1000;
    return this.#accessToken;
  }

  async #request(form: Record<string, string>): Promise<TokenResponse> {
    const endpoint = this.options.tokenEndpoint ?? new URL("connect/token", withSlash(this.options.gatewayUrl));
    const response = await (this.options.fetch ?? fetch)(endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({ client_id: this.options.clientId ?? "platform-cli", ...form }),
    });
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      // Not JSON: the status says enough.
    }
    if (!response.ok || typeof body.access_token !== "string") {
      // OAuth errors are { error, error_description }, not problem details.
      const error = typeof body.error === "string" ? body.error : response.statusText || "Sign-in failed";
      const description = typeof body.error_description === "string" ? body.error_description : undefined;
      throw PlatformError.from(response.ok ? 401 : response.status, error, response.headers.get("retry-after"), { title: error, ...(description ? { detail: description } : {}) });
    }
    return body as unknown as TokenResponse;
  }

  #now(): number {
    return (this.options.now ?? Date.now)();
  }
}

export function withSlash(url: string | URL): string {
  const text = url.toString();
  return text.endsWith("/") ? text : `${text}/`;
}
