/**
 * The one guard: every surface checks a principal here (HTTP routes, the
 * WebSocket hello and every frame after it, sync plugin frames, claims,
 * `/mcp`). It answers four questions:
 *
 * - is the credential still good (not revoked while this engine ran, not
 *   expired)? `assertActive`, 401;
 * - may it do this? `assertOperation`, 403 `operation_not_allowed`;
 * - may it use these sync groups? `assertGroups` (a hello's groups),
 *   403 `group_not_allowed`; `sees` / `visibleRow` / `listRows` / `changes`
 *   (reads filtered by a row's groups: a row it may not see is "not found").
 *   Commits are kept inside the principal's groups by `planCommit`, with
 *   `seesGroups` on the rows as they are in the commit's transaction;
 * - may it act for this participant? `actor`, 403 `participant_not_allowed`.
 *
 * With API keys (every group, every operation) nothing is filtered and no
 * extra read is made: each check is a comparison.
 */
import { AbloAuthenticationError, AbloNotFoundError, AbloPermissionError, type AbloError } from '../../errors.js';
import type { ParticipantRef } from '../../protocol/commit.js';
import type { ListQuery } from '../../protocol/listQuery.js';
import type { CompiledModel } from '../../schema/compile.js';
import type { ChangeRecord, ListResult, StoredRow } from '../storage/types.js';
import { actingAs, type Actor, type Authenticator, type CredentialRevoked, type Operation, type Principal } from './principal.js';

/** Whether `group` matches one of `patterns` (`'all'`, exact names, or prefixes ending in `*`). */
export function groupAllowed(patterns: Principal['groups'], group: string): boolean {
  if (patterns === 'all') return true;
  for (const p of patterns) {
    if (p === group) return true;
    if (p.endsWith('*') && group.startsWith(p.slice(0, -1))) return true;
  }
  return false;
}

/**
 * Whether patterns see something in `groups` (or, for a change that moved a
 * row, in `prevGroups`): a row (or change) is inside a principal's groups
 * when one of its groups is allowed. Reads filter with it and `planCommit`
 * keeps a scoped principal's writes inside with it.
 */
export function seesGroups(patterns: Principal['groups'], groups: readonly string[], prevGroups?: readonly string[] | null): boolean {
  if (patterns === 'all') return true;
  for (const g of groups) if (groupAllowed(patterns, g)) return true;
  if (prevGroups) for (const g of prevGroups) if (groupAllowed(patterns, g)) return true;
  return false;
}

/**
 * The operation an HTTP request needs, from its method and path segments
 * (`['v1', 'models', 'tasks', 't1', 'claim']`). Reads are `read`; row writes
 * and commits `write`; claim, release and renew `claim`; schema pushes,
 * keys and sessions `admin`.
 */
export function httpOperation(method: string, segments: readonly string[]): Operation {
  const [, resource] = segments;
  const reading = method === 'GET' || method === 'HEAD';
  if (resource === 'keys' || resource === 'sessions') return 'admin';
  if (resource === 'schema') return reading ? 'read' : 'admin';
  if (resource === 'claims') return 'claim';
  if (resource === 'models' && segments[4] === 'claim') return reading ? 'read' : 'claim';
  return reading ? 'read' : 'write';
}

const sameParticipant = (a: ParticipantRef, b: ParticipantRef): boolean => a.kind === b.kind && a.id === b.id;

export class Guard {
  /** Credentials revoked while this engine runs, with what their holders are told. */
  private readonly revoked = new Map<string, AbloError>();
  private readonly unsubscribe: () => void;

  constructor(
    readonly authenticator: Authenticator,
    private readonly now: () => number = Date.now,
  ) {
    // Subscribed first: every later listener (sockets, claims, sessions) sees the credential revoked here already.
    this.unsubscribe = authenticator.onRevoked((e) => this.revoked.set(e.credentialId, e.error));
  }

  /** Ask the authenticator (once per request or connection) and check the answer is active. */
  async authenticate(credential: string | undefined): Promise<Principal> {
    const principal = await this.authenticator.authenticate(credential);
    this.assertActive(principal);
    return principal;
  }

  /** Hear of revoked credentials (after this guard marked them revoked). */
  onRevoked(listener: (event: CredentialRevoked) => void): () => void {
    return this.authenticator.onRevoked(listener);
  }

  /** 401 when the credential was revoked or has expired; work queued under it checks this again when its turn comes. */
  assertActive(principal: Principal): void {
    const revoked = this.revoked.get(principal.credentialId);
    if (revoked) throw revoked;
    if (principal.expiresAt !== null && Date.parse(principal.expiresAt) <= this.now()) {
      // Session tokens (`ses_…`) say `token_expired`: the SDK refreshes and reconnects.
      throw new AbloAuthenticationError(`This credential expired at ${principal.expiresAt}. Get a new one.`, {
        code: principal.credentialId.startsWith('ses_') ? 'token_expired' : 'credential_expired',
        expiresAt: principal.expiresAt,
      });
    }
  }

  /** Active, and allowed `operation`; 403 `operation_not_allowed` otherwise. */
  assertOperation(principal: Principal, operation: Operation): void {
    this.assertActive(principal);
    if (principal.operations.includes(operation)) return;
    throw new AbloPermissionError(
      `This credential may not ${operation} (it allows: ${principal.operations.join(', ') || 'nothing'}). Use a credential with the "${operation}" operation.`,
      { code: 'operation_not_allowed', operation, allowed: [...principal.operations] },
    );
  }

  /** Every requested group (a hello's) must be within the principal's; 403 `group_not_allowed` names the others. */
  assertGroups(principal: Principal, requested: readonly string[]): void {
    if (principal.groups === 'all') return;
    const refused = requested.filter((g) => !groupAllowed(principal.groups, g));
    if (refused.length === 0) return;
    throw new AbloPermissionError(
      `This credential may not use sync group${refused.length === 1 ? '' : 's'} ${refused.map((g) => JSON.stringify(g)).join(', ')}; it allows ${principal.groups.map((g) => JSON.stringify(g)).join(', ') || 'none'}.`,
      { code: 'group_not_allowed', groups: refused, allowed: [...principal.groups] },
    );
  }

  /** Whether the principal sees something in `groups` (or, for a change that moved a row, in `prevGroups`). */
  sees(principal: Principal, groups: readonly string[], prevGroups?: readonly string[] | null): boolean {
    return seesGroups(principal.groups, groups, prevGroups);
  }

  /** The row when the principal may see it, else null (the caller answers "not found", as for a missing row). */
  visibleRow<R extends StoredRow>(principal: Principal, model: CompiledModel, row: R | null): R | null {
    if (!row || principal.groups === 'all') return row;
    return this.sees(principal, model.syncGroups(row)) ? row : null;
  }

  /** 404 `row_not_found` unless the row exists and the principal sees it (claims and plugin frames on a row). */
  async assertRow(principal: Principal, model: CompiledModel, id: string, getRow: (model: string, id: string) => Promise<StoredRow | null>): Promise<void> {
    if (principal.groups === 'all') return;
    if (this.visibleRow(principal, model, await getRow(model.name, id))) return;
    throw new AbloNotFoundError(`No ${model.name} row with id "${id}".`, { code: 'row_not_found', model: model.name, id });
  }

  /**
   * A list page of the rows the principal sees. Scoped principals read on
   * through later storage pages (keyset, from the last row read) until the
   * page is full, so `startingAfter` keeps working.
   */
  async listRows(principal: Principal, model: CompiledModel, query: ListQuery, list: (query: ListQuery) => Promise<ListResult>): Promise<ListResult> {
    if (principal.groups === 'all') return list(query);
    const rows: StoredRow[] = [];
    let q = query;
    for (;;) {
      const page = await list(q);
      for (const row of page.rows) {
        if (!this.sees(principal, model.syncGroups(row))) continue;
        if (rows.length === query.limit) return { rows, hasMore: true };
        rows.push(row);
      }
      if (!page.hasMore || page.rows.length === 0) return { rows, hasMore: false };
      q = { ...query, startingAfter: page.rows.at(-1)!.id };
    }
  }

  /** Up to `limit` change-log entries after `after` that the principal sees, and whether more follow. */
  async changes(
    principal: Principal,
    after: number,
    limit: number,
    read: (after: number, limit: number) => Promise<ChangeRecord[]>,
  ): Promise<{ changes: ChangeRecord[]; hasMore: boolean }> {
    if (principal.groups === 'all') {
      const page = await read(after, limit + 1);
      return { changes: page.slice(0, limit), hasMore: page.length > limit };
    }
    const out: ChangeRecord[] = [];
    let from = after;
    for (;;) {
      const page = await read(from, limit + 1);
      for (const c of page) {
        if (!this.sees(principal, c.groups, c.prevGroups)) continue;
        if (out.length === limit) return { changes: out, hasMore: true };
        out.push(c);
      }
      if (page.length <= limit) return { changes: out, hasMore: false };
      from = page.at(-1)!.syncId;
    }
  }

  /**
   * Who acts: the principal's own participant, acting for `requested` (the
   * `Ablo-Participant` header, `hello.participant`) when it names another.
   * Naming someone else takes `admin` (API keys have it; a session token acts
   * as its own participant): 403 `participant_not_allowed` otherwise.
   */
  actor(principal: Principal, requested?: ParticipantRef): Actor {
    const own: Actor = { writtenBy: principal.participant, credentialId: principal.credentialId };
    if (!requested || sameParticipant(requested, principal.participant)) return own;
    if (principal.operations.includes('admin')) return { ...own, onBehalfOf: requested };
    throw new AbloPermissionError(
      `This credential acts as ${principal.participant.kind}:${principal.participant.id}; it may not act as ${requested.kind}:${requested.id}. Leave the participant out.`,
      { code: 'participant_not_allowed', participant: principal.participant },
    );
  }

  /** The participant who acts (claims, presence): `requested` when the principal may act for it, else its own (see `actor`). */
  participant(principal: Principal, requested?: ParticipantRef): ParticipantRef {
    return actingAs(this.actor(principal, requested));
  }

  close(): void {
    this.unsubscribe();
  }
}
