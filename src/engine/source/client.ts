/**
 * The engine's calls to one Data Source: a request body, signed (Standard
 * Webhooks, src/source/signature.ts), sent over a transport (HTTP to the
 * source's `url`, or the reverse channel a connector opened), the answer
 * checked against its wire shape (src/protocol/source.ts).
 *
 * A timeout, a network error or a 5xx is retried (same `webhook-id`, a new
 * timestamp and signature: the source dedupes commits by clientTxId), then
 * is `source_unavailable`. A 4xx with an error body is the source's answer
 * to the client, as a typed error: `stale_context`, `row_not_found`,
 * `source_forbidden` (401/403), else `source_refused` with the source's code.
 * A 2xx that does not parse or has the wrong shape is `source_bad_response`.
 */
import type { z } from 'zod';
import { abloError, AbloError, AbloNotFoundError, AbloPermissionError, AbloStaleContextError, AbloValidationError } from '../../errors.js';
import { sourceErrorBodySchema, type SourceRequest } from '../../protocol/source.js';
import { signAbloSourceRequest } from '../../source/signature.js';
import type { SourceConfig } from './config.js';

export interface SourceAnswer {
  status: number;
  body: string;
}

/** How a signed request reaches a source. Throws when no answer came back (timeout, network, no connector). */
export interface SourceTransport {
  send(headers: Record<string, string>, body: string, timeoutMs: number): Promise<SourceAnswer>;
  /** What `source_unavailable` says of where it went (`http://…`, `reverse channel`). */
  readonly describe: string;
}

/** Largest answer body the engine reads (64 MiB). */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** POST to the source's URL with `fetch`. */
export class HttpSourceTransport implements SourceTransport {
  constructor(private readonly url: string) {}

  get describe(): string {
    return this.url;
  }

  async send(headers: Record<string, string>, body: string, timeoutMs: number): Promise<SourceAnswer> {
    const res = await fetch(this.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    const length = Number(res.headers.get('content-length') ?? 0);
    if (length > MAX_ANSWER_BYTES) {
      await res.body?.cancel();
      return { status: 502, body: '' };
    }
    return { status: res.status, body: await res.text() };
  }
}

export interface CallOptions {
  /** `webhook-id`: kept across retries, and across a restart for a journaled commit. */
  id?: string;
  /** Attempts in all (default: the source's `attempts`, 3). */
  attempts?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class SourceClient {
  readonly timeoutMs: number;
  readonly attempts: number;

  constructor(
    readonly name: string,
    private readonly config: Pick<SourceConfig, 'signingSecret' | 'timeoutMs' | 'attempts'>,
    readonly transport: SourceTransport,
    private readonly userAgent = 'ablo-engine',
  ) {
    this.timeoutMs = config.timeoutMs ?? 10_000;
    this.attempts = Math.max(1, config.attempts ?? 3);
  }

  /** Send `request`; answers the parsed body, or throws the typed error (see the top of this file). */
  async call<T>(request: SourceRequest, answer: z.ZodType<T>, options: CallOptions = {}): Promise<T> {
    const body = JSON.stringify(request);
    const id = options.id ?? `msg_${request.type}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
    const attempts = options.attempts ?? this.attempts;
    let last = '';
    let lastTimestamp = 0;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) await sleep(Math.min(2000, 100 * 2 ** (attempt - 2)) * (0.5 + Math.random() / 2));
      // A retry is signed anew, with a later timestamp than this request's earlier attempts: a receiver's replay
      // guard (id + timestamp) lets it in. Per request, not per client: a client-wide "one second later than the
      // last" would run ahead of the clock by a second per request, past the receiver's 5-minute window.
      const timestamp = Math.max(Math.floor(Date.now() / 1000), lastTimestamp + 1);
      lastTimestamp = timestamp;
      const headers = {
        ...signAbloSourceRequest(body, this.config.signingSecret, { id, timestamp }),
        'content-type': 'application/json',
        'user-agent': this.userAgent,
      };
      let res: SourceAnswer;
      try {
        res = await this.transport.send(headers, body, this.timeoutMs);
      } catch (err) {
        last = describeFailure(err, this.timeoutMs);
        continue;
      }
      if (res.status >= 500) {
        last = `HTTP ${res.status}${snippet(res.body)}`;
        continue;
      }
      if (res.status >= 400) throw this.refusal(request, res);
      if (res.status < 200 || res.status >= 300) {
        throw abloError('source_bad_response', { source: this.name, reason: `HTTP ${res.status}` });
      }
      return this.parse(request, res.body, answer);
    }
    throw abloError('source_unavailable', { source: this.name, to: this.transport.describe, reason: last, attempts });
  }

  private parse<T>(request: SourceRequest, text: string, answer: z.ZodType<T>): T {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw abloError('source_bad_response', { source: this.name, request: request.type, reason: `not JSON${snippet(text)}` });
    }
    const parsed = answer.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw abloError('source_bad_response', {
        source: this.name,
        request: request.type,
        reason: `${issue?.path.join('.') || '(body)'}: ${issue?.message ?? 'wrong shape'}`,
      });
    }
    return parsed.data;
  }

  /** A 4xx as the client's typed error. */
  private refusal(request: SourceRequest, res: SourceAnswer): AbloError {
    let body: { code: string; message?: string | undefined; fields?: string[] | undefined } | null = null;
    try {
      const parsed = sourceErrorBodySchema.safeParse(JSON.parse(res.body));
      if (parsed.success) body = parsed.data.error;
    } catch {
      // Not JSON: the status speaks alone.
    }
    const code = body?.code ?? `http_${res.status}`;
    const said = body?.message ? `: ${body.message}` : '';
    const source = this.name;
    if (code === 'stale_context' || (res.status === 409 && !body)) {
      return new AbloStaleContextError(`The data source "${source}" has a newer version of a row this commit changes${said}. Re-read and retry.`, {
        conflictingFields: body?.fields ?? [],
        currentValues: {},
        observedSyncId: 0,
        source,
      });
    }
    if (code === 'row_not_found') {
      return new AbloNotFoundError(`The data source "${source}" has no such row${said}.`, { code: 'row_not_found', source });
    }
    if (code === 'invalid_signature' || res.status === 401) {
      return new AbloPermissionError(
        `The data source "${source}" refused the engine's signature${said}. Either the app's signing secret differs from the engine's (check the secret's variable on both sides; \`ablo source test ${source}\`) or the two clocks are more than the app's tolerance (5 minutes) apart.`,
        { code: 'source_forbidden', source, sourceCode: code },
      );
    }
    if (res.status === 403) {
      return new AbloPermissionError(`The data source "${source}" does not allow this${said}.`, { code: 'source_forbidden', source, sourceCode: code });
    }
    return new AbloValidationError(`The data source "${source}" refused the ${request.type} request (${code})${said}.`, {
      code: 'source_refused',
      source,
      sourceCode: code,
      status: res.status,
      ...(body?.fields ? { fields: body.fields } : {}),
    });
  }
}

function describeFailure(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

function snippet(text: string): string {
  const t = text.trim().slice(0, 200);
  return t ? ` (${t})` : '';
}
