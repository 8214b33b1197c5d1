/**
 * The app's Data Source endpoint: `dataSource()` over the Postgres tables of
 * db.mjs. The engine sends it signed requests; this file answers them.
 *
 * - `commit` applies the operations, appends them to the outbox (with the
 *   clientTxId, so the engine knows its own echo) and stores the answer in
 *   `ablo_commits`, all in one transaction. Before an update or delete it
 *   checks its own version: a written field whose value is not the one the
 *   engine saw (`current`) means someone wrote the row in SQL since, and the
 *   commit is refused as `stale_context` (unless the writer asked
 *   `onStale: 'overwrite'`).
 * - `dedupe` answers a commit the engine sends again (same clientTxId) from
 *   `ablo_commits`; `put` has nothing to do, since the commit wrote it.
 * - `events` pages the outbox by id; `tasks.loadMany` / `tasks.list` read the table.
 */
import { dataSource, SourceError } from 'ablo/source';
import { inTransaction, TASK_COLUMNS, taskRow, writeOutbox } from './db.mjs';
import { schema, TASK_FIELDS } from './schema.mjs';

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** The fields of `op` whose value in `row` moved from what the engine saw. */
function movedFields(op, row) {
  if (op.onStale === 'overwrite' || !op.current) return [];
  const written = op.op === 'update' ? Object.keys(op.data ?? {}) : TASK_FIELDS;
  return written.filter((f) => TASK_FIELDS.includes(f) && !same(row[f], op.current[f]));
}

/** One operation, in the caller's transaction; answers the row after it (null for a delete). */
async function applyOperation(client, op) {
  if (op.model !== 'tasks') throw new SourceError('unknown_model', `This backend keeps no ${op.model}.`, { status: 400 });
  const found = await client.query(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = $1 FOR UPDATE`, [op.id]);
  const row = found.rows[0] ? taskRow(found.rows[0]) : null;
  if (op.op === 'create') {
    if (row) throw new SourceError('id_exists', `Task ${op.id} exists already.`, { status: 409 });
    const d = { done: false, assignee: null, points: 0, ...op.data };
    const inserted = await client.query(
      `INSERT INTO tasks (id, title, done, assignee, points) VALUES ($1, $2, $3, $4, $5) RETURNING ${TASK_COLUMNS}`,
      [op.id, d.title, d.done, d.assignee, d.points],
    );
    return taskRow(inserted.rows[0]);
  }
  if (!row) throw new SourceError('row_not_found', `Task ${op.id} is not in the database.`, { status: 404 });
  const moved = movedFields(op, row);
  if (moved.length > 0) {
    throw new SourceError('stale_context', `${moved.join(', ')} of task ${op.id} changed in the database since the engine saw it.`, { status: 409, fields: moved });
  }
  if (op.op === 'delete') {
    await client.query('DELETE FROM tasks WHERE id = $1', [op.id]);
    return null;
  }
  const next = { ...row, ...op.data, id: op.id };
  const updated = await client.query(
    `UPDATE tasks SET title = $2, done = $3, assignee = $4, points = $5, updated_at = now() WHERE id = $1 RETURNING ${TASK_COLUMNS}`,
    [op.id, next.title, next.done, next.assignee, next.points],
  );
  return taskRow(updated.rows[0]);
}

/** Apply a commit in one transaction: rows, outbox, stored answer. */
async function applyCommit(pool, clientTxId, operations) {
  return inTransaction(pool, async (client) => {
    const rows = [];
    const outbox = [];
    for (const op of operations) {
      const after = await applyOperation(client, op);
      if (after) rows.push({ ...after, model: op.model });
      outbox.push({ model: op.model, entityId: op.id, type: op.op, data: after, clientTxId });
    }
    await writeOutbox(client, outbox);
    const response = { rows };
    // A second delivery racing this one waits here on the key, then fails the insert and rolls back (see below).
    await client.query('INSERT INTO ablo_commits (client_tx_id, response) VALUES ($1, $2)', [clientTxId, JSON.stringify(response)]);
    return response;
  });
}

async function storedAnswer(pool, clientTxId) {
  const found = await pool.query('SELECT response FROM ablo_commits WHERE client_tx_id = $1', [clientTxId]);
  return found.rows[0]?.response ?? null;
}

/** The handler (`(Request) => Promise<Response>`) for a pool over the app's database. */
export function createTaskSource({ pool, signingSecret }) {
  return dataSource({
    schema,
    signingSecret,
    async commit({ clientTxId, operations }) {
      try {
        return await applyCommit(pool, clientTxId, operations);
      } catch (err) {
        // The same commit applied meanwhile (another instance of this backend got the retry): its answer stands.
        if (err?.code === '23505' && err?.constraint === 'ablo_commits_pkey') return (await storedAnswer(pool, clientTxId)) ?? Promise.reject(err);
        throw err;
      }
    },
    dedupe: {
      get: (clientTxId) => storedAnswer(pool, clientTxId),
      // Written by commit, in its transaction.
      put: async () => {},
    },
    async events({ cursor, limit }) {
      const after = cursor === null ? 0 : Number(cursor);
      if (!Number.isSafeInteger(after) || after < 0) throw new SourceError('bad_cursor', `Cursor ${JSON.stringify(cursor)} is not an outbox id.`, { status: 400 });
      const found = await pool.query(
        'SELECT id, model, entity_id, type, data, client_tx_id, created_at FROM ablo_outbox WHERE id > $1 ORDER BY id LIMIT $2',
        [after, limit],
      );
      const events = found.rows.map((r) => ({
        id: String(r.id),
        model: r.model,
        entityId: r.entity_id,
        type: r.type,
        data: r.data,
        clientTxId: r.client_tx_id,
        occurredAt: r.created_at.getTime(),
      }));
      return { events, nextCursor: events.length > 0 ? events.at(-1).id : cursor };
    },
    tasks: {
      async loadMany({ ids }) {
        const found = await pool.query(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = ANY($1)`, [ids]);
        return found.rows.map(taskRow);
      },
      async list({ cursor, limit }) {
        const found = await pool.query(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id > $1 ORDER BY id LIMIT $2`, [cursor ?? '', limit]);
        const rows = found.rows.map(taskRow);
        return { rows, nextCursor: rows.length === limit ? rows.at(-1).id : null };
      },
    },
  });
}
