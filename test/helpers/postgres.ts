/**
 * A Postgres database of a test's own: created on the server at
 * `ABLO_TEST_PG_URL` (default postgres://postgres@127.0.0.1:5432/postgres),
 * dropped after (with every connection still open to it ended first).
 *
 * Postgres test files are named `*.pg.test.ts`: vitest runs them in their own
 * project, one file at a time, after the others (vitest.config.ts), so the
 * server's 100 connections are never shared by several files at once. Keep
 * pools small (2–4 connections per storage).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createEngine, generateApiKey, type Engine } from '../../src/engine/index.js';
import type { SchemaLike } from '../../src/schema/types.js';

export const ADMIN_URL = process.env.ABLO_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** Connection string of the new database. */
  url: string;
  /** Its name (`ablo_test_<hex>`). */
  name: string;
  /** End every connection to it and drop it. Idempotent. */
  drop(): Promise<void>;
}

function urlFor(database: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Create an empty database for one test (or one file); call `drop()` after. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `ablo_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  let dropped = false;
  return {
    url: urlFor(name),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** True when the test server answers (tests say how to start it when not). */
export async function postgresAnswers(): Promise<boolean> {
  try {
    await admin((c) => c.query('SELECT 1'));
    return true;
  } catch {
    return false;
  }
}

/**
 * An engine on a fresh test database with a dev key, both closed (engine, then database) through `cleanups`
 * (a test file's list, run after each test in reverse).
 */
export async function engineOnPostgres(
  schema: SchemaLike,
  cleanups: Array<() => Promise<unknown> | unknown>,
): Promise<{ engine: Engine; apiKey: string }> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  const apiKey = generateApiKey('test');
  const engine = await createEngine({ databaseUrl: db.url, port: 0, schema, devKey: apiKey, log: () => {} });
  cleanups.push(() => engine.close());
  return { engine, apiKey };
}
