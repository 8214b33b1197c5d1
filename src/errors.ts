/**
 * Typed errors shared by the SDK, the engine, the CLI and the MCP server.
 *
 * Every error carries a stable `type` (the class family, survives JSON and
 * `postMessage`) and a `code` (the precise reason). Codes live in one registry,
 * src/errorCodes.ts (code → type → HTTP status → message template): each class
 * takes only the registered codes of its own type, checked when it compiles;
 * `abloError(code, params)` builds the right class with the registry's message.
 * The HTTP envelope is `{ error: { type, code, message, ...details } }`;
 * `errorFromEnvelope` rebuilds the right class on the other side.
 */
import {
  ERROR_CODES,
  errorMessage,
  isErrorCode,
  statusForErrorCode,
  statusForErrorType,
  type AbloErrorCode,
  type AbloErrorCodeOf,
  type AbloErrorParams,
  type AbloErrorType,
  type AbloErrorTypeOf,
} from './errorCodes.js';

export { ERROR_CODES, ERROR_TYPES, errorMessage, isErrorCode, statusForErrorCode, statusForErrorType } from './errorCodes.js';
export type { AbloErrorCode, AbloErrorCodeOf, AbloErrorParams, AbloErrorType, AbloErrorTypeOf, ErrorCodeSpec } from './errorCodes.js';

export interface AbloErrorDetails {
  [key: string]: unknown;
}

/** What an error class takes after its message: a registered `code` of its type, and details. */
export type AbloErrorOptions<T extends AbloErrorType> = { code?: AbloErrorCodeOf<T> } & AbloErrorDetails;

/** `type` and a `code` of that type, as one argument list (the base constructor's). */
type TypedCode = { [T in AbloErrorType]: [type: T, code: AbloErrorCodeOf<T>, message: string, details?: AbloErrorDetails] }[AbloErrorType];

export class AbloError extends Error {
  readonly type: AbloErrorType;
  /** A code of the registry (src/errorCodes.ts). One rebuilt from the wire may come from a newer engine. */
  readonly code: AbloErrorCode;
  readonly details: AbloErrorDetails;

  constructor(...[type, code, message, details = {}]: TypedCode) {
    super(message);
    this.name = 'AbloError';
    this.type = type;
    this.code = code;
    this.details = details;
  }

  /** HTTP status this error maps to: its code's (src/errorCodes.ts), else its type's. */
  get status(): number {
    return isErrorCode(this.code) && ERROR_CODES[this.code].type === this.type ? statusForErrorCode(this.code) : statusForErrorType(this.type);
  }

  toJSON(): { type: AbloErrorType; code: AbloErrorCode; message: string } & AbloErrorDetails {
    return { ...this.details, type: this.type, code: this.code, message: this.message };
  }
}

export interface FieldIssue {
  /** Dotted path inside the row, e.g. `title` or `meta.tags.0`. */
  field: string;
  /** Why: a registered code such as `unknown_field` or `read_only_field`, or the Zod issue code. */
  code: string;
  message: string;
}

export class AbloValidationError extends AbloError {
  declare readonly type: 'validation_error';
  declare readonly code: AbloErrorCodeOf<'validation_error'>;
  readonly model?: string;
  readonly field?: string;
  readonly issues: FieldIssue[];
  constructor(message: string, details: { model?: string; field?: string; issues?: FieldIssue[] } & AbloErrorOptions<'validation_error'> = {}) {
    const { code = 'invalid_input', ...rest } = details;
    super('validation_error', code, message, rest);
    this.name = 'AbloValidationError';
    this.model = details.model;
    this.field = details.field ?? details.issues?.[0]?.field;
    this.issues = details.issues ?? [];
  }
}

/** A schema definition that cannot be used: unsupported Zod construct, bad name, broken relation. */
export class AbloSchemaError extends AbloError {
  declare readonly type: 'schema_error';
  declare readonly code: AbloErrorCodeOf<'schema_error'>;
  readonly model?: string;
  readonly field?: string;
  constructor(message: string, details: { model?: string; field?: string } & AbloErrorOptions<'schema_error'> = {}) {
    const { code = 'invalid_schema', ...rest } = details;
    super('schema_error', code, message, rest);
    this.name = 'AbloSchemaError';
    this.model = details.model;
    this.field = details.field;
  }
}

export class AbloAuthenticationError extends AbloError {
  declare readonly type: 'authentication_error';
  declare readonly code: AbloErrorCodeOf<'authentication_error'>;
  constructor(message = errorMessage('invalid_api_key'), details: AbloErrorOptions<'authentication_error'> = {}) {
    const { code = 'invalid_api_key', ...rest } = details;
    super('authentication_error', code, message, rest);
    this.name = 'AbloAuthenticationError';
  }
}

export class AbloPermissionError extends AbloError {
  declare readonly type: 'permission_error';
  declare readonly code: AbloErrorCodeOf<'permission_error'>;
  constructor(message: string, details: AbloErrorOptions<'permission_error'> = {}) {
    const { code = 'forbidden', ...rest } = details;
    super('permission_error', code, message, rest);
    this.name = 'AbloPermissionError';
  }
}

export class AbloNotFoundError extends AbloError {
  declare readonly type: 'not_found';
  declare readonly code: AbloErrorCodeOf<'not_found'>;
  constructor(message: string, details: AbloErrorOptions<'not_found'> = {}) {
    const { code = 'not_found', ...rest } = details;
    super('not_found', code, message, rest);
    this.name = 'AbloNotFoundError';
  }
}

export interface Participant {
  kind: 'user' | 'agent' | 'system';
  id: string;
}

export class AbloStaleContextError extends AbloError {
  declare readonly type: 'stale_context';
  declare readonly code: AbloErrorCodeOf<'stale_context'>;
  readonly conflictingFields: string[];
  readonly currentValues: Record<string, unknown>;
  readonly observedSyncId: number;
  /** Who wrote the change that moved it (the credential's own participant). */
  readonly writtenBy?: Participant;
  /** The participant that writer acted for, when it named another one. */
  readonly onBehalfOf?: Participant;
  constructor(
    message: string,
    details: {
      conflictingFields: string[];
      currentValues: Record<string, unknown>;
      observedSyncId: number;
      writtenBy?: Participant;
      onBehalfOf?: Participant;
    } & AbloErrorOptions<'stale_context'>,
  ) {
    const { code = 'stale_context', ...rest } = details;
    super('stale_context', code, message, rest);
    this.name = 'AbloStaleContextError';
    this.conflictingFields = details.conflictingFields;
    this.currentValues = details.currentValues;
    this.observedSyncId = details.observedSyncId;
    this.writtenBy = details.writtenBy;
    this.onBehalfOf = details.onBehalfOf;
  }
}

export class AbloClaimedError extends AbloError {
  declare readonly type: 'claimed';
  declare readonly code: AbloErrorCodeOf<'claimed'>;
  readonly holder?: Participant;
  constructor(message: string, details: { holder?: Participant } & AbloErrorOptions<'claimed'> = {}) {
    const { code = 'row_claimed', ...rest } = details;
    super('claimed', code, message, rest);
    this.name = 'AbloClaimedError';
    this.holder = details.holder;
  }
}

export class AbloIdempotencyError extends AbloError {
  declare readonly type: 'idempotency_error';
  declare readonly code: AbloErrorCodeOf<'idempotency_error'>;
  constructor(message: string, details: AbloErrorOptions<'idempotency_error'> = {}) {
    const { code = 'idempotency_key_reused', ...rest } = details;
    super('idempotency_error', code, message, rest);
    this.name = 'AbloIdempotencyError';
  }
}

export class AbloTooLargeError extends AbloError {
  declare readonly type: 'too_large';
  declare readonly code: AbloErrorCodeOf<'too_large'>;
  constructor(message: string, details: AbloErrorOptions<'too_large'> = {}) {
    const { code = 'payload_too_large', ...rest } = details;
    super('too_large', code, message, rest);
    this.name = 'AbloTooLargeError';
  }
}

export class AbloRateLimitError extends AbloError {
  declare readonly type: 'rate_limit';
  declare readonly code: AbloErrorCodeOf<'rate_limit'>;
  constructor(message: string, details: AbloErrorOptions<'rate_limit'> = {}) {
    const { code = 'rate_limited', ...rest } = details;
    super('rate_limit', code, message, rest);
    this.name = 'AbloRateLimitError';
  }
}

export class AbloConnectionError extends AbloError {
  declare readonly type: 'connection_error';
  declare readonly code: AbloErrorCodeOf<'connection_error'>;
  constructor(message: string, details: AbloErrorOptions<'connection_error'> = {}) {
    const { code = 'connection_failed', ...rest } = details;
    super('connection_error', code, message, rest);
    this.name = 'AbloConnectionError';
  }
}

export class AbloServerError extends AbloError {
  declare readonly type: 'server_error';
  declare readonly code: AbloErrorCodeOf<'server_error'>;
  constructor(message = errorMessage('internal_error'), details: AbloErrorOptions<'server_error'> = {}) {
    const { code = 'internal_error', ...rest } = details;
    super('server_error', code, message, rest);
    this.name = 'AbloServerError';
  }
}

/** The class each error type is built as. */
export interface AbloErrorByType {
  validation_error: AbloValidationError;
  schema_error: AbloSchemaError;
  authentication_error: AbloAuthenticationError;
  permission_error: AbloPermissionError;
  not_found: AbloNotFoundError;
  stale_context: AbloStaleContextError;
  claimed: AbloClaimedError;
  idempotency_error: AbloIdempotencyError;
  too_large: AbloTooLargeError;
  rate_limit: AbloRateLimitError;
  connection_error: AbloConnectionError;
  server_error: AbloServerError;
}

/** The class an error with this code is. */
export type AbloErrorOf<C extends AbloErrorCode> = AbloErrorByType[AbloErrorTypeOf<C>];

/** Params of `abloError(code, …)`: the template's (required when it has any), plus any details. */
type AbloErrorArgs<C extends AbloErrorCode> = keyof AbloErrorParams<C> extends never
  ? [details?: AbloErrorDetails]
  : [params: AbloErrorParams<C> & AbloErrorDetails];

/**
 * The error for a registered code, as its type's class, with the registry's
 * message: `throw abloError('row_not_found', { model, id })`. The params also
 * become the error's details.
 */
export function abloError<C extends AbloErrorCode>(code: C, ...[params]: AbloErrorArgs<C>): AbloErrorOf<C> {
  const p = (params ?? {}) as AbloErrorParams<C> & AbloErrorDetails;
  return build(ERROR_CODES[code].type, errorMessage(code, p), { ...p, code }) as AbloErrorOf<C>;
}

/**
 * Details whose `code` is taken as it is: the one place a code is not checked
 * against the registry when it compiles (codes from the wire may come from a
 * newer engine; `abloError` passes registered ones).
 */
type UncheckedDetails = AbloErrorDetails & { code?: never };

function build(type: unknown, message: string, details: AbloErrorDetails & { code?: string }): AbloError {
  const d = details as UncheckedDetails;
  switch (type) {
    case 'validation_error':
      return new AbloValidationError(message, d);
    case 'schema_error':
      return new AbloSchemaError(message, d);
    case 'authentication_error':
      return new AbloAuthenticationError(message, d);
    case 'permission_error':
      return new AbloPermissionError(message, d);
    case 'not_found':
      return new AbloNotFoundError(message, d);
    case 'stale_context':
      return new AbloStaleContextError(message, { conflictingFields: [], currentValues: {}, observedSyncId: 0, ...d });
    case 'claimed':
      return new AbloClaimedError(message, d);
    case 'idempotency_error':
      return new AbloIdempotencyError(message, d);
    case 'too_large':
      return new AbloTooLargeError(message, d);
    case 'rate_limit':
      return new AbloRateLimitError(message, d);
    case 'connection_error':
      return new AbloConnectionError(message, d);
    default:
      return new AbloServerError(message, d);
  }
}

export interface ErrorEnvelope {
  error: { type: string; code: string; message: string; [key: string]: unknown };
}

/** `{ error: {...} }` body for any thrown value; unknown errors become a generic server error. */
export function toErrorEnvelope(err: unknown): ErrorEnvelope {
  const e = err instanceof AbloError ? err : new AbloServerError();
  return { error: e.toJSON() };
}

/** Rebuild the typed error class from a wire envelope (HTTP body or WebSocket frame). */
export function errorFromEnvelope(body: unknown): AbloError {
  const raw = (body && typeof body === 'object' && 'error' in body ? (body as ErrorEnvelope).error : body) as
    | Record<string, unknown>
    | undefined;
  if (!raw || typeof raw !== 'object') return new AbloServerError('Malformed error response.');
  const { type, code, message, ...details } = raw as { type?: string; code?: string; message?: string };
  const msg = typeof message === 'string' ? message : 'Unknown error.';
  return build(type, msg, { ...details, ...(typeof code === 'string' ? { code } : {}) });
}
