/**
 * Errors a Data Source answers with, and how they become HTTP responses.
 *
 * Every refusal is `{ error: { code, message, ... } }` (`sourceErrorBodySchema`
 * in src/protocol/source.ts), so the engine can map a code to the client's
 * typed error without parsing messages.
 */
import type { SourceErrorBody } from '../protocol/source.js';

export interface SourceErrorOptions {
  /** A 4xx status (default 400). `stale_context` defaults to 409. */
  status?: number;
  /** The fields the error is about (e.g. the ones a validation refused). */
  fields?: string[];
}

/**
 * Thrown by an app's handler (`authorize`, `commit`, `load`, …) to refuse a
 * request with a typed body the engine understands: `stale_context` (409)
 * reaches the client as `AbloStaleContextError`; `row_not_found`,
 * `permission_denied`, `validation_failed` as their types; any other code as
 * a validation error carrying it. Only 4xx: a 5xx means "the source failed",
 * which the engine retries, so it is never a deliberate answer.
 */
export class SourceError extends Error {
  readonly code: string;
  readonly status: number;
  readonly fields?: string[];

  constructor(code: string, message: string, options: SourceErrorOptions = {}) {
    super(message);
    this.name = 'SourceError';
    const status = options.status ?? (code === 'stale_context' ? 409 : 400);
    if (!Number.isInteger(status) || status < 400 || status > 499) {
      throw new RangeError(`SourceError status must be a 4xx, got ${status}: a 5xx tells the engine the source failed and it retries.`);
    }
    if (typeof code !== 'string' || code.length === 0 || code.length > 100) {
      throw new RangeError(`SourceError code must be a string of 1 to 100 characters (e.g. 'stale_context'), got ${JSON.stringify(code)}.`);
    }
    this.code = code;
    this.status = status;
    if (options.fields) this.fields = options.fields;
  }

  toBody(): SourceErrorBody {
    return { error: { code: this.code, message: this.message.slice(0, 2000), ...(this.fields ? { fields: this.fields } : {}) } };
  }
}

/**
 * A row the app's handler returned that does not match the schema: the app's
 * bug, not the caller's, so it is answered 500 (and logged), never 4xx.
 */
export class SourceRowInvalidError extends Error {
  constructor(
    readonly model: string | undefined,
    readonly id: string | undefined,
    readonly field: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'SourceRowInvalidError';
  }
}

/** A JSON response (what every answer of the handler is). */
export function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

/** `{ error: { code, message, ...extra } }` with `status`. */
export function errorResponse(status: number, code: string, message: string, extra: Record<string, unknown> = {}): Response {
  return jsonResponse(status, { error: { ...extra, code, message } });
}
