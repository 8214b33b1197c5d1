/**
 * Typed errors shared by the SDK, the engine, the CLI and the MCP server.
 *
 * Every error carries a stable `type` (the class family, survives JSON and
 * `postMessage`) and a `code` (the precise reason). The HTTP envelope is
 * `{ error: { type, code, message, ...details } }`; `errorFromEnvelope` rebuilds
 * the right class on the other side.
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

export interface AbloErrorDetails {
  [key: string]: unknown;
}

export class AbloError extends Error {
  readonly type: AbloErrorType;
  readonly code: string;
  readonly details: AbloErrorDetails;

  constructor(type: AbloErrorType, code: string, message: string, details: AbloErrorDetails = {}) {
    super(message);
    this.name = 'AbloError';
    this.type = type;
    this.code = code;
    this.details = details;
  }

  /** HTTP status this error maps to. */
  get status(): number {
    return STATUS_BY_TYPE[this.type];
  }

  toJSON(): { type: AbloErrorType; code: string; message: string } & AbloErrorDetails {
    return { ...this.details, type: this.type, code: this.code, message: this.message };
  }
}

export interface FieldIssue {
  /** Dotted path inside the row, e.g. `title` or `meta.tags.0`. */
  field: string;
  code: string;
  message: string;
}

export class AbloValidationError extends AbloError {
  readonly model?: string;
  readonly field?: string;
  readonly issues: FieldIssue[];
  constructor(message: string, details: { code?: string; model?: string; field?: string; issues?: FieldIssue[] } & AbloErrorDetails = {}) {
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
  readonly model?: string;
  readonly field?: string;
  constructor(message: string, details: { code?: string; model?: string; field?: string } & AbloErrorDetails = {}) {
    const { code = 'invalid_schema', ...rest } = details;
    super('schema_error', code, message, rest);
    this.name = 'AbloSchemaError';
    this.model = details.model;
    this.field = details.field;
  }
}

export class AbloAuthenticationError extends AbloError {
  constructor(message = 'Missing or invalid API key.', details: { code?: string } & AbloErrorDetails = {}) {
    const { code = 'invalid_api_key', ...rest } = details;
    super('authentication_error', code, message, rest);
    this.name = 'AbloAuthenticationError';
  }
}

export class AbloPermissionError extends AbloError {
  constructor(message: string, details: { code?: string } & AbloErrorDetails = {}) {
    const { code = 'forbidden', ...rest } = details;
    super('permission_error', code, message, rest);
    this.name = 'AbloPermissionError';
  }
}

export class AbloNotFoundError extends AbloError {
  constructor(message: string, details: { code?: string } & AbloErrorDetails = {}) {
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
  readonly conflictingFields: string[];
  readonly currentValues: Record<string, unknown>;
  readonly observedSyncId: number;
  readonly writtenBy?: Participant;
  constructor(
    message: string,
    details: {
      code?: string;
      conflictingFields: string[];
      currentValues: Record<string, unknown>;
      observedSyncId: number;
      writtenBy?: Participant;
    } & AbloErrorDetails,
  ) {
    const { code = 'stale_context', ...rest } = details;
    super('stale_context', code, message, rest);
    this.name = 'AbloStaleContextError';
    this.conflictingFields = details.conflictingFields;
    this.currentValues = details.currentValues;
    this.observedSyncId = details.observedSyncId;
    this.writtenBy = details.writtenBy;
  }
}

export class AbloClaimedError extends AbloError {
  readonly holder?: Participant;
  constructor(message: string, details: { code?: string; holder?: Participant } & AbloErrorDetails = {}) {
    const { code = 'row_claimed', ...rest } = details;
    super('claimed', code, message, rest);
    this.name = 'AbloClaimedError';
    this.holder = details.holder;
  }
}

export class AbloIdempotencyError extends AbloError {
  constructor(message: string, details: { code?: string } & AbloErrorDetails = {}) {
    const { code = 'idempotency_key_reused', ...rest } = details;
    super('idempotency_error', code, message, rest);
    this.name = 'AbloIdempotencyError';
  }
}

export class AbloTooLargeError extends AbloError {
  constructor(message: string, details: { code?: string } & AbloErrorDetails = {}) {
    const { code = 'payload_too_large', ...rest } = details;
    super('too_large', code, message, rest);
    this.name = 'AbloTooLargeError';
  }
}

export class AbloRateLimitError extends AbloError {
  constructor(message: string, details: { code?: string } & AbloErrorDetails = {}) {
    const { code = 'rate_limited', ...rest } = details;
    super('rate_limit', code, message, rest);
    this.name = 'AbloRateLimitError';
  }
}

export class AbloConnectionError extends AbloError {
  constructor(message: string, details: { code?: string } & AbloErrorDetails = {}) {
    const { code = 'connection_failed', ...rest } = details;
    super('connection_error', code, message, rest);
    this.name = 'AbloConnectionError';
  }
}

export class AbloServerError extends AbloError {
  constructor(message = 'Internal server error.', details: { code?: string } & AbloErrorDetails = {}) {
    const { code = 'internal_error', ...rest } = details;
    super('server_error', code, message, rest);
    this.name = 'AbloServerError';
  }
}

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
  const d = { ...details, ...(typeof code === 'string' ? { code } : {}) } as AbloErrorDetails & { code?: string };
  switch (type) {
    case 'validation_error':
      return new AbloValidationError(msg, d);
    case 'schema_error':
      return new AbloSchemaError(msg, d);
    case 'authentication_error':
      return new AbloAuthenticationError(msg, d);
    case 'permission_error':
      return new AbloPermissionError(msg, d);
    case 'not_found':
      return new AbloNotFoundError(msg, d);
    case 'stale_context':
      return new AbloStaleContextError(msg, {
        conflictingFields: [],
        currentValues: {},
        observedSyncId: 0,
        ...d,
      } as ConstructorParameters<typeof AbloStaleContextError>[1]);
    case 'claimed':
      return new AbloClaimedError(msg, d);
    case 'idempotency_error':
      return new AbloIdempotencyError(msg, d);
    case 'too_large':
      return new AbloTooLargeError(msg, d);
    case 'rate_limit':
      return new AbloRateLimitError(msg, d);
    case 'connection_error':
      return new AbloConnectionError(msg, d);
    default:
      return new AbloServerError(msg, d);
  }
}
