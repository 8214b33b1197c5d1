/**
 * `ablo/source`: the app side of Data Source mode, where the app's own
 * database stays canonical and the engine sends it signed `commit`, `load`,
 * `list` and `events` requests. Loads no engine, SQLite, Postgres driver,
 * ink, React, commander or MCP SDK; `ws` only when a connector dials.
 */
export { dataSource, type SourceHandler } from './handler.js';
export { SourceError, type SourceErrorOptions } from './errors.js';
export { toNodeHandler, type NodeSourceHandler, type NodeSourceRequest } from './node.js';
export { createSourceConnector, type SourceConnector, type SourceConnectorOptions, type WebSocketConstructor } from './connector.js';
export { MemoryCommitDedupe, MEMORY_DEDUPE_ENTRIES, type CommitDedupe } from './dedupe.js';
export { MAX_SOURCE_BODY_BYTES } from './body.js';
export type {
  DataSourceOptions,
  DataSourceBaseOptions,
  SourceContext,
  SourceCommitInput,
  SourceCommitRow,
  SourceEventsInput,
  SourceModelHandlers,
  SourceRowOf,
} from './options.js';
export {
  signAbloSourceRequest,
  verifyAbloSourceRequest,
  generateSigningSecret,
  ReplayGuard,
  SourceSignatureError,
  DEFAULT_TOLERANCE_SECONDS,
  WEBHOOK_ID,
  WEBHOOK_TIMESTAMP,
  WEBHOOK_SIGNATURE,
  type SignatureFailure,
  type SignOptions,
  type VerifyOptions,
  type VerifiedRequest,
  type HeaderSource,
} from './signature.js';
export {
  SOURCE_SUBPROTOCOL,
  SOURCE_CONNECT_PATH,
  MAX_SOURCE_EVENTS,
  MAX_SOURCE_ROWS,
  sourceRequestSchema,
  sourceErrorBodySchema,
  sourceEventsPushSchema,
} from '../protocol/source.js';
export type {
  SourceOperation,
  SourceScope,
  SourceRequest,
  SourceCommitRequest,
  SourceLoadRequest,
  SourceListRequest,
  SourceEventsRequest,
  SourceRow,
  SourceCommitResponse,
  SourceLoadResponse,
  SourceListResponse,
  SourceEvent,
  SourceEventsResponse,
  SourceEventsPush,
  SourceErrorBody,
  ConnectorRequestFrame,
  ConnectorResponseFrame,
  ConnectorReadyFrame,
} from '../protocol/source.js';
