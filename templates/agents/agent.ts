/**
 * An example agent. It takes the open tasks of the board one by one, CLAIMS
 * each before working on it, does the (slow) work, and writes the result.
 *
 * A claim is a lease on one row with a fair queue: while this agent holds it,
 * nobody else's writes to the task go through, and a second agent asking for
 * the same task waits in line. When it gets the claim, `claim.data` is the
 * task as it is NOW, so it can see that the first agent already did it.
 * Start two agents at once (`npm run agent & npm run agent`): every task is
 * done exactly once.
 *
 *   npx ablo dev        # in one terminal
 *   npm run agent       # in another
 *
 * ABLO_URL and ABLO_API_KEY come from .env.local: the `agent` script loads it
 * into the environment, and Ablo() reads both from there (or pass `apiKey`
 * and `baseURL` yourself).
 */
import Ablo from 'ablo';
import { schema } from './ablo.schema.js';

const me = `agent-${Math.random().toString(36).slice(2, 8)}`;
// Every write and claim is attributed to this participant (people show up as kind 'user').
// A board and its tasks form the sync group `board:<id>`: this client receives the launch board's.
const ablo = Ablo({ schema, participant: { kind: 'agent', id: me }, syncGroups: ['board:launch'] });
await ablo.ready();

// First run: a board with a few tasks, in one commit. Fixed ids and an
// idempotency key make this safe when two agents start at the same moment:
// the second one's commit is recognised and returns the first one's receipt.
if ((await ablo.boards.list({ limit: 1 })).data.length === 0) {
  const titles = ['Draft the announcement', 'Summarize the user feedback', 'Check the changelog'];
  await ablo.commits.create({
    idempotencyKey: 'seed-launch-board',
    operations: [
      { op: 'create', model: 'boards', id: 'launch', data: { name: 'Launch' } },
      ...titles.map((title, i) => ({ op: 'create' as const, model: 'tasks' as const, id: `launch-${i + 1}`, data: { title, boardId: 'launch' } })),
    ],
  });
}

const open = await ablo.tasks.list({ where: { boardId: 'launch', status: 'todo' }, orderBy: { createdAt: 'asc' } });
if (open.data.length === 0) console.log('no open tasks on the board — nothing to do');
for (const task of open.data) {
  // Released when the block ends, also when the work throws.
  await using claim = await ablo.tasks.claim({ id: task.id, action: 'working on it' });
  const current = claim.data;
  if (current.status !== 'todo') {
    console.log(`skip: "${current.title}" is already ${current.status} (by ${current.assignee})`);
    continue;
  }
  await ablo.tasks.update({ id: current.id, data: { status: 'doing', assignee: me } });
  const result = await work(current.title);
  await ablo.tasks.update({ id: current.id, data: { status: 'done', result } });
  console.log(`done: "${current.title}"`);
}

await ablo.dispose();

/** Stand-in for the slow part (a model call, a build, a search). */
async function work(title: string): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  return `Notes on "${title}" by ${me}`;
}
