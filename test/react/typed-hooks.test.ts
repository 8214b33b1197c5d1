/**
 * The typed hooks of createAbloReact<typeof schema>(), rendered by a real
 * React renderer (ink) against a real engine, with a second client (another
 * participant) changing the data.
 */
import { Text } from 'ink';
import { createElement as h } from 'react';
import { expect, test } from 'vitest';
import Ablo from '../../src/index.js';
import { createAbloReact, useAblo as untypedUseAblo } from '../../src/react/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine } from '../../src/testing/index.js';
import { renderInk, trackedCleanups, waitFor } from './ink.js';

const schema = defineSchema({
  tasks: model({ title: z.string(), status: z.enum(['todo', 'done']).default('todo') }),
});
const { AbloProvider, useAblo, useAbloClient, useClaim, useSyncStatus } = createAbloReact<typeof schema>();
const cleanups = trackedCleanups();

async function setup() {
  const engine = await startTestEngine({ schema });
  cleanups.push(() => engine.stop());
  const ablo = Ablo({ schema, apiKey: engine.apiKey, baseURL: engine.url, reconnect: { baseMs: 20, maxMs: 100 } });
  cleanups.push(() => ablo.dispose());
  const bot = Ablo({ schema, apiKey: engine.apiKey, baseURL: engine.url, participant: { kind: 'agent', id: 'bot' } });
  cleanups.push(() => bot.dispose());
  await Promise.all([ablo.ready(), bot.ready()]);
  return { engine, ablo, bot };
}

test('typed useAblo re-renders on a change from another client, and typed and untyped hooks share one provider', async () => {
  const { ablo, bot } = await setup();
  await ablo.tasks.create({ id: 't1', data: { title: 'one' } });
  let renders = 0;
  function Todo() {
    const todo = useAblo((a) => a.tasks.getAll({ where: { status: 'todo' }, orderBy: { title: 'asc' } }).map((t) => t.title));
    const count = untypedUseAblo((a: typeof ablo) => a.tasks.getCount());
    const client = useAbloClient();
    renders++;
    return h(Text, null, `todo=${todo.join(',')} count=${count} same=${client === ablo}`);
  }
  const { out } = renderInk(h(AbloProvider, { client: ablo }, h(Todo)), cleanups);
  await waitFor(() => out.last.includes('todo=one count=1 same=true'), 'the first render');

  await bot.tasks.create({ id: 't2', data: { title: 'two' } });
  await waitFor(() => out.last.includes('todo=one,two count=2'), "the bot's task");
  await bot.tasks.update({ id: 't1', data: { status: 'done' } });
  await waitFor(() => out.last.includes('todo=two count=2'), "the bot's update");

  // A change that alters neither selection renders nothing.
  const before = renders;
  await bot.tasks.update({ id: 't1', data: { title: 'renamed while done' } });
  await waitFor(() => ablo.tasks.get('t1')?.title === 'renamed while done', 'the rename to arrive');
  await new Promise((r) => setTimeout(r, 50));
  expect(renders).toBe(before);
});

test("useClaim shows another participant's claim and the queue, and heldByMe for this client's own", async () => {
  const { ablo, bot } = await setup();
  await ablo.tasks.create({ id: 't1', data: { title: 'one' } });
  function Claim() {
    const { claim, queue, heldByMe } = useClaim('tasks', 't1');
    return h(Text, null, `holder=${claim ? `${claim.holder.kind}:${claim.holder.id}` : '-'} action=${claim?.action ?? '-'} queue=${queue.length} mine=${heldByMe}`);
  }
  const { out } = renderInk(h(AbloProvider, { client: ablo }, h(Claim)), cleanups);
  await waitFor(() => out.last.includes('holder=- action=- queue=0 mine=false'), 'no claim');

  const botClaim = await bot.tasks.claim({ id: 't1', action: 'triaging' });
  await waitFor(() => out.last.includes('holder=agent:bot action=triaging queue=0 mine=false'), "the bot's claim");

  // This client asks for the row: it waits behind the bot.
  const mine = ablo.tasks.claim({ id: 't1', action: 'editing' });
  await waitFor(() => out.last.includes('holder=agent:bot action=triaging queue=1 mine=false'), 'this client in the queue');

  await botClaim.release();
  const handle = await mine;
  const me = ablo.participant!;
  await waitFor(() => out.last.includes(`holder=${me.kind}:${me.id} action=editing queue=0 mine=true`), "this client's claim");
  await handle.release();
  await waitFor(() => out.last.includes('holder=- action=- queue=0 mine=false'), 'the release');
});

test('useSyncStatus: live and current, then offline with the pending write counted when the engine stops', async () => {
  const { engine, ablo } = await setup();
  const seen: Array<{ status: string; offline: boolean }> = [];
  function Status() {
    const s = useSyncStatus();
    seen.push({ status: s.status, offline: s.offline });
    return h(Text, null, `status=${s.status} live=${s.live} offline=${s.offline} pending=${s.pendingWrites} at=${s.lastSyncId}`);
  }
  const { out } = renderInk(h(AbloProvider, { client: ablo }, h(Status)), cleanups);
  await ablo.tasks.create({ id: 't1', data: { title: 'one' } });
  await waitFor(() => out.last.includes(`status=live live=true offline=false pending=0 at=${ablo.lastSyncId}`) && ablo.lastSyncId > 0, 'live');

  await engine.stop();
  await waitFor(() => out.last.includes('status=offline live=false offline=true pending=0'), 'offline');
  void ablo.tasks.create({ id: 't2', data: { title: 'two' }, wait: 'queued' });
  await waitFor(() => out.last.includes('offline=true pending=1'), 'the queued write');
  // The SDK retries (connecting, then offline again): to the component that is one offline spell, no flicker.
  const fromStop = seen.findIndex((s) => s.status === 'offline');
  await waitFor(() => seen.slice(fromStop).some((s) => s.status === 'connecting'), 'a retry rendered');
  expect(seen.slice(fromStop).filter((s) => !s.offline)).toEqual([]);
});
