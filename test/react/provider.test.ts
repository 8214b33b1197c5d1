/**
 * <AbloProvider> states, rendered by a real React renderer (ink) against real
 * engines: the fallback while bootstrapping, Suspense, the error state when no
 * engine answers (and retry once one does), and server rendering.
 */
import { Text } from 'ink';
import { createElement as h, Suspense } from 'react';
import { renderToString } from 'react-dom/server';
import { expect, test } from 'vitest';
import Ablo, { AbloConnectionError } from '../../src/index.js';
import { createAbloReact } from '../../src/react/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine } from '../../src/testing/index.js';
import { freePort, renderInk, trackedCleanups, waitFor } from './ink.js';

const schema = defineSchema({
  tasks: model({ title: z.string(), status: z.enum(['todo', 'done']).default('todo') }),
});
const { AbloProvider, useAblo, useSyncStatus } = createAbloReact<typeof schema>();
const cleanups = trackedCleanups();

async function engineWithTask(options: { port?: number; apiKey?: string } = {}): Promise<TestEngine> {
  const engine = await startTestEngine({ schema, ...options });
  cleanups.push(() => engine.stop());
  const seed = Ablo({ schema, apiKey: engine.apiKey, baseURL: engine.url });
  await seed.tasks.create({ id: 't1', data: { title: 'seeded' } });
  await seed.dispose();
  return engine;
}

function Titles() {
  const titles = useAblo((a) => a.tasks.getAll().map((t) => t.title));
  return h(Text, null, `titles=${titles.join(',')}`);
}

test('the fallback shows while the client bootstraps, then the children with the bootstrapped rows', async () => {
  const engine = await engineWithTask();
  const ablo = Ablo({ schema, apiKey: engine.apiKey, baseURL: engine.url });
  cleanups.push(() => ablo.dispose());
  const { out } = renderInk(h(AbloProvider, { client: ablo, fallback: h(Text, null, 'loading') }, h(Titles)), cleanups);
  expect(out.frames[0]).toContain('loading');
  await waitFor(() => out.last.includes('titles=seeded'), 'the children');
  // The children never rendered before ready(): no frame shows an empty pool.
  expect(out.frames.some((f) => f.includes('titles=\n') || /titles=$/m.test(f))).toBe(false);
});

test('without a fallback the children render at once (from the empty pool), then fill in', async () => {
  const engine = await engineWithTask();
  const ablo = Ablo({ schema, apiKey: engine.apiKey, baseURL: engine.url });
  cleanups.push(() => ablo.dispose());
  const { out } = renderInk(h(AbloProvider, { client: ablo }, h(Titles)), cleanups);
  expect(out.frames[0]).toMatch(/titles=\s*$/m);
  await waitFor(() => out.last.includes('titles=seeded'), 'the rows');
});

test('suspense: the nearest <Suspense> shows until ready, and ready() is called once however often the tree renders', async () => {
  const engine = await engineWithTask();
  const ablo = Ablo({ schema, apiKey: engine.apiKey, baseURL: engine.url });
  cleanups.push(() => ablo.dispose());
  let readyCalls = 0;
  const ready = ablo.ready.bind(ablo);
  ablo.ready = () => {
    readyCalls++;
    return ready();
  };
  const tree = (n: number) =>
    h(
      Suspense,
      { fallback: h(Text, null, `suspended ${n}`) },
      h(AbloProvider, { client: ablo, suspense: true }, h(Titles)),
      h(AbloProvider, { client: ablo, suspense: true }, h(Text, null, 'second provider')),
    );
  const { out, rerender } = renderInk(tree(0), cleanups);
  expect(out.frames[0]).toContain('suspended 0');
  rerender(tree(1));
  rerender(tree(2));
  await waitFor(() => out.last.includes('titles=seeded') && out.last.includes('second provider'), 'the children after suspense');
  expect(readyCalls).toBe(1);
});

test('errorFallback shows the unreachable error when no engine answers; retry after an engine starts on that port renders the children', async () => {
  const port = await freePort();
  const apiKey = 'sk_test_' + 'r'.repeat(32);
  // A long reconnect backoff: after the first refused connection the client waits, so only retry() (which calls
  // ready(), and ready() connects at once) brings it in within this test.
  const ablo = Ablo({ schema, apiKey, baseURL: `http://127.0.0.1:${port}`, readyTimeoutMs: 300, reconnect: { baseMs: 60_000, maxMs: 60_000 } });
  cleanups.push(() => ablo.dispose());
  let retry: (() => void) | null = null;
  let shown: unknown = null;
  const { out } = renderInk(
    h(
      AbloProvider,
      {
        client: ablo,
        fallback: h(Text, null, 'loading'),
        errorFallback: (error, again) => {
          shown = error;
          retry = again;
          return h(Text, null, `down: ${(error as AbloConnectionError).code}`);
        },
      },
      h(Titles),
    ),
    cleanups,
  );
  expect(out.frames[0]).toContain('loading');
  await waitFor(() => out.last.includes('down: unreachable'), 'the error state');
  expect(shown).toBeInstanceOf(AbloConnectionError);
  expect(shown).toMatchObject({ type: 'connection_error', code: 'unreachable' });

  // Still down: a retry goes back to the fallback, then to the error again.
  const framesBefore = out.frames.length;
  retry!();
  await waitFor(() => out.frames.slice(framesBefore).some((f) => f.includes('loading')), 'the fallback on retry');
  await waitFor(() => out.last.includes('down: unreachable'), 'the error again');

  await engineWithTask({ port, apiKey });
  expect(ablo.status).toBe('offline'); // the client waits out its backoff
  retry!();
  await waitFor(() => out.last.includes('titles=seeded'), 'the children after retry');
});

test('after the error state the provider recovers by itself when the client reconnects', async () => {
  const port = await freePort();
  const apiKey = 'sk_test_' + 'a'.repeat(32);
  const ablo = Ablo({ schema, apiKey, baseURL: `http://127.0.0.1:${port}`, readyTimeoutMs: 200, reconnect: { baseMs: 50, maxMs: 200 } });
  cleanups.push(() => ablo.dispose());
  const { out } = renderInk(h(AbloProvider, { client: ablo, errorFallback: h(Text, null, 'engine down') }, h(Titles)), cleanups);
  await waitFor(() => out.last.includes('engine down'), 'the error state');
  await engineWithTask({ port, apiKey });
  await waitFor(() => out.last.includes('titles=seeded'), 'the children once the client reconnects');
});

test('a refused key shows the errorFallback with the authentication error (no engine retry helps)', async () => {
  const engine = await engineWithTask();
  const ablo = Ablo({ schema, apiKey: 'sk_test_' + 'z'.repeat(32), baseURL: engine.url });
  cleanups.push(() => ablo.dispose());
  function Status() {
    return h(Text, null, `status=${useSyncStatus().status}`);
  }
  const { out } = renderInk(
    h(AbloProvider, { client: ablo, fallback: h(Text, null, 'loading'), errorFallback: (e) => h(Text, null, `refused: ${(e as { type: string }).type}`) }, h(Status)),
    cleanups,
  );
  await waitFor(() => out.last.includes('refused: authentication_error'), 'the refusal');
});

test('server rendering: the provider renders its fallback (or Suspense fallback) and hooks read the empty pool', async () => {
  const port = await freePort();
  const ablo = Ablo({ schema, apiKey: 'sk_test_' + 's'.repeat(32), baseURL: `http://127.0.0.1:${port}`, readyTimeoutMs: 60_000 });
  cleanups.push(() => ablo.dispose());
  expect(renderToString(h(AbloProvider, { client: ablo, fallback: h('p', null, 'loading') }, h('p', null, 'app')))).toBe('<p>loading</p>');
  expect(
    renderToString(h(Suspense, { fallback: h('p', null, 'suspended') }, h(AbloProvider, { client: ablo, suspense: true }, h('p', null, 'app')))),
  ).toContain('suspended');
  function Count() {
    const n = useAblo((a) => a.tasks.getCount());
    const { status } = useSyncStatus();
    return h('p', null, `tasks=${n} status=${status}`);
  }
  expect(renderToString(h(AbloProvider, { client: ablo }, h(Count)))).toMatch(/<p>tasks=0 status=(connecting|offline)<\/p>/);
});
