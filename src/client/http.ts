/**
 * Server-authoritative reads and other HTTP calls from the SDK. Every
 * non-2xx answer becomes the typed error its envelope names.
 */
import { AbloConnectionError, errorFromEnvelope } from '../errors.js';
import type { ParticipantRef } from '../protocol/commit.js';
import { stringifyJson } from '../protocol/json.js';

export interface HttpClientOptions {
  baseURL: string;
  apiKey: string;
  participant?: ParticipantRef;
  fetch?: typeof fetch;
}

/**
 * The engine does not answer at `baseURL`: one message for server reads and
 * for `ready()` timing out, so both point at the same fix.
 */
export function unreachableError(baseURL: string, cause?: string | null): AbloConnectionError {
  return new AbloConnectionError(`Cannot reach the Ablo engine at ${baseURL} — is it running (npx ablo dev)?${cause ? ` (${cause})` : ''}`, {
    code: 'unreachable',
    url: baseURL,
  });
}

/** Node's fetch says only "fetch failed"; the reason (ECONNREFUSED...) is in `cause`. */
function fetchFailure(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string; code?: string } };
  const cause = e?.cause;
  return (cause && (cause.message || cause.code)) || e?.message || String(err);
}

export class HttpClient {
  constructor(private readonly options: HttpClientOptions) {}

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const f = this.options.fetch ?? globalThis.fetch;
    let res: Response;
    try {
      res = await f(this.options.baseURL.replace(/\/+$/, '') + path, {
        method,
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.options.participant ? { 'ablo-participant': `${this.options.participant.kind}:${this.options.participant.id}` } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: stringifyJson(body) } : {}),
      });
    } catch (err) {
      throw unreachableError(this.options.baseURL, fetchFailure(err));
    }
    const text = await res.text();
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new AbloConnectionError(`The engine answered ${res.status} with a body that is not JSON.`, { code: 'bad_response' });
      }
    }
    if (!res.ok) throw errorFromEnvelope(parsed);
    return parsed as T;
  }
}
