/**
 * The board's agent, the `ablo init --template agents` agent made to stay:
 * it watches the board, and for each task in "todo" it CLAIMS the task (so a
 * person's edits wait until it is done, and the card shows who holds it),
 * moves it to "doing", thinks, writes the result, moves it to "done" and
 * releases the claim. A task someone else holds is skipped, not waited for.
 */
import type { AbloClient } from 'ablo';
import type { Schema } from './ablo.schema.js';

export interface BoardAgentOptions {
  boardId: string;
  /** The agent's participant id (as the client was made with): written into the results. */
  name: string;
  /** How long "thinking" takes per task (ms). */
  thinkMs?: number;
  /** Ends the loop (the task in hand is finished first). */
  signal?: AbortSignal;
  log?: (line: string) => void;
}

type Client = AbloClient<Schema>;

/** Creates the board with a few tasks when it does not exist yet (safe when two processes start at once). */
export async function seedBoard(ablo: Client, boardId: string, name = 'Launch'): Promise<void> {
  const exists = await ablo.boards.retrieve({ id: boardId }).then(
    () => true,
    (err: { type?: string }) => {
      if (err.type === 'not_found') return false;
      throw err;
    },
  );
  if (exists) return;
  const titles = ['Draft the announcement', 'Summarize the user feedback', 'Check the changelog'];
  await ablo.commits.create({
    idempotencyKey: `seed-${boardId}`,
    operations: [
      { op: 'create', model: 'boards', id: boardId, data: { name } },
      ...titles.map((title, i) => ({ op: 'create' as const, model: 'tasks' as const, id: `${boardId}-${i + 1}`, data: { title, boardId, position: i + 1 } })),
    ],
  });
}

/** Works the board until `signal` aborts. */
export async function runBoardAgent(ablo: Client, options: BoardAgentOptions): Promise<void> {
  const { boardId, name: me, thinkMs = 1500, signal, log = () => {} } = options;
  const group = `board:${boardId}`;
  await ablo.ready();
  // On the board like the people: the avatar shows, and which task it works on.
  ablo.presence.set(group, { focus: null, activity: 'watching' });
  const skipped = new Set<string>();
  while (!signal?.aborted) {
    const next = ablo.tasks
      .getAll({ where: { boardId, status: 'todo' }, orderBy: { position: 'asc' } })
      .find((t) => !skipped.has(t.id) && ablo.tasks.claim.state({ id: t.id }) === null);
    if (!next) {
      skipped.clear();
      await changeOrAbort(ablo, signal, 2000);
      continue;
    }
    let claim;
    try {
      claim = await ablo.tasks.claim({ id: next.id, wait: false, action: 'thinking' });
    } catch {
      // Someone took it first: try the others, and this one again later.
      skipped.add(next.id);
      continue;
    }
    try {
      const task = claim.data;
      if (task.status !== 'todo') continue;
      await ablo.tasks.update({ id: task.id, data: { status: 'doing', assignee: me, position: endOf(ablo, boardId, 'doing') } });
      ablo.presence.set(group, { focus: task.id, activity: 'thinking' });
      log(`working on "${task.title}"`);
      await sleep(thinkMs);
      const now = ablo.tasks.get(task.id) ?? task;
      await ablo.tasks.update({
        id: task.id,
        data: { status: 'done', result: `Notes on "${now.title}" by ${me}`, position: endOf(ablo, boardId, 'done') },
      });
      log(`done: "${now.title}"`);
    } catch (err) {
      log(`gave up on "${next.title}": ${(err as Error).message}`);
      skipped.add(next.id);
    } finally {
      ablo.presence.set(group, { focus: null, activity: 'watching' });
      await claim.release().catch(() => {});
    }
  }
  ablo.presence.leave(group);
}

/** After the last card of `status`. */
export function endOf(ablo: Client, boardId: string, status: 'todo' | 'doing' | 'done'): number {
  const rows = ablo.tasks.getAll({ where: { boardId, status } });
  return rows.reduce((max, t) => Math.max(max, t.position), 0) + 1;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves on the next change of the board's tasks, after `maxMs`, or when `signal` aborts. */
function changeOrAbort(ablo: Client, signal: AbortSignal | undefined, maxMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      unsubscribe();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, maxMs);
    const unsubscribe = ablo.subscribe((a) => a.tasks.getCount({ where: { status: 'todo' } }), done);
    signal?.addEventListener('abort', done);
  });
}
