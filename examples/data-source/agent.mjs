#!/usr/bin/env node
/**
 * An agent on the tasks board, through the SDK: it never sees Postgres, only
 * the engine. It takes each open task (a claim, so no one else writes the
 * row meanwhile), works on it, and marks it done with `readAt`: if the row
 * moved since it read it (another agent, or a script in SQL), the write is
 * refused (`AbloStaleContextError`) and the agent reads again and retries.
 *
 *   node examples/data-source/agent.mjs [name]      (engine.mjs running)
 *
 * With no open task it makes three first.
 */
import Ablo, { AbloClaimedError, AbloStaleContextError } from 'ablo';
import { ENGINE_URL, waitForEngine } from './config.mjs';
import { schema } from './schema.mjs';

const name = process.argv[2] ?? 'agent-1';
const key = await waitForEngine();
const ablo = Ablo({ schema, apiKey: key, baseURL: ENGINE_URL, participant: { kind: 'agent', id: name } });
await ablo.ready();

if (ablo.tasks.getAll({ where: { done: false } }).length === 0) {
  for (const title of ['Draft the release notes', 'Check the links', 'Tag the release']) await ablo.tasks.create({ data: { title } });
  process.stdout.write(`${name}: created 3 tasks\n`);
}

for (const open of ablo.tasks.getAll({ where: { done: false }, orderBy: { title: 'asc' } })) {
  let claim;
  try {
    claim = await ablo.tasks.claim({ id: open.id, wait: false, action: 'working on it' });
  } catch (err) {
    if (err instanceof AbloClaimedError) continue; // another agent has it
    throw err;
  }
  try {
    for (let attempt = 1; ; attempt++) {
      const snap = ablo.snapshot();
      const task = ablo.tasks.get(open.id);
      if (!task || task.done) break;
      try {
        await ablo.tasks.update({ id: task.id, data: { done: true, assignee: name, points: task.points + 1 }, readAt: snap.stamp });
        process.stdout.write(`${name}: done "${task.title}"\n`);
        break;
      } catch (err) {
        if (!(err instanceof AbloStaleContextError) || attempt === 5) throw err;
        process.stdout.write(`${name}: "${task.title}" moved while I worked (${err.conflictingFields.join(', ') || 'in the database'}); reading again\n`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    await claim.release();
  }
}
await ablo.dispose();
