/**
 * The one HTTP client of the engine API (SPEC §3), used by the SDK's server
 * reads, the CLI (cli/api.ts) and the MCP tools (mcp/engineApi.ts).
 *
 * - builds every request: base URL, path segments encoded, list parameters;
 * - sends the headers: `Authorization: Bearer`, `Ablo-Participant`,
 *   `Idempotency-Key`, `Ablo-Claim`;
 * - an error envelope becomes the typed `AbloError` it names
 *   (`errorFromEnvelope`); an engine that does not answer becomes
 *   `unreachableError` (src/client/http.ts); something that answers but is
 *   not an engine, `not_an_engine`;
 * - with several base URLs (engines behind one database), a request an
 *   engine did not take goes to the next one: one that cannot be reached
 *   (for a write without an idempotency key, only when the connection was
 *   refused: it cannot have been applied), or that answers 503 `draining`.
 *   The engine that answered is used first from then on;
 * - a 429 `rate_limited` (the credential's rate limit: the engine refused the
 *   request before doing anything) is sent again after the `retryAfterMs`
 *   it names, at most `rateLimitRetries` times (default 4), with the same
 *   body and `Idempotency-Key`;
 * - a successful answer is checked against its protocol schema
 *   (src/protocol/api.ts) and handed back as received (checked, not rebuilt:
 *   key order and unknown fields stay); one that does not match is
 *   `bad_response`.
 */
import type { z } from 'zod';
import { AbloAuthenticationError, AbloConnectionError, AbloError, abloError, AbloValidationError, errorFromEnvelope } from '../errors.js';
import {
  apiKeyPageSchema,
  apiKeySchema,
  changesPageSchema,
  deletedSchema,
  healthSchema,
  rowPageSchema,
  schemaDocumentSchema,
  schemaPushAnswerSchema,
  type ApiKeyObject,
  type CreateApiKeyBody,
  type ChangesPage,
  type Deleted,
  type Health,
  type ListPage,
  type RowPage,
  type SchemaDocument,
  type SchemaPushAnswer,
} from '../protocol/api.js';
import {
  claimGrantSchema,
  claimReleasedSchema,
  claimSchema,
  claimStateSchema,
  type Claim,
  type ClaimGrant,
  type ClaimReleased,
  type ClaimRequestBody,
  type ClaimState,
} from '../protocol/claims.js';
import {
  commitReceiptSchema,
  rowSchema,
  type CommitReceipt,
  type CommitRequest,
  type OnStale,
  type ParticipantRef,
  type Row,
} from '../protocol/commit.js';
import { stringifyJson } from '../protocol/json.js';
import { listQuerySearchParams, type OrderBy } from '../protocol/listQuery.js';
import { presenceMembersSchema, type PresenceMembers } from '../protocol/presence.js';
import { sessionObjectSchema, type CreateSessionBody, type SessionObject } from '../protocol/sessions.js';
import { principalObjectSchema, type PrincipalObject } from '../protocol/operations.js';
import { fetchFailure, unreachableError } from './http.js';

export interface EngineApiOptions {
  /** The engine's base URL, e.g. `http://127.0.0.1:4100`, or several engines of one database (failover, in order). */
  baseURL: string | readonly string[];
  /** Sent as `Authorization: Bearer`: an API key or a session token (`ek_…`); a request with `auth: false` (health) needs none. */
  apiKey?: string;
  /**
   * Session tokens from the app's `fetchToken` (instead of `apiKey`): each request sends the current one; a request
   * refused 401 is sent once more with a fresh token (the engine applied nothing of it).
   */
  tokens?: { get(): Promise<string>; refresh(stale?: string): Promise<string> };
  /** Who acts (`Ablo-Participant: kind:id`); default: the key's participant. */
  participant?: ParticipantRef;
  fetch?: typeof fetch;
  /** Give up on a request after this long (default: no limit); a request's own `timeoutMs` wins. */
  timeoutMs?: number;
  /** Times a request refused with 429 `rate_limited` is sent again after the wait the engine names (default 4; 0: never). */
  rateLimitRetries?: number;
}

/** Longest wait before sending a rate-limited request again, whatever the engine says. */
const MAX_RATE_LIMIT_WAIT_MS = 30_000;

/** `ms` of waiting, cut short (with `cancelled`) when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abloError('cancelled'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abloError('cancelled'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Per request. */
export interface CallOptions {
  /** Send the API key (default true). */
  auth?: boolean;
  /** JSON body. */
  body?: unknown;
  /** `Idempotency-Key`: replaying it returns the original answer and writes nothing. */
  idempotencyKey?: string;
  /** `Ablo-Claim`: the HTTP claims the writer holds (writes to rows they cover pass). */
  claimIds?: readonly string[];
  /** `Ablo-Participant` for this request instead of the client's. */
  participant?: ParticipantRef;
  /** More headers (e.g. `Ablo-Restore`). */
  headers?: Record<string, string>;
  /** Aborting it cancels the request (`connection_error` / `cancelled`). */
  signal?: AbortSignal;
  /** Milliseconds before giving up (`unreachable`, "no answer in time"); `Infinity` for none. */
  timeoutMs?: number;
  /** Called with the headers of a successful answer (e.g. `idempotent-replayed`). */
  onHeaders?: (headers: Headers) => void;
}

/** Write options of the row routes. */
/** What `changes()` asks for: paging and the audit filters. */
export interface ChangesQuery {
  after?: number;
  limit?: number;
  /** Changes this participant wrote or that were written on its behalf. */
  participant?: ParticipantRef | string;
  model?: string;
  /** A row id (of `model` when given, else of any model). */
  id?: string;
}

export type WriteCallOptions = Pick<CallOptions, 'idempotencyKey' | 'claimIds' | 'participant' | 'signal'>;

/** List parameters (already checked against the schema by the SDK / MCP; the engine checks them again). */
export interface ListRequest {
  where?: Record<string, unknown>;
  orderBy?: OrderBy[];
  limit?: number;
  startingAfter?: string;
}

const seg = (s: string): string => encodeURIComponent(s);

function headerParticipant(p: ParticipantRef): string {
  return `${p.kind}:${p.id}`;
}

function isEnvelope(v: unknown): v is { error: Record<string, unknown> } {
  return !!v && typeof v === 'object' && !!(v as { error?: unknown }).error && typeof (v as { error?: unknown }).error === 'object';
}

/** A row or, when `onStale: 'notify'` held the write, the receipt. */
const rowOrReceipt = {
  safeParse: (v: unknown) => (commitReceiptSchema.safeParse(v).success ? { success: true as const } : rowSchema.safeParse(v)),
};
const deletedOrReceipt = {
  safeParse: (v: unknown) => (commitReceiptSchema.safeParse(v).success ? { success: true as const } : deletedSchema.safeParse(v)),
};

/** What `request` checks an answer with: a Zod schema, or anything with the same `safeParse`. */
export interface AnswerSchema {
  safeParse(v: unknown): { success: true } | { success: false; error: z.ZodError };
}

/** Methods a repeat cannot apply twice. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** May a request that failed on one engine be sent to the next? */
function mayFailOver(method: string, options: CallOptions, err: unknown): boolean {
  if (err instanceof AbloConnectionError) return err.code === 'draining' || (err.code === 'unreachable' && !err.details?.timedOut && (SAFE_METHODS.has(method) || options.idempotencyKey !== undefined || err.details?.errno === 'ECONNREFUSED'));
  return false;
}

export class EngineApiClient {
  /** Every engine URL, in order. */
  readonly baseURLs: readonly string[];
  /** Index of the engine tried first (the last one that answered). */
  private current = 0;

  constructor(private readonly options: EngineApiOptions) {
    const list = typeof options.baseURL === 'string' ? [options.baseURL] : [...options.baseURL];
    if (list.length === 0) throw new AbloValidationError('baseURL needs at least one engine URL.', { code: 'invalid_url' });
    this.baseURLs = list.map((u) => u.replace(/\/+$/, ''));
  }

  /** The engine URL requests go to first. */
  get baseURL(): string {
    return this.baseURLs[this.current]!;
  }

  /** Send requests to this engine first (e.g. the one the sync socket uses). */
  prefer(index: number): void {
    if (index >= 0 && index < this.baseURLs.length) this.current = index;
  }

  /**
   * One request; resolves with the parsed JSON answer (checked against
   * `schema` when given). Every failure is a typed `AbloError`. With several
   * engines, one that did not take the request hands it to the next (see the top of this file).
   */
  async request<T>(method: string, path: string, options: CallOptions = {}, schema?: AnswerSchema): Promise<T> {
    const retries = this.options.rateLimitRetries ?? 4;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.requestOnce<T>(method, path, options, schema);
      } catch (err) {
        // Refused before any work (nothing applied): the same request again after the engine's wait.
        if (!(err instanceof AbloError) || err.code !== 'rate_limited' || attempt >= retries) throw err;
        const named = err.details.retryAfterMs;
        // Never sooner than the engine said; later on each refusal, spread at random, so that many requests
        // refused together do not all come back at the same moment and be refused together again.
        const base = (typeof named === 'number' && named > 0 ? named : 1000) * 2 ** Math.min(attempt, 6);
        const wait = Math.min(base + Math.random() * base, MAX_RATE_LIMIT_WAIT_MS);
        await sleep(wait, options.signal);
      }
    }
  }

  /** One attempt; with `fetchToken`, a 401 is retried once with a fresh token. */
  private async requestOnce<T>(method: string, path: string, options: CallOptions, schema?: AnswerSchema): Promise<T> {
    const tokens = this.options.tokens;
    if (!tokens || options.auth === false) return this.requestAny<T>(method, path, options, schema, this.options.apiKey);
    const token = await tokens.get();
    try {
      return await this.requestAny<T>(method, path, options, schema, token);
    } catch (err) {
      if (!(err instanceof AbloAuthenticationError) || err.status !== 401) throw err;
      return this.requestAny<T>(method, path, options, schema, await tokens.refresh(token));
    }
  }

  private async requestAny<T>(method: string, path: string, options: CallOptions, schema: AnswerSchema | undefined, credential: string | undefined): Promise<T> {
    const first = this.current;
    for (let i = 0; ; i++) {
      const index = (first + i) % this.baseURLs.length;
      try {
        const answer = await this.requestAt<T>(this.baseURLs[index]!, method, path, options, schema, credential);
        this.current = index;
        return answer;
      } catch (err) {
        if (i + 1 >= this.baseURLs.length || !mayFailOver(method, options, err)) throw err;
      }
    }
  }

  private async requestAt<T>(baseURL: string, method: string, path: string, options: CallOptions, schema: AnswerSchema | undefined, credential: string | undefined): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if ((options.auth ?? true) && credential !== undefined) headers.authorization = `Bearer ${credential}`;
    const participant = options.participant ?? this.options.participant;
    if (participant) headers['ablo-participant'] = headerParticipant(participant);
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    if (options.claimIds && options.claimIds.length > 0) headers['ablo-claim'] = options.claimIds.join(',');
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    Object.assign(headers, options.headers);

    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    const signals = [options.signal, timeoutMs !== undefined && Number.isFinite(timeoutMs) ? AbortSignal.timeout(timeoutMs) : undefined].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    const f = this.options.fetch ?? globalThis.fetch;
    let res: Response;
    let text: string;
    try {
      res = await f(baseURL + path, {
        method,
        headers,
        ...(options.body !== undefined ? { body: stringifyJson(options.body) } : {}),
        ...(signal ? { signal } : {}),
      });
      text = await res.text();
    } catch (err) {
      if (options.signal?.aborted) throw abloError('cancelled');
      throw unreachableError(baseURL, fetchFailure(err), { err, method, path });
    }
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw this.notAnEngine(baseURL, res, method, path, 'not_json');
      }
    }
    if (!res.ok) {
      if (!isEnvelope(parsed)) throw this.notAnEngine(baseURL, res, method, path, 'no_envelope');
      throw errorFromEnvelope(parsed);
    }
    if (schema) {
      const checked = schema.safeParse(parsed);
      if (!checked.success) {
        const issue = checked.error.issues[0];
        const at = issue && issue.path.length > 0 ? ` at "${issue.path.map(String).join('.')}"` : '';
        throw new AbloConnectionError(
          `The engine's answer to ${method} ${path.split('?')[0]} does not match this client's protocol${at}: ${issue?.message ?? 'unexpected shape'}. ` +
            'The engine and the client package may be different versions: upgrade the older one.',
          { code: 'bad_response', url: baseURL, path: path.split('?')[0] },
        );
      }
    }
    options.onHeaders?.(res.headers);
    return parsed as T;
  }

  /** An answer that is not JSON, or an error without the envelope: something else listens at the URL. */
  private notAnEngine(baseURL: string, res: Response, method: string, path: string, reason: 'not_json' | 'no_envelope'): AbloConnectionError {
    const type = res.headers.get('content-type');
    const where = `${method} ${path.split('?')[0]}`;
    const what = reason === 'not_json' ? `did not answer ${where} like an Ablo engine (HTTP ${res.status}, ${type ?? 'no content type'})` : `answered HTTP ${res.status} to ${where} without an Ablo error`;
    return new AbloConnectionError(`The server at ${baseURL} ${what}. Check the engine URL: it must point at \`ablo dev\` or another Ablo engine.`, {
      code: 'not_an_engine',
      reason,
      url: baseURL,
      status: res.status,
      method,
      path: path.split('?')[0],
      contentType: type,
    });
  }

  // ---- engine ----------------------------------------------------------------

  /** `GET /v1/health` (no key). */
  health(options: Pick<CallOptions, 'timeoutMs' | 'signal'> = {}): Promise<Health> {
    return this.request('GET', '/v1/health', { ...options, auth: false }, healthSchema);
  }

  schema(): Promise<SchemaDocument> {
    return this.request('GET', '/v1/schema', {}, schemaDocumentSchema);
  }

  /**
   * `GET /v1/schema?changedFrom=…&waitSeconds=…`: the schema once its hash is
   * no longer `changedFrom` (null: no schema yet), or as it is after
   * `waitSeconds` (at most 120) without a change — compare the hash.
   * `signal` ends the wait (`cancelled`).
   */
  schemaChange(changedFrom: string | null, waitSeconds: number, options: Pick<CallOptions, 'signal'> = {}): Promise<SchemaDocument> {
    const query = new URLSearchParams({ changedFrom: changedFrom ?? '', waitSeconds: String(waitSeconds) });
    // Its own bound: the wait plus time to answer.
    return this.request('GET', `/v1/schema?${query.toString()}`, { ...options, timeoutMs: (waitSeconds + 15) * 1000 }, schemaDocumentSchema);
  }

  pushSchema(body: { schema: unknown; dryRun?: boolean; allowDestructive?: boolean; renames?: Record<string, string> }): Promise<SchemaPushAnswer> {
    return this.request('POST', '/v1/schema', { body }, schemaPushAnswerSchema);
  }

  /**
   * `GET /v1/changes`: the change log after `after`, at most `limit`; the
   * audit filters keep the changes `participant` wrote or that were written
   * on its behalf (`{ kind, id }` or `'kind:id'`), of `model`, of the row `id`.
   */
  changes(query: ChangesQuery = {}): Promise<ChangesPage> {
    const params = new URLSearchParams();
    if (query.after !== undefined) params.set('after', String(query.after));
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.participant !== undefined) {
      params.set('participant', typeof query.participant === 'string' ? query.participant : headerParticipant(query.participant));
    }
    if (query.model !== undefined) params.set('model', query.model);
    if (query.id !== undefined) params.set('id', query.id);
    const qs = params.toString();
    return this.request('GET', `/v1/changes${qs ? `?${qs}` : ''}`, {}, changesPageSchema);
  }

  // ---- rows ------------------------------------------------------------------

  list(model: string, query: ListRequest = {}): Promise<RowPage> {
    const qs = listQuerySearchParams(query).toString();
    return this.request('GET', `/v1/models/${seg(model)}${qs ? `?${qs}` : ''}`, {}, rowPageSchema);
  }

  get(model: string, id: string): Promise<Row> {
    return this.request('GET', `/v1/models/${seg(model)}/${seg(id)}`, {}, rowSchema);
  }

  create(model: string, body: { data: Record<string, unknown>; id?: string }, options: WriteCallOptions = {}): Promise<Row> {
    return this.request('POST', `/v1/models/${seg(model)}`, { ...options, body }, rowSchema);
  }

  /** The row after the update, or the receipt when `onStale: 'notify'` held it. */
  update(
    model: string,
    id: string,
    body: { data: Record<string, unknown>; readAt?: number; onStale?: OnStale },
    options: WriteCallOptions = {},
  ): Promise<Row | CommitReceipt> {
    return this.request('PATCH', `/v1/models/${seg(model)}/${seg(id)}`, { ...options, body }, rowOrReceipt);
  }

  /** `deleted`, or the receipt when `onStale: 'notify'` held it. */
  delete(model: string, id: string, body: { readAt?: number; onStale?: OnStale } = {}, options: WriteCallOptions = {}): Promise<Deleted | CommitReceipt> {
    return this.request('DELETE', `/v1/models/${seg(model)}/${seg(id)}`, { ...options, body }, deletedOrReceipt);
  }

  commit(body: CommitRequest, options: WriteCallOptions & Pick<CallOptions, 'headers' | 'onHeaders'> = {}): Promise<CommitReceipt> {
    return this.request('POST', '/v1/commits', { ...options, body }, commitReceiptSchema);
  }

  // ---- claims ----------------------------------------------------------------

  /**
   * Acquire (long-polls while waiting its turn). `signal` aborts the wait
   * (`cancelled`); the engine then drops the request from the line. A claim
   * with a `signal` has no timeout of its own: its `waitSeconds` bounds it.
   */
  claim(model: string, id: string, body: ClaimRequestBody = {}, options: Pick<CallOptions, 'claimIds' | 'signal'> = {}): Promise<ClaimGrant> {
    return this.request(
      'POST',
      `/v1/models/${seg(model)}/${seg(id)}/claim`,
      { ...options, body, ...(options.signal ? { timeoutMs: Infinity } : {}) },
      claimGrantSchema,
    );
  }

  claimState(model: string, id: string): Promise<ClaimState> {
    return this.request('GET', `/v1/models/${seg(model)}/${seg(id)}/claim`, {}, claimStateSchema);
  }

  renew(claimId: string, leaseSeconds?: number): Promise<Claim> {
    return this.request('POST', `/v1/claims/${seg(claimId)}/renew`, { body: leaseSeconds !== undefined ? { leaseSeconds } : {} }, claimSchema);
  }

  release(claimId: string): Promise<ClaimReleased> {
    return this.request('DELETE', `/v1/claims/${seg(claimId)}`, {}, claimReleasedSchema);
  }

  // ---- presence --------------------------------------------------------------

  /** Who is on one sync group now (`GET /v1/presence`): the members the WebSocket `presence` frames show. */
  presence(group: string): Promise<PresenceMembers> {
    return this.request('GET', `/v1/presence?${new URLSearchParams({ group }).toString()}`, {}, presenceMembersSchema);
  }

  // ---- keys ------------------------------------------------------------------

  /**
   * Create a key; the answer holds the key itself, once. `{ restricted: true,
   * syncGroups, operations, participant? }` makes an `rk_…` key limited to
   * those groups (`@role`: a schema identity role) and operations
   * (`write` = create, update, delete).
   */
  createKey(body: CreateApiKeyBody = {}): Promise<ApiKeyObject & { key: string }> {
    return this.request('POST', '/v1/keys', { body }, apiKeySchema);
  }

  listKeys(): Promise<ListPage<ApiKeyObject>> {
    return this.request('GET', '/v1/keys', {}, apiKeyPageSchema);
  }

  revokeKey(id: string): Promise<ApiKeyObject> {
    return this.request('DELETE', `/v1/keys/${seg(id)}`, {}, apiKeySchema);
  }

  // ---- who am I -------------------------------------------------------------

  /** The credential in use as the engine sees it: kind, participant, groups, operations, expiry. */
  me(): Promise<PrincipalObject> {
    return this.request('GET', '/v1/me', {}, principalObjectSchema);
  }

  // ---- sessions (a secret key) ---------------------------------------------

  /** Mint a session token `ek_…` (docs/auth.md); the answer holds the token, once. */
  createSession(body: CreateSessionBody): Promise<SessionObject & { token: string }> {
    return this.request('POST', '/v1/sessions', { body }, sessionObjectSchema) as Promise<SessionObject & { token: string }>;
  }

  /** Revoke a session: its token is refused from now on (in every engine process within 500 ms). */
  revokeSession(sessionId: string): Promise<SessionObject> {
    return this.request('DELETE', `/v1/sessions/${seg(sessionId)}`, {}, sessionObjectSchema);
  }
}
