/**
 * The MCP tools' view of the engine: the one engine client
 * (src/client/engineApi.ts, which builds the requests and turns every error
 * envelope into the typed `AbloError`), with the session's conventions:
 * writes present the claims the session holds (`Ablo-Claim`), and a hung
 * engine fails a tool call after `timeoutMs` instead of hanging it.
 * Both transports use this: `ablo mcp` against the configured URL, the
 * engine's `/mcp` endpoint against its own URL over loopback.
 *
 * The credential can change under it (`useCredential`: a self-minted
 * session token refreshed before it expires, ./credential.ts); a request
 * refused with `token_expired` while a refresher is set refreshes and is
 * sent once more.
 */
import { EngineApiClient, type ListRequest } from '../src/client/engineApi.js';
import { AbloAuthenticationError } from '../src/errors.js';
import type { Deleted, RowPage, SchemaDocument } from '../src/protocol/api.js';
import type { Claim, ClaimGrant, ClaimReleased, ClaimRequestBody, ClaimState } from '../src/protocol/claims.js';
import type { CommitReceipt, CommitRequest, OnStale, ParticipantRef, Row } from '../src/protocol/commit.js';
import type { PrincipalObject } from '../src/protocol/operations.js';
import type { PresenceMembers } from '../src/protocol/presence.js';

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
  private client: EngineApiClient;
  private refresher: (() => Promise<void>) | null = null;

  constructor(readonly options: EngineApiOptions) {
    this.client = this.clientFor(options.apiKey, options.participant);
  }

  private clientFor(apiKey: string, participant: ParticipantRef | undefined): EngineApiClient {
    return new EngineApiClient({
      baseURL: this.options.url.split(','),
      apiKey,
      ...(participant ? { participant } : {}),
      ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
      timeoutMs: this.options.timeoutMs ?? 60_000,
    });
  }

  get url(): string {
    return this.options.url;
  }

  /** Send this credential from now on (a refreshed session token), as its own participant (no `Ablo-Participant`). */
  useCredential(apiKey: string): void {
    this.client = this.clientFor(apiKey, undefined);
  }

  /** When set, a request refused with `token_expired` calls it (once per credential) and is sent once more. */
  refreshOnExpiry(refresh: (() => Promise<void>) | null): void {
    this.refresher = refresh;
  }

  private async call<T>(send: (client: EngineApiClient) => Promise<T>): Promise<T> {
    const client = this.client;
    try {
      return await send(client);
    } catch (err) {
      if (!this.refresher || !(err instanceof AbloAuthenticationError && err.code === 'token_expired')) throw err;
      // Another call may have refreshed already: then only the retry.
      if (this.client === client) await this.refresher();
      return send(this.client);
    }
  }

  /** The credential as the engine sees it (`GET /v1/me`). */
  me(): Promise<PrincipalObject> {
    return this.call((c) => c.me());
  }

  schema(): Promise<SchemaDocument> {
    return this.call((c) => c.schema());
  }

  /** Long-poll: the schema once its hash is not `changedFrom`, or as it is after `waitSeconds`. */
  schemaChange(changedFrom: string | null, waitSeconds: number, signal?: AbortSignal): Promise<SchemaDocument> {
    return this.call((c) => c.schemaChange(changedFrom, waitSeconds, signal ? { signal } : {}));
  }

  list(model: string, query: EngineListQuery): Promise<ListPage> {
    return this.call((c) => c.list(model, query));
  }

  get(model: string, id: string): Promise<Row> {
    return this.call((c) => c.get(model, id));
  }

  create(model: string, body: { data: Record<string, unknown>; id?: string }, claimIds: readonly string[]): Promise<Row> {
    return this.call((c) => c.create(model, body, { claimIds }));
  }

  /** The row after the update, or the receipt when `onStale: 'notify'` held it. */
  update(model: string, id: string, body: { data: Record<string, unknown>; readAt?: number; onStale?: OnStale }, claimIds: readonly string[]): Promise<Row | CommitReceipt> {
    return this.call((c) => c.update(model, id, body, { claimIds }));
  }

  delete(model: string, id: string, body: { readAt?: number; onStale?: OnStale }, claimIds: readonly string[]): Promise<DeletedResult | CommitReceipt> {
    return this.call((c) => c.delete(model, id, body, { claimIds }));
  }

  commit(body: CommitRequest, claimIds: readonly string[]): Promise<CommitReceipt> {
    return this.call((c) => c.commit(body, { claimIds }));
  }

  /** Acquire (long-polls while waiting). `signal` aborts the wait (`cancelled`); the engine then drops the request from the line. */
  claim(model: string, id: string, body: ClaimBody, claimIds: readonly string[], signal?: AbortSignal): Promise<ClaimGrant> {
    return this.call((c) => c.claim(model, id, body, { claimIds, ...(signal ? { signal } : {}) }));
  }

  claimState(model: string, id: string): Promise<ClaimState> {
    return this.call((c) => c.claimState(model, id));
  }

  renew(claimId: string, leaseSeconds?: number): Promise<Claim> {
    return this.call((c) => c.renew(claimId, leaseSeconds));
  }

  release(claimId: string): Promise<ClaimReleased> {
    return this.call((c) => c.release(claimId));
  }

  /** Who is on one sync group now. */
  presence(group: string): Promise<PresenceMembers> {
    return this.call((c) => c.presence(group));
  }
}
