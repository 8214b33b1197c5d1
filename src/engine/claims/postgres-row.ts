/**
 * One change of one row's claims, as one Postgres transaction:
 *
 *   1. the storage's head row `FOR SHARE` (a commit holding it `FOR UPDATE`
 *      between its claim check and its COMMIT makes this wait, so no grant
 *      lands in between, and the row a grant reads is the row as committed);
 *   2. the row's lock (`_ablo_claim_rows … FOR UPDATE`): changes of one row's
 *      queue are serialized, so `position` (from a sequence, taken under the
 *      lock) is request order;
 *   3. the change (`fn`), then the next in line is granted if the row is free;
 *   4. last, the claim counter (`_ablo_claim_head … FOR UPDATE`): the event
 *      gets the next `seq`, is stored, and a NOTIFY carries only that seq.
 */
import type pg from 'pg';
import { toErrorEnvelope, type ErrorEnvelope } from '../../errors.js';
import type { ParticipantRef } from '../../protocol/commit.js';
import type { ClaimTableNames } from './postgres-tables.js';

/** One request or holder as stored (timestamps as ISO strings). */
export interface ClaimRecord {
  claimId: string;
  owner: string;
  credentialId: string | null;
  participant: ParticipantRef;
  action: string | null;
  leaseSeconds: number;
  requestedAt: string;
  held: boolean;
  acquiredAt: string | null;
  leaseUntil: string | null;
  keepPlaceMs: number;
  /** A detached request (its waiter went away, keeping its place) leaves the line at this time. */
  keepUntil: string | null;
}

/** What `_ablo_claim_events.body` holds: a row's claim state after one change. */
export interface RowEventBody {
  model: string;
  id: string;
  holder: ClaimRecord | null;
  queue: ClaimRecord[];
  /** The row's sync groups, null until the row was read once. */
  groups: string[] | null;
  /** Groups to tell of this event when they differ from `groups` (a group move: old and new). */
  publish?: string[];
  /** Owners that just left the row. */
  leaving: string[];
  /** Requests that left the row, with the error their waiters get. */
  gone: Record<string, ErrorEnvelope['error']>;
}

export interface NewClaim {
  claimId: string;
  owner: string;
  credentialId: string | null;
  participant: ParticipantRef;
  action: string | null;
  leaseSeconds: number;
  keepPlaceMs: number;
  ticket: string | null;
  /** The engine process whose waiter waits for it. */
  processId: string;
}

const COLUMNS = `claim_id, owner, credential_id, participant, action, lease_seconds, requested_at, held, acquired_at, lease_until, keep_place_ms, keep_until`;

function iso(v: unknown): string | null {
  return v instanceof Date ? v.toISOString() : v == null ? null : String(v);
}

export function recordOf(r: Record<string, unknown>): ClaimRecord {
  return {
    claimId: r.claim_id as string,
    owner: r.owner as string,
    credentialId: (r.credential_id as string | null) ?? null,
    participant: r.participant as ParticipantRef,
    action: (r.action as string | null) ?? null,
    leaseSeconds: Number(r.lease_seconds),
    requestedAt: iso(r.requested_at)!,
    held: r.held === true,
    acquiredAt: iso(r.acquired_at),
    leaseUntil: iso(r.lease_until),
    keepPlaceMs: Number(r.keep_place_ms),
    keepUntil: iso(r.keep_until),
  };
}

/** Read one row's claims: holder first, then the queue in request order. */
/** The claims of many rows (one statement), by `model \0 id`, each in `readRowClaims` order. */
export async function readManyRowClaims(db: pg.ClientBase | pg.Pool, t: ClaimTableNames, models: string[], ids: string[]): Promise<Map<string, ClaimRecord[]>> {
  const res = await db.query({
    name: `ablo_claims_many_${t.claims}`,
    text: `SELECT model, row_id, ${COLUMNS} FROM ${t.claims} WHERE (model, row_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) ORDER BY model, row_id, held DESC, position`,
    values: [models, ids],
  });
  const out = new Map<string, ClaimRecord[]>();
  for (const row of res.rows as Array<{ model: string; row_id: string }>) {
    const key = `${row.model}\u0000${row.row_id}`;
    let list = out.get(key);
    if (!list) out.set(key, (list = []));
    list.push(recordOf(row as never));
  }
  return out;
}

export async function readRowClaims(db: pg.ClientBase | pg.Pool, t: ClaimTableNames, model: string, id: string): Promise<ClaimRecord[]> {
  const res = await db.query(`SELECT ${COLUMNS} FROM ${t.claims} WHERE model = $1 AND row_id = $2 ORDER BY held DESC, position`, [model, id]);
  return res.rows.map(recordOf);
}

export class RowTx {
  claims: ClaimRecord[] = [];
  groups: string[] | null = null;
  private changed = false;
  private publishGroups: string[] | undefined;
  private readonly leaving = new Set<string>();
  private readonly gone: Record<string, ErrorEnvelope['error']> = {};

  constructor(
    readonly client: pg.ClientBase,
    readonly t: ClaimTableNames,
    readonly model: string,
    readonly id: string,
  ) {}

  get holder(): ClaimRecord | null {
    return this.claims[0]?.held ? this.claims[0] : null;
  }

  get queue(): ClaimRecord[] {
    return this.claims.filter((c) => !c.held);
  }

  find(claimId: string): ClaimRecord | undefined {
    return this.claims.find((c) => c.claimId === claimId);
  }

  async reload(): Promise<void> {
    this.claims = await readRowClaims(this.client, this.t, this.model, this.id);
  }

  /** Any statement that changes the row's claims (marks the transaction as one that publishes an event). */
  async run(sql: string, params: unknown[]): Promise<pg.QueryResult> {
    this.changed = true;
    return this.client.query(sql, params);
  }

  async insert(c: NewClaim, held: boolean): Promise<void> {
    await this.run(
      `INSERT INTO ${this.t.claims} (claim_id, model, row_id, position, owner, credential_id, participant, action, lease_seconds, held, acquired_at, lease_until, keep_place_ms, ticket, process_id)
       VALUES ($1, $2, $3, nextval('${this.t.order}'), $4, $5, $6, $7, $8::integer, $9::boolean, CASE WHEN $9::boolean THEN now() END,
               CASE WHEN $9::boolean THEN now() + $8::integer * interval '1 second' END, $10::integer, $11, $12)`,
      [c.claimId, this.model, this.id, c.owner, c.credentialId, JSON.stringify(c.participant), c.action, c.leaseSeconds, held, c.keepPlaceMs, c.ticket, c.processId],
    );
    await this.reload();
  }

  /** A request or holder leaves the row; its waiters (in whatever process) get `reason`. */
  async remove(claimId: string, reason: unknown): Promise<void> {
    const c = this.find(claimId);
    if (!c) return;
    await this.run(`DELETE FROM ${this.t.claims} WHERE claim_id = $1`, [claimId]);
    this.leaving.add(c.owner);
    this.gone[claimId] = toErrorEnvelope(reason).error;
    await this.reload();
  }

  /** A change of the row's sync groups: the event is told to the old and the new groups. */
  async setGroups(groups: string[]): Promise<boolean> {
    const before = this.groups;
    if (before && before.length === groups.length && before.every((g, i) => g === groups[i])) return false;
    await this.run(`UPDATE ${this.t.rows} SET groups = $3 WHERE model = $1 AND row_id = $2`, [this.model, this.id, JSON.stringify(groups)]);
    this.groups = groups;
    this.publishGroups = [...new Set([...(before ?? []), ...groups])];
    return true;
  }

  /** Mark a change that needs no statement (e.g. a renewal that was written with `run`). */
  touch(): void {
    this.changed = true;
  }

  /** The row is free and someone waits: the first in line holds it (a detached one until its keep-place time at most). */
  private async promote(): Promise<void> {
    if (this.holder || this.claims.length === 0) return;
    await this.client.query(
      `UPDATE ${this.t.claims} SET held = true, acquired_at = now(),
         lease_until = CASE WHEN keep_until IS NULL THEN now() + lease_seconds * interval '1 second'
                            ELSE least(now() + lease_seconds * interval '1 second', keep_until) END
       WHERE claim_id = $1`,
      [this.claims[0]!.claimId],
    );
    await this.reload();
  }

  /** Grant the next in line if the row is free, then store and announce the event. Returns its seq (null: nothing changed). */
  async publish(): Promise<number | null> {
    if (!this.changed) return null;
    await this.promote();
    const body: RowEventBody = {
      model: this.model,
      id: this.id,
      holder: this.holder,
      queue: this.queue,
      groups: this.groups,
      ...(this.publishGroups ? { publish: this.publishGroups } : {}),
      leaving: [...this.leaving],
      gone: this.gone,
    };
    const seq = Number((await this.client.query(`UPDATE ${this.t.claimHead} SET seq = seq + 1 RETURNING seq`)).rows[0].seq);
    await this.client.query(`INSERT INTO ${this.t.events} (seq, body) VALUES ($1, $2)`, [seq, JSON.stringify(body)]);
    await this.client.query('SELECT pg_notify($1, $2)', [this.t.channel, String(seq)]);
    return seq;
  }
}

/**
 * Run `fn` on one row's claims in a transaction (see the top of this file).
 * With `skipLocked`, a row another transaction is changing is skipped: the
 * result is `undefined` (the sweep tries again later).
 */
export async function withRow<T>(
  pool: pg.Pool,
  t: ClaimTableNames,
  model: string,
  id: string,
  fn: (tx: RowTx) => Promise<T>,
  options: { skipLocked?: boolean } = {},
): Promise<{ value: T; seq: number | null } | undefined> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT 1 FROM ${t.head} FOR SHARE`);
    let locked: pg.QueryResult | null = null;
    // The sweep deletes idle rows: one deleted between the insert and the lock is inserted again.
    for (let attempt = 0; attempt < 3 && !locked?.rows.length; attempt++) {
      await client.query(`INSERT INTO ${t.rows} (model, row_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [model, id]);
      locked = await client.query(`SELECT groups FROM ${t.rows} WHERE model = $1 AND row_id = $2 FOR UPDATE${options.skipLocked ? ' SKIP LOCKED' : ''}`, [model, id]);
      if (options.skipLocked) break;
    }
    if (!locked?.rows.length) {
      await client.query('ROLLBACK');
      return undefined;
    }
    const tx = new RowTx(client, t, model, id);
    tx.groups = (locked.rows[0].groups as string[] | null) ?? null;
    await tx.reload();
    const value = await fn(tx);
    const seq = await tx.publish();
    await client.query('COMMIT');
    return { value, seq };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
