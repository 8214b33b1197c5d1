/** SDK clients in tests: a file's engine and clients with their cleanup, and waiting on them without sleeps. */
import { afterEach } from 'vitest';
import Ablo, { type AbloClient, type AbloOptions, type SchemaLike } from '../../src/index.js';
import { startTestEngine, type TestEngine } from '../../src/testing/index.js';

interface Subscribable {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  subscribe<R>(selector: (ablo: any) => R, listener: (value: R, previous: R) => void): () => void;
}

/** Resolve with `check()`'s value once it is truthy, re-checking on every local change of `client`. */
export function until<T>(client: Subscribable, check: () => T | undefined | false | null, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const first = check();
    if (first) {
      resolve(first);
      return;
    }
    const timer = setTimeout(() => {
      stop();
      reject(new Error('condition not reached in time'));
    }, timeoutMs);
    const stop = client.subscribe(
      () => check(),
      (value) => {
        if (value) {
          clearTimeout(timer);
          stop();
          resolve(value as T);
        }
      },
    );
  });
}

/**
 * A test file's engine and SDK clients, each stopped or disposed after the test that made it (last made, first
 * closed). `cleanups` takes anything else a test opens.
 */
export function sdkKit<S extends SchemaLike>(schema: S, defaults: Partial<Omit<AbloOptions<S>, 'schema'>> = {}) {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return {
    cleanups,
    async engine(): Promise<TestEngine> {
      const e = await startTestEngine({ schema });
      cleanups.push(() => e.stop());
      return e;
    },
    async client(e: { url: string; apiKey: string }, extra: Partial<Omit<AbloOptions<S>, 'schema'>> = {}): Promise<AbloClient<S>> {
      const c = Ablo({ schema, apiKey: e.apiKey, baseURL: e.url, reconnect: { baseMs: 20, maxMs: 200 }, ...defaults, ...extra });
      cleanups.push(() => c.dispose());
      await c.ready();
      return c;
    },
    /** A new engine and two clients of it, each on its own socket: `a` writes as user ana, `b` as user ben. */
    async pair(): Promise<{ e: TestEngine; a: AbloClient<S>; b: AbloClient<S> }> {
      const e = await this.engine();
      const a = await this.client(e, { participant: { kind: 'user', id: 'ana' } });
      const b = await this.client(e, { participant: { kind: 'user', id: 'ben' } });
      return { e, a, b };
    },
  };
}
