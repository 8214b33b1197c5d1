#!/usr/bin/env node
/**
 * A script that writes the `tasks` table directly in SQL, outside Ablo, as
 * any other part of the app would (a cron job, an admin tool, a migration):
 * the row and an outbox row, in one transaction. The engine picks the
 * change up from the outbox (`events`) on its next pull and fans it out.
 *
 *   node examples/data-source/sql-write.mjs <taskId> '{"title":"Renamed in SQL"}'
 *   node examples/data-source/sql-write.mjs --new '{"title":"Made in SQL"}'
 *
 * Then it pokes the engine (`POST /v1/source/app/events`, signed with the
 * source's secret, empty body): a pull right away instead of at the next
 * interval. The poke is optional: without it the next pull finds the row.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { signAbloSourceRequest } from 'ablo/source';
import { inTransaction, TASK_COLUMNS, taskRow, writeOutbox } from './db.mjs';

/**
 * Write task `id` in SQL: `patch` onto the row (created when `create`), plus
 * its outbox row, in one transaction. Answers the row after the write.
 */
export async function writeTaskInSql(pool, id, patch, { create = false } = {}) {
  return inTransaction(pool, async (client) => {
    let result;
    if (create) {
      const d = { done: false, assignee: null, points: 0, ...patch };
      result = await client.query(`INSERT INTO tasks (id, title, done, assignee, points) VALUES ($1, $2, $3, $4, $5) RETURNING ${TASK_COLUMNS}`, [
        id,
        d.title,
        d.done,
        d.assignee,
        d.points,
      ]);
    } else {
      const sets = [];
      const values = [id];
      for (const [field, value] of Object.entries(patch)) {
        if (!['title', 'done', 'assignee', 'points'].includes(field)) throw new Error(`tasks has no field ${field}`);
        values.push(value);
        sets.push(`${field} = $${values.length}`);
      }
      result = await client.query(`UPDATE tasks SET ${sets.join(', ')}, updated_at = now() WHERE id = $1 RETURNING ${TASK_COLUMNS}`, values);
      if (result.rowCount === 0) throw new Error(`no task ${id}`);
    }
    const row = taskRow(result.rows[0]);
    // No clientTxId: this write did not come from Ablo, so the engine applies and fans it out.
    await writeOutbox(client, [{ model: 'tasks', entityId: id, type: create ? 'create' : 'update', data: row }]);
    return row;
  });
}

/** Ask the engine to pull the source's events now (a signed, empty push). */
export async function pokeEngine(engineUrl, source, signingSecret) {
  const body = '';
  const res = await fetch(`${engineUrl}/v1/source/${source}/events`, {
    method: 'POST',
    headers: { ...signAbloSourceRequest(body, signingSecret), 'content-type': 'application/json' },
    body,
  });
  if (!res.ok) throw new Error(`the engine refused the push: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { DATABASE_URL, ENGINE_URL, signingSecret } = await import('./config.mjs');
  const [target, json = '{}'] = process.argv.slice(2);
  if (!target) {
    process.stderr.write("usage: sql-write.mjs <taskId|--new> '{\"title\":\"…\"}'\n");
    process.exit(2);
  }
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  try {
    const create = target === '--new';
    const row = await writeTaskInSql(pool, create ? randomUUID() : target, JSON.parse(json), { create });
    process.stdout.write(`sql: ${create ? 'inserted' : 'updated'} ${JSON.stringify(row)} (and its outbox row)\n`);
    try {
      await pokeEngine(ENGINE_URL, 'app', signingSecret());
      process.stdout.write(`sql: asked the engine at ${ENGINE_URL} to pull now\n`);
    } catch (err) {
      process.stdout.write(`sql: the engine was not told (${err.cause?.code ?? err.message}); it pulls the outbox within its poll interval\n`);
    }
  } finally {
    await pool.end();
  }
}
