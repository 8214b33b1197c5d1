/**
 * The app's own database: a Postgres database it creates if missing, the
 * `tasks` table, the outbox the engine reads (`ablo_outbox`) and the answers
 * to commits the engine sent (`ablo_commits`, its dedupe by clientTxId).
 */
import pg from 'pg';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/ablo_example_tasks';

/**
 * One advisory lock every writer of `ablo_outbox` takes just before its
 * insert and holds to its commit: outbox ids are then handed out in commit
 * order, so a reader paging by id never passes a row that commits later.
 */
export const OUTBOX_LOCK = 4_242_001;

/** Create the database of `url` unless it exists (connects to the server's `postgres` database to do so). */
export async function ensureDatabase(url) {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`database name ${JSON.stringify(name)}: use lowercase letters, digits and _`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
}

/** The app's database, ready: created if missing, tables migrated; answers a pool over it. */
export async function openTaskDatabase({ databaseUrl = DEFAULT_DATABASE_URL, poolSize = 10 } = {}) {
  await ensureDatabase(databaseUrl);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize });
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  return pool;
}

/** The tables (idempotent). */
export async function migrate(pool) {
  await pool.query(`
    CREATE TABLE IF NOT EXISTS tasks (
      id         text PRIMARY KEY,
      title      text NOT NULL,
      done       boolean NOT NULL DEFAULT false,
      assignee   text,
      points     integer NOT NULL DEFAULT 0,
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS ablo_outbox (
      id           bigserial PRIMARY KEY,
      model        text NOT NULL,
      entity_id    text NOT NULL,
      type         text NOT NULL CHECK (type IN ('create', 'update', 'delete')),
      data         jsonb,
      client_tx_id text,
      created_at   timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS ablo_commits (
      client_tx_id text PRIMARY KEY,
      response     jsonb NOT NULL,
      created_at   timestamptz NOT NULL DEFAULT now()
    );
  `);
}

/** A task row as the engine sees it (the schema's fields and id). */
export function taskRow(r) {
  return { id: r.id, title: r.title, done: r.done, assignee: r.assignee, points: r.points };
}

export const TASK_COLUMNS = 'id, title, done, assignee, points';

/** Run `fn(client)` in one transaction on a client of `pool`. */
export async function inTransaction(pool, fn) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** Append changes to the outbox (inside the caller's transaction, after its writes). */
export async function writeOutbox(client, entries) {
  if (entries.length === 0) return;
  await client.query('SELECT pg_advisory_xact_lock($1)', [OUTBOX_LOCK]);
  for (const e of entries) {
    await client.query('INSERT INTO ablo_outbox (model, entity_id, type, data, client_tx_id) VALUES ($1, $2, $3, $4, $5)', [
      e.model,
      e.entityId,
      e.type,
      e.data === null ? null : JSON.stringify(e.data),
      e.clientTxId ?? null,
    ]);
  }
}
