/**
 * ablo/react hooks rendered by a real React renderer (ink, into a captured
 * stream) against a real engine.
 */
import { Text, render } from 'ink';
import { createElement as h } from 'react';
import { afterEach, expect, test } from 'vitest';
import Ablo from '../../src/index.js';
import { AbloProvider, useAblo, useClaim, useSyncStatus } from '../../src/react/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine } from '../../src/testing/index.js';
import { Capture } from './ink.js';

const schema = defineSchema({
  tasks: model({ title: z.string(), status: z.enum(['todo', 'done']).default('todo') }),
});


const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('useAblo re-renders when the selected value changes, and only then; useSyncStatus and useClaim are live', async () => {
  const engine = await startTestEngine({ schema });
  cleanups.push(() => engine.stop());
  const ablo = Ablo({ schema, apiKey: engine.apiKey, baseURL: engine.url });
  cleanups.push(() => ablo.dispose());
  const other = Ablo({ schema, apiKey: engine.apiKey, baseURL: engine.url, participant: { kind: 'agent', id: 'bot' } });
  cleanups.push(() => other.dispose());
  await Promise.all([ablo.ready(), other.ready()]);
  const t = await ablo.tasks.create({ id: 't1', data: { title: 'one' } });

  let renders = 0;
  function Todo() {
    // A fresh array on every call: only structural equality keeps this from re-rendering.
    const todo = useAblo((a: typeof ablo) => a.tasks.getAll({ where: { status: 'todo' } }).map((x) => x.id));
    renders++;
    return h(Text, null, `todo=${todo.length}`);
  }
  function Status() {
    const sync = useSyncStatus();
    const claim = useClaim('tasks', t.id);
    return h(Text, null, `live=${sync.live} holder=${claim.claim?.holder.id ?? '-'}`);
  }
  const out = new Capture();
  const app = render(h(AbloProvider, { client: ablo }, h(Todo), h(Status)), { stdout: out as never, debug: true, patchConsole: false, exitOnCtrlC: false });
  cleanups.push(() => app.unmount());

  await waitFor(() => out.last.includes('todo=1') && out.last.includes('live=true holder=-'));
  await other.tasks.create({ data: { title: 'two' } });
  await waitFor(() => out.last.includes('todo=2'));

  // A change that does not alter the selected values renders nothing new.
  const before = renders;
  await ablo.tasks.update({ id: t.id, data: { title: 'renamed' } });
  await new Promise((r) => setTimeout(r, 100));
  expect(renders).toBe(before);

  const claim = await other.tasks.claim({ id: t.id, action: 'checking' });
  await waitFor(() => out.last.includes('holder=bot'));
  await claim.release();
  await waitFor(() => out.last.includes('holder=-'));
  await other.tasks.update({ id: t.id, data: { status: 'done' } });
  await waitFor(() => out.last.includes('todo=1'));
});

test('hooks outside a provider fail with a clear error', () => {
  function Bad() {
    useSyncStatus();
    return null;
  }
  const out = new Capture();
  const errors: unknown[] = [];
  const app = render(h(Bad), { stdout: out as never, debug: true, patchConsole: false, exitOnCtrlC: false, onRender: undefined } as never);
  app.waitUntilExit().catch((e: unknown) => errors.push(e));
  app.unmount();
  expect(out.frames.join('')).toMatch(/AbloProvider/);
});

test('useSyncStatus shows unauthorized when the engine refuses the key', async () => {
  const engine = await startTestEngine({ schema });
  cleanups.push(() => engine.stop());
  const ablo = Ablo({ schema, apiKey: 'sk_test_' + 'z'.repeat(32), baseURL: engine.url });
  cleanups.push(() => ablo.dispose());
  const ready = ablo.ready().catch((e: unknown) => e);
  function Status() {
    const sync = useSyncStatus();
    return h(Text, null, `status=${sync.status} live=${sync.live}`);
  }
  const out = new Capture();
  const app = render(h(AbloProvider, { client: ablo }, h(Status)), { stdout: out as never, debug: true, patchConsole: false, exitOnCtrlC: false });
  cleanups.push(() => app.unmount());
  expect(await ready).toMatchObject({ type: 'authentication_error' });
  await waitFor(() => out.last.includes('status=unauthorized live=false'));
});
