export { type AccessTokenFactory, PasswordTokenSource, type PasswordSignInOptions } from "./auth.js";
export { backoffDelay } from "./backoff.js";
export { PlatformClient, type PlatformClientOptions, type PlatformPaths, type SearchMessagesQuery, type SendMessageOptions, type UploadOptions } from "./client.js";
export { isTransient, parseRetryAfter, PlatformError, type ProblemDetails } from "./errors.js";
export * from "./handwritten.js";
export type * from "./models.js";
export {
  MemoryOutboxStorage, Outbox, type OutboxEntry, type OutboxOptions, type OutboxStorage, WebStorageOutboxStorage,
} from "./outbox.js";
export { type KeyValueStorage, MemoryPositionStore, type PositionStore, WebStoragePositionStore } from "./positions.js";
export { RealtimeStream, type RealtimeEventMap, type RealtimeStreamOptions } from "./realtime.js";
export { type Sequenced, Sequencer } from "./sequencer.js";
