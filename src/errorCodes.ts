/**
 * Every error code Ablo produces, in one table: code → type → HTTP status →
 * message template.
 *
 * - `type` is the error family (the class: `not_found` → `AbloNotFoundError`).
 *   A code has exactly one type, everywhere: engine, SDK, MCP and CLI.
 * - The HTTP status is the type's status (`statusForErrorType`), except where an
 *   entry names its own (`status`): only transport-level answers do.
 * - `message` is the default text (`abloError(code, params)` uses it). It is a
 *   string or a function of the params it names; a throw site that knows more
 *   may pass its own, more specific message to the class instead.
 *
 * The error classes (src/errors.ts) take `code` typed as a key of this table
 * whose `type` is theirs, so an unregistered code, or a code thrown with the
 * wrong class, does not compile. `test/errors.registry.test.ts` scans the
 * sources and the docs' error tables for codes missing here. CLI-only codes
 * (exit codes instead of HTTP statuses) are in cli/errorCodes.ts; the two
 * tables never share a code.
 *
 * This module imports nothing: the CLI loads it on every run.
 */

export type AbloErrorType =
  | 'validation_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found'
  | 'stale_context'
  | 'claimed'
  | 'idempotency_error'
  | 'too_large'
  | 'rate_limit'
  | 'connection_error'
  | 'schema_error'
  | 'server_error';

const STATUS_BY_TYPE: Record<AbloErrorType, number> = {
  validation_error: 400,
  schema_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found: 404,
  stale_context: 409,
  claimed: 409,
  idempotency_error: 409,
  too_large: 413,
  rate_limit: 429,
  connection_error: 503,
  server_error: 500,
};

/** Every error type, in the order of `STATUS_BY_TYPE` (OpenAPI's enum, tests). */
export const ERROR_TYPES = Object.keys(STATUS_BY_TYPE) as readonly AbloErrorType[];

/** HTTP status for an error type. */
export function statusForErrorType(type: AbloErrorType): number {
  return STATUS_BY_TYPE[type];
}

type Model = { model: string };
type Row = { model: string; id: string };

/** One registry entry. `status` only where it differs from the type's. */
export interface ErrorCodeSpec {
  readonly type: AbloErrorType;
  readonly status?: number;
  /** Params are typed per entry (`ERROR_CODES`' own type); `never` accepts any of them here. */
  readonly message: string | ((params: never) => string);
}

export const ERROR_CODES = {
  // ── validation_error · 400 ────────────────────────────────────────────────
  invalid_input: { type: 'validation_error', message: 'Invalid input.' },
  invalid_request: { type: 'validation_error', message: 'The request does not have the shape the protocol expects.' },
  invalid_json: { type: 'validation_error', message: 'Not valid JSON, or nested deeper than the limit.' },
  invalid_field: { type: 'validation_error', message: 'A field holds a value it cannot take.' },
  invalid_type: { type: 'validation_error', message: 'A value has the wrong type.' },
  unknown_field: { type: 'validation_error', message: 'No field has that name.' },
  read_only_field: { type: 'validation_error', message: 'The field is managed by Ablo and cannot be written.' },
  unknown_model: { type: 'validation_error', message: ({ model }: Model) => `Unknown model "${model}".` },
  id_exists: {
    type: 'validation_error',
    message: ({ model, id }: Row) => `A ${model} row with id "${id}" already exists. Use update, or leave the id out to get a new one.`,
  },
  empty_update: { type: 'validation_error', message: ({ model, id }: Row) => `Update of ${model} ${id} has no fields to write.` },
  no_schema: { type: 'validation_error', message: 'The engine has no schema yet. Push one with `ablo push` (or POST /v1/schema).' },
  invalid_query: { type: 'validation_error', message: 'Invalid list query (where, orderBy, limit, startingAfter or after).' },
  invalid_limit: { type: 'validation_error', message: 'limit must be a non-negative number.' },
  invalid_order: { type: 'validation_error', message: 'Sort direction must be "asc" or "desc".' },
  invalid_header: { type: 'validation_error', message: 'A request header holds a value the engine does not accept.' },
  invalid_path: { type: 'validation_error', message: 'Malformed request URL.' },
  malformed_request: { type: 'validation_error', message: 'Malformed HTTP request.' },
  request_timeout: { type: 'validation_error', status: 408, message: 'The request did not arrive in time.' },
  invalid_frame: { type: 'validation_error', message: 'Binary frames are not part of the protocol; send JSON text.' },
  unknown_frame: { type: 'validation_error', message: 'Unknown frame type.' },
  hello_required: { type: 'validation_error', message: 'Send a hello frame first.' },
  duplicate_hello: { type: 'validation_error', message: 'hello was already received on this connection.' },
  invalid_option: { type: 'validation_error', message: 'An option holds a value it cannot take.' },
  mixed_storage_batch: {
    type: 'validation_error',
    message: 'One commit writes rows of a Data Source model and rows the engine stores itself (or of two sources): it could not be atomic across two stores. Split it into one commit per store.',
  },
  source_refused: { type: 'validation_error', message: ({ source }: { source: string }) => `The data source "${source}" refused the commit.` },
  invalid_url: { type: 'validation_error', message: 'The engine URL must start with http:// or https://.' },
  missing_schema: { type: 'validation_error', message: 'Ablo() needs a schema: Ablo({ schema, apiKey, baseURL }).' },
  reserved_model_name: { type: 'validation_error', message: 'A model has the same name as a client method; rename the model.' },
  missing_provider: { type: 'validation_error', message: 'useAblo* hooks need an <AbloProvider client={ablo}> above the component.' },
  missing_presence_group: {
    type: 'validation_error',
    message: 'usePresence() needs a group: usePresence(group), or a <SyncGroupProvider groups={[...]}> above the component.',
  },
  invalid_arguments: { type: 'validation_error', message: 'The tool arguments do not match its input schema.' },
  unknown_identity_role: {
    type: 'validation_error',
    message: 'A sync group written @role names no identity role of the schema (defineSchema({ models, identityRoles })).',
  },
  sync_groups_required: {
    type: 'validation_error',
    message: 'Pass syncGroups: the schema declares no identityRoles to give this participant its groups.',
  },
  invalid_participant: { type: 'validation_error', message: 'A participant looks like kind:id with kind one of user, agent, system.' },
  invalid_token_budget: { type: 'validation_error', message: 'The token budget is too small.' },
  claim_ticket_mismatch: { type: 'validation_error', message: 'This ticket keeps a place in line for another row: resume it with that row’s claim.' },
  invalid_cursor: { type: 'validation_error', message: 'The cursor is not one a list call returned.' },
  cursor_mismatch: { type: 'validation_error', message: 'where or orderBy differs from the query this cursor continues.' },
  cursor_row_deleted: { type: 'validation_error', message: 'The row this cursor continues after was deleted.' },
  method_not_allowed: { type: 'validation_error', message: '/mcp takes POST, GET and DELETE.' },
  mcp_session_required: { type: 'validation_error', message: 'Start an MCP session with an initialize request first.' },
  presence_too_many_keys: {
    type: 'validation_error',
    message: ({ maxKeys }: { maxKeys: number }) => `A presence state may have at most ${maxKeys} top-level keys on this engine.`,
  },

  // ── schema_error · 400 ────────────────────────────────────────────────────
  invalid_schema: { type: 'schema_error', message: 'The schema cannot be used.' },
  invalid_model: { type: 'schema_error', message: 'A model must be created with model({...}).' },
  invalid_name: { type: 'schema_error', message: 'A model, field or relation name is not a valid identifier.' },
  duplicate_name: { type: 'schema_error', message: 'Two names differ only in case, or a relation has the name of a field.' },
  reserved_name: { type: 'schema_error', message: 'The name is managed by Ablo on every row.' },
  invalid_relation: { type: 'schema_error', message: 'A relation points at a model or foreign key that does not fit.' },
  invalid_sync_group: { type: 'schema_error', message: 'A sync group format is not valid.' },
  invalid_id_prefix: { type: 'schema_error', message: 'idPrefix must be lower-case letters and digits, starting with a letter (at most 24).' },
  unsupported_type: { type: 'schema_error', message: 'A field has a Zod type Ablo does not support.' },
  invalid_schema_json: { type: 'schema_error', message: 'Schema JSON does not parse or is not a valid Ablo schema.' },
  unsupported_format_version: { type: 'schema_error', message: 'This version of ablo does not read that schema format version. Upgrade ablo.' },
  hash_mismatch: { type: 'schema_error', message: 'Schema JSON hash does not match its content; it was edited by hand or truncated. Regenerate it.' },
  invalid_rename: { type: 'schema_error', message: 'A rename names a model or field that does not exist on its side.' },
  plan_failed: { type: 'schema_error', message: 'Could not plan the schema change.' },
  schema_mismatch: { type: 'schema_error', message: "This client's schema differs from the one the engine runs." },

  // ── authentication_error · 401 ────────────────────────────────────────────
  invalid_api_key: { type: 'authentication_error', message: 'Missing or invalid API key.' },
  missing_api_key: { type: 'authentication_error', message: 'No API key. Send `Authorization: Bearer sk_test_…` (the key `ablo dev` printed, or ABLO_API_KEY).' },
  malformed_api_key: { type: 'authentication_error', message: 'API keys look like sk_test_, sk_live_, rk_test_ or rk_live_ followed by 32 letters and digits.' },
  revoked_api_key: { type: 'authentication_error', message: 'The API key was revoked. Create a new one with `ablo keys create`.' },
  invalid_token: { type: 'authentication_error', message: 'Unknown or invalid session token.' },
  revoked_token: { type: 'authentication_error', message: 'The session token was revoked.' },
  credential_expired: { type: 'authentication_error', message: 'This credential expired. Get a new one.' },
  token_expired: { type: 'authentication_error', message: 'This session token expired. Get a new one (refresh) and reconnect.' },
  unauthorized: { type: 'authentication_error', message: 'This session token is not valid for this engine (tampered, or signed with a key it does not know).' },
  authentication_failed: { type: 'authentication_error', message: 'The engine refused this API key and closed the connection. Use a valid key.' },
  invalid_signature: { type: 'authentication_error', message: 'The Data Source request signature is missing, expired, replayed or does not match (Standard Webhooks v1).' },
  token_fetch_failed: { type: 'authentication_error', message: "The client's fetchToken() failed or did not resolve to a token string." },

  // ── permission_error · 403 ────────────────────────────────────────────────
  source_forbidden: { type: 'permission_error', message: ({ source }: { source: string }) => `The data source "${source}" does not allow this writer to make this change.` },
  forbidden: { type: 'permission_error', message: 'This credential may not do that.' },
  operation_not_allowed: { type: 'permission_error', message: 'This credential may not do that operation.' },
  group_not_allowed: { type: 'permission_error', message: 'This credential may not use that sync group.' },
  participant_not_allowed: { type: 'permission_error', message: 'This credential may not act as that participant.' },
  secret_key_required: { type: 'permission_error', message: 'Only a secret key (sk_…) may do that. Use the server-side secret key.' },
  participant_mismatch: {
    type: 'permission_error',
    message: "The token in an `auth` frame is for another participant than the connection's; the connection keeps its credential. Reconnect to change participant.",
  },
  scope_narrowed: {
    type: 'permission_error',
    message: "The token in an `auth` frame does not cover the connection's sync groups (or lacks `read`); the connection closes (4008) so the client says hello again with it.",
  },
  scope_exceeds_credential: {
    type: 'permission_error',
    message: 'A key made or revoked by a restricted key must be a restricted key within its own sync groups and operations.',
  },
  not_claim_owner: { type: 'permission_error', message: 'Only the owner of a claim can release or renew it.' },
  mcp_session_key_mismatch: { type: 'permission_error', message: 'This MCP session was opened with another API key.' },
  presence_group_not_received: {
    type: 'permission_error',
    message: ({ group }: { group: string }) =>
      `This connection does not receive the sync group "${group}": presence is set in an exact group the connection syncs (its hello groups, or setSyncGroups).`,
  },
  origin_not_allowed: {
    type: 'permission_error',
    message: 'This browser origin may not call the engine. Add it to the engine\'s CORS origins (cors.origins in ablo.config.json, --cors-origin for ablo start, createEngine({ cors })).',
  },

  // ── not_found · 404 ───────────────────────────────────────────────────────
  source_not_found: { type: 'not_found', message: ({ name }: { name: string }) => `No data source named "${name}" is configured on this engine.` },
  not_found: { type: 'not_found', message: 'Not found.' },
  row_not_found: { type: 'not_found', message: ({ model, id }: Row) => `No ${model} row with id "${id}".` },
  route_not_found: { type: 'not_found', message: ({ method, path }: { method: string; path: string }) => `No route ${method} ${path}.` },
  not_supported: { type: 'not_found', message: 'This Data Source handles no such request (no handler for it).' },
  claim_not_found: { type: 'not_found', message: 'No active claim: it was released or its lease expired.' },
  claim_not_granted: { type: 'not_found', message: 'The claim is still waiting in line; there is no lease to renew yet.' },
  claim_ticket_not_found: { type: 'not_found', message: 'No claim request with this ticket is waiting.' },
  session_not_found: { type: 'not_found', message: ({ id }: { id: string }) => `No session with id "${id}".` },
  sessions_unavailable: { type: 'not_found', message: 'This engine runs with its own authenticator: it mints no session tokens (createEngine without `authenticator` does).' },
  key_not_found: { type: 'not_found', message: ({ id }: { id: string }) => `No API key with id "${id}". List the keys with \`ablo keys list\` (GET /v1/keys).` },
  unknown_tool: { type: 'not_found', message: ({ name }: { name: string }) => `No tool "${name}".` },
  mcp_session_not_found: { type: 'not_found', message: 'No such MCP session (it ended or the engine restarted). Start a new one with an initialize request.' },

  // ── stale_context · 409 ───────────────────────────────────────────────────
  stale_context: { type: 'stale_context', message: 'The row changed after readAt. Re-read and retry.' },

  // ── claimed · 409 ─────────────────────────────────────────────────────────
  row_claimed: { type: 'claimed', message: 'The row is claimed by another participant.' },
  queue_full: { type: 'claimed', message: 'The line for this row is full.' },
  claim_wait_timeout: { type: 'claimed', message: 'The row is still claimed; gave up waiting.' },
  claim_expired: { type: 'claimed', message: 'The claim expired before it was granted or resumed.' },
  claim_cancelled: { type: 'claimed', message: 'The claim request was withdrawn before it was granted.' },

  // ── idempotency_error · 409 ───────────────────────────────────────────────
  idempotency_key_reused: { type: 'idempotency_error', message: 'The idempotency key was already used for a different request. Use a new key for a new request.' },
  idempotency_expired: {
    type: 'idempotency_error',
    message: ({ ageMs, windowMs }: { ageMs: number; windowMs: number }) =>
      `This transaction was made ${Math.round(ageMs / 1000)} s ago, past the engine's idempotency window (${Math.round(windowMs / 1000)} s): a resend can no longer be told from a new write, so it was not applied. Make it again as a new write if it is still wanted.`,
  },

  // ── too_large · 413 ───────────────────────────────────────────────────────
  payload_too_large: { type: 'too_large', message: 'The request body is over the limit. Split the write into smaller commits.' },
  presence_state_too_large: {
    type: 'too_large',
    message: ({ maxStateBytes }: { maxStateBytes: number }) => `A presence state may take at most ${maxStateBytes} bytes as JSON on this engine. Keep presence small (a cursor, a focused row).`,
  },
  headers_too_large: {
    type: 'too_large',
    status: 431,
    message: 'The request line and headers are over the 16 KB limit. Shorten the URL (fewer `where` values per request) or the headers.',
  },

  // ── rate_limit · 429 ──────────────────────────────────────────────────────
  rate_limited: { type: 'rate_limit', message: 'Too many requests. Wait a moment and try again.' },
  presence_full: {
    type: 'rate_limit',
    message: ({ group, maxMembersPerGroup }: { group: string; maxMembersPerGroup: number }) =>
      `The sync group "${group}" already has ${maxMembersPerGroup} presence members, the most this engine keeps per group.`,
  },
  mcp_session_limit: { type: 'rate_limit', message: 'Too many MCP sessions are open. End one you no longer use.' },

  // ── connection_error · 503 ────────────────────────────────────────────────
  source_unavailable: {
    type: 'connection_error',
    message: ({ source }: { source: string }) => `The data source "${source}" did not answer (timed out, unreachable, or a 5xx): nothing was applied. Retry later.`,
  },
  connection_failed: { type: 'connection_error', message: 'The connection to the engine failed.' },
  unreachable: { type: 'connection_error', message: 'Cannot reach the Ablo engine — is it running (npx ablo dev)?' },
  not_an_engine: { type: 'connection_error', message: 'The server at this URL is not an Ablo engine.' },
  bad_response: { type: 'connection_error', message: "The engine's answer does not match this client's protocol." },
  unsupported_protocol: { type: 'connection_error', message: "The engine refused this client's sync protocol version." },
  cancelled: { type: 'connection_error', message: 'The request was cancelled.' },
  disposed: { type: 'connection_error', message: 'This client was disposed.' },
  no_websocket: { type: 'connection_error', message: 'No WebSocket implementation available.' },
  connection_closed: { type: 'connection_error', message: 'The connection that asked for this claim closed.' },
  claim_aborted: { type: 'connection_error', message: 'The claim request was aborted.' },
  claim_interrupted: { type: 'connection_error', message: 'The connection dropped while this claim request was in flight; the engine dropped it. Claim again.' },
  session_closed: { type: 'connection_error', message: 'This MCP session closed.' },
  draining: { type: 'connection_error', message: 'The engine is draining (shutting down) and takes no new requests: send this to another engine.' },

  // ── server_error · 500 ────────────────────────────────────────────────────
  source_bad_response: {
    type: 'server_error',
    status: 502,
    message: ({ source }: { source: string }) => `The data source "${source}" answered with something the engine cannot use (see details); nothing was applied.`,
  },
  internal_error: { type: 'server_error', message: 'Internal server error.' },
  source_row_invalid: { type: 'server_error', message: "The Data Source returned a row that does not match the schema (a bug in the app's handler)." },
  source_failed: { type: 'server_error', message: "The Data Source's handler failed." },
  shutting_down: { type: 'server_error', message: 'The engine is shutting down.' },
  storage_error: { type: 'server_error', message: 'The storage failed.' },
  storage_closed: { type: 'server_error', message: 'The storage is not open: call open() first (or it was closed).' },
  transaction_ended: { type: 'server_error', message: 'This storage transaction has already ended.' },
  nested_transaction: { type: 'server_error', message: 'transaction() was called inside a transaction; use tx.savepoint() for a nested unit.' },
  savepoint_misuse: { type: 'server_error', message: 'A savepoint was used after it ended or while another was running.' },
  sqlite_native_module: { type: 'server_error', message: "better-sqlite3's native module cannot be loaded for this Node version." },
  database_locked: { type: 'server_error', message: 'Another Ablo engine has the database open. Only one engine may use a database file at a time.' },
  disk_full: { type: 'server_error', message: 'No space left on the device.' },
  schema_apply_failed: { type: 'server_error', message: 'Could not apply the schema change. Nothing was changed.' },
  schema_needs_confirmation: { type: 'server_error', message: 'The schema change needs confirmation. Pass allowDestructive: true to apply it.' },
  address_in_use: { type: 'server_error', message: 'The port is already in use. Stop the other process or pick another port.' },
  mcp_session_closed: { type: 'server_error', message: 'The MCP session was closed before it started (the engine is shutting down or the key was revoked).' },
} as const satisfies Record<string, ErrorCodeSpec>;

type Codes = typeof ERROR_CODES;

/** Every registered error code. */
export type AbloErrorCode = keyof Codes;

/** The registered codes of one error type (what an error class accepts). */
export type AbloErrorCodeOf<T extends AbloErrorType> = { [C in AbloErrorCode]: Codes[C]['type'] extends T ? C : never }[AbloErrorCode];

/** The type of a code. */
export type AbloErrorTypeOf<C extends AbloErrorCode> = Codes[C]['type'];

/** The params a code's message template takes (`{}` for a fixed message). */
export type AbloErrorParams<C extends AbloErrorCode> = Codes[C]['message'] extends (params: infer P) => string ? P : {};

/** Is `code` registered? (Codes from the wire may come from a newer engine.) */
export function isErrorCode(code: unknown): code is AbloErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/** HTTP status of a code: its own if the entry names one, else its type's. */
export function statusForErrorCode(code: AbloErrorCode): number {
  const spec: ErrorCodeSpec = ERROR_CODES[code];
  return spec.status ?? STATUS_BY_TYPE[spec.type];
}

/** The default message of a code, its template filled with `params`. */
export function errorMessage<C extends AbloErrorCode>(code: C, params?: AbloErrorParams<C>): string {
  const m = ERROR_CODES[code].message as string | ((params: object) => string);
  return typeof m === 'function' ? m(params ?? {}) : m;
}
