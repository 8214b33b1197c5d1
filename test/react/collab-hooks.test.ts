/**
 * The hooks over the SDK's collaboration features — presence, undo,
 * conflicts, setSyncGroups — rendered by a real React renderer (ink) against
 * a real engine, with a second client (an agent) in the same groups.
 */
import { Text } from 'ink';
import { createElement as h, type ReactNode } from 'react';
import { expect, test } from 'vitest';
import Ablo, { type UndoOutcome } from '../../src/index.js';
import { createAbloReact, type ConflictsView, type UndoView } from '../../src/react/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine } from '../../src/testing/index.js';
import { renderInk, trackedCleanups, waitFor } from './ink.js';

const schema = defineSchema({
  tasks: model(
    { title: z.string(), status: z.enum(['todo', 'done']).default('todo'), boardId: z.string() },
    {},
    { syncGroupFormat: 'board:{boardId}' },
  ),
});
const { AbloProvider, useAblo, usePresence, useUndo, useConflicts, SyncGroupProvider } = createAbloReact<typeof schema>();
const cleanups = trackedCleanups();

async function setup(groups: string[] = ['board:a']) {
  const engine = await startTestEngine({ schema });
  cleanups.push(() => engine.stop());
  const ana = Ablo({ schema, apiKey: engine.apiKey, baseURL: engine.url, syncGroups: groups, participant: { kind: 'user', id: 'ana' } });
  cleanups.push(() => ana.dispose());
  const bot = Ablo({ schema, apiKey: engine.apiKey, baseURL: engine.url, syncGroups: ['board:a', 'board:b'], participant: { kind: 'agent', id: 'bot' } });
  cleanups.push(() => bot.dispose());
  await Promise.all([ana.ready(), bot.ready()]);
  return { engine, ana, bot };
}

function members(list: ReadonlyArray<{ participant: { id: string }; state: Record<string, unknown> }>): string {
  return list.map((m) => `${m.participant.id}@${String(m.state.focus)}`).sort().join(',') || '-';
}

test("usePresence: the group of the nearest SyncGroupProvider, others' states live, this component's state set, re-set on change and left on unmount", async () => {
  const { ana, bot } = await setup();
  function Avatars({ focus }: { focus: string }) {
    const p = usePresence(undefined, { focus });
    return h(Text, null, `group=${p.group} others=${members(p.others)} self=${p.self ? members([p.self]) : '-'}`);
  }
  const tree = (focus: string | null): ReactNode =>
    h(AbloProvider, { client: ana }, h(SyncGroupProvider, { groups: ['board:a'] }, focus === null ? h(Text, null, 'gone') : h(Avatars, { focus })));
  const { out, rerender } = renderInk(tree('t1'), cleanups);

  bot.presence.set('board:a', { focus: 't9' });
  await waitFor(() => out.last.includes('group=board:a others=bot@t9 self=ana@t1'), "the bot's presence and ana's own");
  await waitFor(() => members(bot.presence.get('board:a')) === 'ana@t1,bot@t9', 'the bot to see ana');

  // A new state (an equal inline object on each render is not sent again).
  rerender(tree('t2'));
  await waitFor(() => members(bot.presence.get('board:a')) === 'ana@t2,bot@t9', "ana's new focus at the bot");
  await waitFor(() => out.last.includes('self=ana@t2'), "ana's own new state");

  bot.presence.leave('board:a');
  await waitFor(() => out.last.includes('others=- self=ana@t2'), 'the bot to leave');

  rerender(tree(null));
  await waitFor(() => !bot.presence.get('board:a').some((m) => m.participant.id === 'ana'), 'ana to leave on unmount');
});

test('usePresence without a group or SyncGroupProvider fails with a clear error', async () => {
  const { ana } = await setup();
  function Lost() {
    usePresence();
    return null;
  }
  const { out } = renderInk(h(AbloProvider, { client: ana }, h(Lost)), cleanups);
  await waitFor(() => /SyncGroupProvider/.test(out.frames.join('')), 'the error');
});

test('useUndo: canUndo after a write, undo reverts it, redo brings it back, per scope', async () => {
  const { ana } = await setup();
  let view: UndoView | null = null;
  function Undo() {
    view = useUndo();
    const titles = useAblo((a) => a.tasks.getAll().map((t) => t.title));
    return h(Text, null, `undo=${view.canUndo}/${view.undoDepth} redo=${view.canRedo}/${view.redoDepth} titles=${titles.join(',') || '-'}`);
  }
  const { out } = renderInk(h(AbloProvider, { client: ana }, h(Undo)), cleanups);
  await waitFor(() => out.last.includes('undo=false/0 redo=false/0 titles=-'), 'an empty stack');

  await ana.tasks.create({ id: 't1', data: { title: 'one', boardId: 'a' } });
  await ana.tasks.update({ id: 't1', data: { title: 'uno' } });
  await waitFor(() => out.last.includes('undo=true/2 redo=false/0 titles=uno'), 'two writes to undo');

  const first: UndoOutcome = await view!.undo();
  expect(first.status).toBe('applied');
  await waitFor(() => out.last.includes('undo=true/1 redo=true/1 titles=one'), 'the update undone');
  await view!.undo();
  await waitFor(() => out.last.includes('undo=false/0 redo=true/2 titles=-'), 'the create undone');
  await view!.redo();
  await waitFor(() => out.last.includes('undo=true/1 redo=true/1 titles=one'), 'the create redone');
  expect(await ana.tasks.retrieve({ id: 't1' })).toMatchObject({ title: 'one' });

  // A write in another scope is not on the default stack.
  await ana.tasks.update({ id: 't1', data: { status: 'done' }, undoScope: 'status' });
  await waitFor(() => out.last.includes('undo=true/1 redo='), 'the default stack unchanged');
  expect(ana.undoState('status')).toMatchObject({ canUndo: true, undoDepth: 1 });
});

test("useConflicts: a stale notify write shows with the other participant's value; 'theirs' keeps the row, 'mine' writes again", async () => {
  const { ana, bot } = await setup();
  await ana.tasks.create({ id: 't1', data: { title: 'one', boardId: 'a' } });
  let view: ConflictsView | null = null;
  function Banner() {
    view = useConflicts();
    const title = useAblo((a) => a.tasks.get('t1')?.title ?? '-');
    const c = view.conflicts[0];
    return h(Text, null, `conflicts=${view.conflicts.length} ${c ? `${c.model}/${c.rowId} fields=${c.fields.join(',')} mine=${String(c.mine?.title)} theirs=${String(c.theirs.title)}` : ''} title=${title}`);
  }
  const { out } = renderInk(h(AbloProvider, { client: ana }, h(Banner)), cleanups);
  await waitFor(() => out.last.includes('conflicts=0') && out.last.includes('title=one'), 'no conflicts');

  const stamp = ana.snapshot().stamp;
  await bot.tasks.update({ id: 't1', data: { title: 'from bot' } });
  const held = await ana.tasks.update({ id: 't1', data: { title: 'from ana' }, readAt: stamp, onStale: 'notify' });
  expect(held.status).toBe('held');
  await waitFor(() => out.last.includes('conflicts=1 tasks/t1 fields=title mine=from ana theirs=from bot'), 'the conflict');

  await view!.resolve(view!.conflicts[0]!.id, 'theirs');
  await waitFor(() => out.last.includes('conflicts=0') && out.last.includes('title=from bot'), "'theirs' kept");

  const stamp2 = ana.snapshot().stamp;
  await bot.tasks.update({ id: 't1', data: { title: 'bot again' } });
  await ana.tasks.update({ id: 't1', data: { title: 'ana again' }, readAt: stamp2, onStale: 'notify' });
  await waitFor(() => out.last.includes('conflicts=1'), 'the second conflict');
  await view!.resolve(view!.conflicts[0]!.id, 'mine');
  await waitFor(() => out.last.includes('conflicts=0') && out.last.includes('title=ana again'), "'mine' written");
  expect(await bot.tasks.retrieve({ id: 't1' })).toMatchObject({ title: 'ana again' });

  const stamp3 = ana.snapshot().stamp;
  await bot.tasks.update({ id: 't1', data: { title: 'bot third' } });
  await ana.tasks.update({ id: 't1', data: { title: 'ana third' }, readAt: stamp3, onStale: 'notify' });
  await waitFor(() => out.last.includes('conflicts=1'), 'the third conflict');
  view!.dismiss(view!.conflicts[0]!.id);
  await waitFor(() => out.last.includes('conflicts=0') && out.last.includes('title=bot third'), 'dismissed without writing');
});

test('SyncGroupProvider switches the groups on the live connection: fallback until the new rows are in, then only their rows', async () => {
  const { ana, bot } = await setup(['board:a']);
  await bot.tasks.create({ id: 'ta', data: { title: 'on a', boardId: 'a' } });
  await bot.tasks.create({ id: 'tb', data: { title: 'on b', boardId: 'b' } });
  function Titles() {
    const titles = useAblo((a) => a.tasks.getAll({ orderBy: { title: 'asc' } }).map((t) => t.title));
    const p = usePresence();
    return h(Text, null, `titles=${titles.join(',') || '-'} presence=${p.group}`);
  }
  const tree = (board: string): ReactNode =>
    h(AbloProvider, { client: ana }, h(SyncGroupProvider, { groups: [`board:${board}`], fallback: h(Text, null, `switching to ${board}`) }, h(Titles)));
  const { out, rerender } = renderInk(tree('a'), cleanups);
  // The client already receives board:a: no fallback, no round trip.
  expect(out.frames[0]).not.toContain('switching');
  await waitFor(() => out.last.includes('titles=on a presence=board:a'), 'board a');

  const framesBefore = out.frames.length;
  rerender(tree('b'));
  await waitFor(() => out.last.includes('titles=on b presence=board:b'), 'board b');
  expect(out.frames.slice(framesBefore).some((f) => f.includes('switching to b'))).toBe(true);
  expect(ana.syncGroups).toEqual(['board:b']);
  expect(ana.tasks.get('ta')).toBeUndefined();

  // An equal array on a re-render does not switch again.
  rerender(tree('b'));
  await new Promise((r) => setTimeout(r, 50));
  expect(out.last).toContain('titles=on b presence=board:b');
});
