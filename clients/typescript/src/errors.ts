/** An RFC 9457 problem details body as the Platform answers errors (extra members such as `traceId` or `errors` kept). */
export interface ProblemDetails {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  instance?: string;
  traceId?: string;
  /** Validation problems: field name → messages. */
  errors?: Record<string, string[]>;
  [extension: string]: unknown;
}

/** The Platform refused a request: the problem details' status, title and detail, and when to come back (429, 503). */
export class PlatformError extends Error {
  override readonly name = "PlatformError";

  constructor(
    /** The HTTP status. */
    readonly status: number,
    /** The problem's title. */
    readonly title: string,
    /** The problem's detail. */
    readonly detail?: string,
    /** Seconds to wait before trying again, from `Retry-After` (seconds or an HTTP date). */
    readonly retryAfter?: number,
    /** The whole problem details body, when there was one. */
    readonly problem?: ProblemDetails,
  ) {
    super(`${status} ${title}${detail ? `: ${detail}` : ""}`);
  }

  /** Built from a failed response: its problem details when the body is one, its status text otherwise. */
  static async fromResponse(response: Response): Promise<PlatformError> {
    let problem: ProblemDetails | undefined;
    const text = await response.text().catch(() => "");
    if (text) {
      try {
        const parsed: unknown = JSON.parse(text);
        if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) problem = parsed as ProblemDetails;
      } catch {
        // Not JSON (a proxy's HTML page): status and status text still say what happened.
      }
    }
    return PlatformError.from(response.status, response.statusText, response.headers.get("retry-after"), problem);
  }

  static from(status: number, statusText: string, retryAfterHeader: string | null, problem: ProblemDetails | undefined): PlatformError {
    return new PlatformError(
      status,
      typeof problem?.title === "string" ? problem.title : statusText || "Error",
      typeof problem?.detail === "string" ? problem.detail : undefined,
      parseRetryAfter(retryAfterHeader),
      problem,
    );
  }
}

/** `Retry-After` as seconds: either delta-seconds or an HTTP date. */
export function parseRetryAfter(header: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

/** Worth retrying with the same request: the network failed, or the server said so (408, 429, 5xx). */
export function isTransient(error: unknown): boolean {
  if (error instanceof PlatformError) return error.status === 408 || error.status === 429 || error.status >= 500;
  if (error instanceof Error && error.name === "AbortError") return false;
  // fetch rejects with a TypeError when the request never got an answer (offline, refused, reset).
  return error instanceof TypeError;
}
