/**
 * The MCP tools' view of the engine: its HTTP API, through the SDK's
 * `HttpClient` (every error envelope comes back as the typed `AbloError`).
 * Both transports use this: `ablo mcp` against the configured URL, the
 * engine's `/mcp` endpoint against its own URL over loopback.
 */
import { HttpClient } from '../src/client/http.js';
import { AbloConnectionError } from '../src/errors.js';
import type { ClaimGrant, Claim, ClaimReleased, ClaimState } from '../src/protocol/claims.js';
import type { CommitReceipt, CommitRequest, OnStale, ParticipantRef, Row } from '../src/protocol/commit.js';
import type { OrderBy } from '../src/protocol/listQuery.js';
import type { SerializedSchema } from '../src/schema/descriptor.js';

export interface EngineApiOptions {
  url: string;
  apiKey: string;
  participant?: ParticipantRef;
  fetch?: typeof fetch;
  /** Give up on a request (other than a waiting claim) after this long (default 60 s). */
  timeoutMs?: number;
}

export interface SchemaDocument {
  object: 'schema';
  version: number;
  hash: string | null;
  schema: SerializedSchema | null;
}

export interface ListPage {
  object: 'list';
  data: Row[];
  hasMore: boolean;
}

export interface EngineListQuery {
  where?: Record<string, unknown>;
  orderBy?: OrderBy[];
  limit: number;
  startingAfter?: string;
}

export interface DeletedResult {
  object: 'deleted';
  model: string;
  id: string;
  deleted: true;
  syncId: number;
}

export interface ClaimBody {
  wait?: boolean;
  leaseSeconds?: number;
  action?: string;
  waitSeconds?: number;
}

const seg = (s: string): string => encodeURIComponent(s);

/** `Ablo-Claim: a,b` for the claims a session holds (no header when it holds none). */
function claimHeader(claimIds: readonly string[]): Record<string, string> {
  return claimIds.length > 0 ? { 'ablo-claim': claimIds.join(',') } : {};
}

export class EngineApi {
  private readonly http: HttpClient;

  constructor(readonly options: EngineApiOptions) {
    const base = options.fetch ?? globalThis.fetch;
    const timeoutMs = options.timeoutMs ?? 60_000;
    this.http = new HttpClient({
      baseURL: options.url,
      apiKey: options.apiKey,
      ...(options.participant ? { participant: options.participant } : {}),
      // A hung engine fails the tool call instead of hanging it.
      fetch: (input, init) => base(input, { ...init, signal: AbortSignal.timeout(timeoutMs) }),
    });
  }

  get url(): string {
    return this.options.url;
  }

  schema(): Promise<SchemaDocument> {
    return this.http.request('GET', '/v1/schema');
  }

  list(model: string, query: EngineListQuery): Promise<ListPage> {
    const params = new URLSearchParams();
    if (query.where && Object.keys(query.where).length > 0) params.set('where', JSON.stringify(query.where));
    if (query.orderBy && query.orderBy.length > 0) params.set('orderBy', query.orderBy.map((o) => `${o.field}:${o.direction}`).join(','));
    params.set('limit', String(query.limit));
    if (query.startingAfter !== undefined) params.set('startingAfter', query.startingAfter);
    return this.http.request('GET', `/v1/models/${seg(model)}?${params.toString()}`);
  }

  get(model: string, id: string): Promise<Row> {
    return this.http.request('GET', `/v1/models/${seg(model)}/${seg(id)}`);
  }

  create(model: string, body: { data: Record<string, unknown>; id?: string }, claimIds: readonly string[]): Promise<Row> {
    return this.http.request('POST', `/v1/models/${seg(model)}`, body, claimHeader(claimIds));
  }

  /** The row after the update, or the receipt when `onStale: 'notify'` held it. */
  update(
    model: string,
    id: string,
    body: { data: Record<string, unknown>; readAt?: number; onStale?: OnStale },
    claimIds: readonly string[],
  ): Promise<Row | CommitReceipt> {
    return this.http.request('PATCH', `/v1/models/${seg(model)}/${seg(id)}`, body, claimHeader(claimIds));
  }

  delete(model: string, id: string, body: { readAt?: number; onStale?: OnStale }, claimIds: readonly string[]): Promise<DeletedResult | CommitReceipt> {
    return this.http.request('DELETE', `/v1/models/${seg(model)}/${seg(id)}`, body, claimHeader(claimIds));
  }

  commit(body: CommitRequest, claimIds: readonly string[]): Promise<CommitReceipt> {
    return this.http.request('POST', '/v1/commits', body, claimHeader(claimIds));
  }

  /** Acquire (long-polls while waiting). `signal` aborts the wait; the engine then drops the request from the line. */
  async claim(model: string, id: string, body: ClaimBody, claimIds: readonly string[], signal?: AbortSignal): Promise<ClaimGrant> {
    const base = this.options.fetch ?? globalThis.fetch;
    const client = signal
      ? new HttpClient({
          baseURL: this.options.url,
          apiKey: this.options.apiKey,
          ...(this.options.participant ? { participant: this.options.participant } : {}),
          fetch: (input, init) => base(input, { ...init, signal }),
        })
      : this.http;
    try {
      return await client.request('POST', `/v1/models/${seg(model)}/${seg(id)}/claim`, body, claimHeader(claimIds));
    } catch (err) {
      if (signal?.aborted) throw new AbloConnectionError('The claim request was cancelled.', { code: 'cancelled' });
      throw err;
    }
  }

  claimState(model: string, id: string): Promise<ClaimState> {
    return this.http.request('GET', `/v1/models/${seg(model)}/${seg(id)}/claim`);
  }

  renew(claimId: string, leaseSeconds?: number): Promise<Claim> {
    return this.http.request('POST', `/v1/claims/${seg(claimId)}/renew`, leaseSeconds !== undefined ? { leaseSeconds } : {});
  }

  release(claimId: string): Promise<ClaimReleased> {
    return this.http.request('DELETE', `/v1/claims/${seg(claimId)}`);
  }
}
