/**
 * The tables of the Postgres claim store, in the engine's schema (default
 * `ablo`), all named `_ablo_claim…`:
 *
 * - `_ablo_claim_rows`: one row per claimed row (model, id): the per-row lock
 *   every change of that row's queue takes (`FOR UPDATE`), and its sync groups.
 * - `_ablo_claims`: requests and holders. `position` comes from the
 *   `_ablo_claim_order` sequence while the row's lock is held, so it is the
 *   order requests were made; the queue is the non-held requests by position.
 * - `_ablo_claim_head`: one counter row taken `FOR UPDATE` as the last step of
 *   every claim transaction, so `_ablo_claim_events.seq` becomes visible in
 *   order, gap-free (a reader polling `seq > last` never skips one).
 * - `_ablo_claim_events`: every claim event (the row's state after the
 *   change), read by every engine process in `seq` order.
 * - `_ablo_claim_procs`: the engine processes using the store and until when
 *   each is known alive (a heartbeat); the waiting requests of a process that
 *   stopped beating leave their lines (its holders keep their leases).
 *
 * The storage's head row (`_ablo_head`) is created too (if missing): grants
 * take it `FOR SHARE` so none lands between a commit's claim check and its
 * COMMIT (the commit holds it `FOR UPDATE`).
 */
import type pg from 'pg';

/** `"schema"."name"`, quoted. */
export function qualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export interface ClaimTableNames {
  head: string;
  claimHead: string;
  rows: string;
  claims: string;
  order: string;
  events: string;
  procs: string;
  /** NOTIFY channel (unquoted) and its quoted form for LISTEN. */
  channel: string;
}

export function claimTableNames(schema: string): ClaimTableNames {
  return {
    head: qualified(schema, '_ablo_head'),
    claimHead: qualified(schema, '_ablo_claim_head'),
    rows: qualified(schema, '_ablo_claim_rows'),
    claims: qualified(schema, '_ablo_claims'),
    order: qualified(schema, '_ablo_claim_order'),
    events: qualified(schema, '_ablo_claim_events'),
    procs: qualified(schema, '_ablo_claim_procs'),
    channel: `${schema}_claims`,
  };
}

/** Create what is missing (several processes may start at once: one at a time, behind an advisory lock). */
export async function ensureClaimTables(pool: pg.Pool, schema: string): Promise<void> {
  const t = claimTableNames(schema);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`ablo_ddl:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${t.head} (id boolean PRIMARY KEY DEFAULT true CHECK (id), seq bigint NOT NULL DEFAULT 0, schema_version integer NOT NULL DEFAULT 0)`,
    );
    await client.query(`INSERT INTO ${t.head} (id) VALUES (true) ON CONFLICT DO NOTHING`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${t.claimHead} (id boolean PRIMARY KEY DEFAULT true CHECK (id), seq bigint NOT NULL DEFAULT 0)`);
    await client.query(`INSERT INTO ${t.claimHead} (id) VALUES (true) ON CONFLICT DO NOTHING`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${t.rows} (model text NOT NULL, row_id text NOT NULL, groups jsonb, PRIMARY KEY (model, row_id))`);
    await client.query(`CREATE SEQUENCE IF NOT EXISTS ${t.order}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${t.claims} (
        claim_id text PRIMARY KEY,
        model text NOT NULL,
        row_id text NOT NULL,
        position bigint NOT NULL,
        owner text NOT NULL,
        credential_id text,
        participant jsonb NOT NULL,
        action text,
        lease_seconds integer NOT NULL,
        requested_at timestamptz NOT NULL DEFAULT now(),
        held boolean NOT NULL DEFAULT false,
        acquired_at timestamptz,
        lease_until timestamptz,
        ticket text UNIQUE,
        keep_place_ms integer NOT NULL DEFAULT 0,
        keep_until timestamptz,
        process_id text
      )`,
    );
    await client.query(`CREATE INDEX IF NOT EXISTS _ablo_claims_by_row ON ${t.claims} (model, row_id, position)`);
    await client.query(`CREATE INDEX IF NOT EXISTS _ablo_claims_by_owner ON ${t.claims} (owner)`);
    await client.query(`CREATE INDEX IF NOT EXISTS _ablo_claims_by_credential ON ${t.claims} (credential_id)`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${t.procs} (id text PRIMARY KEY, alive_until timestamptz NOT NULL)`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${t.events} (seq bigint PRIMARY KEY, body jsonb NOT NULL, at timestamptz NOT NULL DEFAULT now())`);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
