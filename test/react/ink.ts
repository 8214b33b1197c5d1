/**
 * Rendering React for the hook tests: ink's renderer (a real React
 * reconciler) writing frames into a captured stream, so tests read what a
 * component shows without a DOM.
 */
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { render } from 'ink';
import type { ReactNode } from 'react';
import { afterEach } from 'vitest';

export class Capture extends Writable {
  frames: string[] = [];
  columns = 120;
  rows = 40;
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.frames.push(chunk.toString());
    cb();
  }
  get last(): string {
    return this.frames.at(-1) ?? '';
  }
}

/** Cleanups of the current test, run in reverse after it (unmount before dispose before engine stop). */
export function trackedCleanups(): Array<() => Promise<void> | void> {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return cleanups;
}

/** Render `node` into a capture; `unmount` is pushed to `cleanups`. */
export function renderInk(node: ReactNode, cleanups: Array<() => Promise<void> | void>): { out: Capture; rerender(node: ReactNode): void } {
  const out = new Capture();
  const app = render(node, { stdout: out as never, debug: true, patchConsole: false, exitOnCtrlC: false });
  cleanups.push(() => app.unmount());
  return { out, rerender: (n) => app.rerender(n) };
}

export async function waitFor(check: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A port nothing listens on now (bound and released), for a client that finds no engine there. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
