/**
 * The one guard: every surface checks a principal here (HTTP routes, the
 * WebSocket hello and every frame after it, sync plugin frames, claims,
 * `/mcp`). It answers four questions:
 *
 * - is the credential still good (not revoked while this engine ran, not
 *   expired)? `assertActive`, 401;
 * - may it do this? `assertOperation` (`assertCommit`: each operation of a
 *   commit), 403 `operation_not_allowed`;
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
import type { Change, ParticipantRef } from '../../protocol/commit.js';
import { patternMatches } from '../../protocol/groups.js';
import type { ListQuery } from '../../protocol/listQuery.js';
import type { CompiledModel } from '../../schema/compile.js';
import type { ChangeRecord, ListResult, StoredRow } from '../storage/types.js';
import { actingAs, WRITE_OPERATIONS, type Actor, type Authenticator, type CredentialRevoked, type Operation, type Principal } from './principal.js';

/** Whether `group` matches one of `patterns` (`'all'`, exact names, or prefixes ending in `*`). */
export function groupAllowed(patterns: Principal['groups'], group: string): boolean {
  if (patterns === 'all') return true;
  for (const p of patterns) if (patternMatches(p, group)) return true;
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
 * A change as a receiver that sees the groups `visible` allows gets it. One
 * whose row is (still) in a group it sees comes whole. One that moved the row
 * out of every group it sees comes as a departure: the row's id, no data, no
 * fields, no new groups (where the row went and what it holds now are not the
 * receiver's business), and only the previous groups it sees; clients drop
 * the row. Callers pass only changes the receiver sees by `groups` or
 * `prevGroups`.
 */
export function changeAsSeen<C extends Change>(change: C, visible: (group: string) => boolean): C {
  for (const g of change.groups) if (visible(g)) return change;
  return { ...change, action: 'update', fields: [], data: null, groups: [], prevGroups: (change.prevGroups ?? []).filter(visible) };
}

/**
 * The operation an HTTP request needs, from its method and path segments
 * (`['v1', 'models', 'tasks', 't1', 'claim']`). Reads are `read`; a row
 * create, update or delete its own operation; a commit (`POST /v1/commits`)
 * is `'commit'`: each of its operations is checked (`assertCommit`); `GET
 * /v1/me` is `'self'` (any active credential); claim,
 * release and renew `claim`; keys `keys`; sessions `sessions`; schema pushes
 * `schema`; listing a group's presence (`GET /v1/presence`) `read`.
 */
export function httpOperation(method: string, segments: readonly string[]): Operation | 'commit' | 'self' {
  const [, resource] = segments;
  const reading = method === 'GET' || method === 'HEAD';
  if (resource === 'keys') return 'keys';
  if (resource === 'sessions') return 'sessions';
  // Who am I: any valid credential may ask, whatever it may do.
  if (resource === 'me') return 'self';
  if (resource === 'schema') return reading ? 'read' : 'schema';
  if (resource === 'claims') return 'claim';
  if (resource === 'presence') return 'read';
  if (resource === 'commits') return reading ? 'read' : 'commit';
  if (resource === 'models') {
    if (segments[4] === 'claim') return reading ? 'read' : 'claim';
    if (reading) return 'read';
    if (method === 'POST' && segments.length === 3) return 'create';
    if (method === 'PATCH') return 'update';
    if (method === 'DELETE') return 'delete';
  }
  return reading ? 'read' : 'create';
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

  /**
   * Active, and allowed every operation of `commit` (`create`, `update`,
   * `delete`, each named in the answer when refused). An empty commit needs
   * one of the three.
   */
  assertCommit(principal: Principal, commit: { operations: readonly { op: 'create' | 'update' | 'delete' }[] }): void {
    this.assertActive(principal);
    if (commit.operations.length === 0) {
      if (!WRITE_OPERATIONS.some((op) => principal.operations.includes(op))) this.assertOperation(principal, 'create');
      return;
    }
    for (const o of commit.operations) if (!principal.operations.includes(o.op)) this.assertOperation(principal, o.op);
  }

  /** Active, and allowed at least one of create, update, delete (a commit's door; each operation is checked with it). */
  assertSomeWrite(principal: Principal): void {
    this.assertActive(principal);
    if (WRITE_OPERATIONS.some((op) => principal.operations.includes(op))) return;
    this.assertOperation(principal, 'create');
  }

  /** Only a secret key (`sk_…`) may do this (mint sessions, act as another participant); 403 `secret_key_required`. */
  assertSecret(principal: Principal, what: string): void {
    this.assertActive(principal);
    if (principal.kind === 'secret') return;
    throw new AbloPermissionError(`Only a secret key (sk_…) may ${what}; this credential is ${principal.kind ?? 'custom'}.`, {
      code: 'secret_key_required',
      credentialKind: principal.kind ?? 'custom',
    });
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
        out.push(changeAsSeen(c, (g) => groupAllowed(principal.groups, g)));
      }
      if (page.length <= limit) return { changes: out, hasMore: false };
      from = page.at(-1)!.syncId;
    }
  }

  /**
   * Who acts: the principal's own participant, acting for `requested` (the
   * `Ablo-Participant` header, `hello.participant`) when it names another.
   * Naming someone else takes a secret key (restricted keys and session
   * tokens act as their own participant): 403 `participant_not_allowed` otherwise.
   */
  actor(principal: Principal, requested?: ParticipantRef): Actor {
    const own: Actor = { writtenBy: principal.participant, credentialId: principal.credentialId };
    if (!requested || sameParticipant(requested, principal.participant)) return own;
    if (principal.kind === 'secret') return { ...own, onBehalfOf: requested };
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
