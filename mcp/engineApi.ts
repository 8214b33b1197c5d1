/**
 * The MCP tools' view of the engine: the one engine client
 * (src/client/engineApi.ts, which builds the requests and turns every error
 * envelope into the typed `AbloError`), with the session's conventions:
 * writes present the claims the session holds (`Ablo-Claim`), and a hung
 * engine fails a tool call after `timeoutMs` instead of hanging it.
 * Both transports use this: `ablo mcp` against the configured URL, the
 * engine's `/mcp` endpoint against its own URL over loopback.
 */
import { EngineApiClient, type ListRequest } from '../src/client/engineApi.js';
import type { Deleted, RowPage, SchemaDocument } from '../src/protocol/api.js';
import type { Claim, ClaimGrant, ClaimReleased, ClaimRequestBody, ClaimState } from '../src/protocol/claims.js';
import type { CommitReceipt, CommitRequest, OnStale, ParticipantRef, Row } from '../src/protocol/commit.js';

export interface EngineApiOptions {
  /** The engine's URL, or several engines of one database separated by commas (requests fail over between them). */
  url: string;
  apiKey: string;
  participant?: ParticipantRef;
  fetch?: typeof fetch;
  /** Give up on a request (other than a waiting claim) after this long (default 60 s). */
  timeoutMs?: number;
}

export type { SchemaDocument };
export type ListPage = RowPage;
export type DeletedResult = Deleted;
export type EngineListQuery = ListRequest & { limit: number };
export type ClaimBody = Omit<ClaimRequestBody, 'maxQueueDepth'>;

export class EngineApi {
  private readonly client: EngineApiClient;

  constructor(readonly options: EngineApiOptions) {
    this.client = new EngineApiClient({
      baseURL: options.url.split(','),
      apiKey: options.apiKey,
      ...(options.participant ? { participant: options.participant } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
      timeoutMs: options.timeoutMs ?? 60_000,
    });
  }

  get url(): string {
    return this.options.url;
  }

  schema(): Promise<SchemaDocument> {
    return this.client.schema();
  }

  list(model: string, query: EngineListQuery): Promise<ListPage> {
    return this.client.list(model, query);
  }

  get(model: string, id: string): Promise<Row> {
    return this.client.get(model, id);
  }

  create(model: string, body: { data: Record<string, unknown>; id?: string }, claimIds: readonly string[]): Promise<Row> {
    return this.client.create(model, body, { claimIds });
  }

  /** The row after the update, or the receipt when `onStale: 'notify'` held it. */
  update(model: string, id: string, body: { data: Record<string, unknown>; readAt?: number; onStale?: OnStale }, claimIds: readonly string[]): Promise<Row | CommitReceipt> {
    return this.client.update(model, id, body, { claimIds });
  }

  delete(model: string, id: string, body: { readAt?: number; onStale?: OnStale }, claimIds: readonly string[]): Promise<DeletedResult | CommitReceipt> {
    return this.client.delete(model, id, body, { claimIds });
  }

  commit(body: CommitRequest, claimIds: readonly string[]): Promise<CommitReceipt> {
    return this.client.commit(body, { claimIds });
  }

  /** Acquire (long-polls while waiting). `signal` aborts the wait (`cancelled`); the engine then drops the request from the line. */
  claim(model: string, id: string, body: ClaimBody, claimIds: readonly string[], signal?: AbortSignal): Promise<ClaimGrant> {
    return this.client.claim(model, id, body, { claimIds, ...(signal ? { signal } : {}) });
  }

  claimState(model: string, id: string): Promise<ClaimState> {
    return this.client.claimState(model, id);
  }

  renew(claimId: string, leaseSeconds?: number): Promise<Claim> {
    return this.client.renew(claimId, leaseSeconds);
  }

  release(claimId: string): Promise<ClaimReleased> {
    return this.client.release(claimId);
  }
}
