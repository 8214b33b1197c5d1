/**
 * Loading the built package (dist/) from a bench. Other builds may be running
 * (`tsup` cleans dist/ first), so a missing or half-written file is retried
 * for a while before giving up.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Wait until every `dist/<rel>` exists; false after `timeoutMs`. */
export async function waitForDist(rels, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (rels.every((r) => existsSync(join(root, 'dist', r)))) return true;
    if (Date.now() > deadline) return false;
    await sleep(1000);
  }
}

/** `import()` of `dist/<rel>`, retried while a concurrent build rewrites dist/. */
export async function importDist(rel, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  for (let attempt = 0; ; attempt++) {
    try {
      if (!existsSync(join(root, 'dist', rel))) throw new Error(`dist/${rel} is missing`);
      // A failed module may stay in the module map: retry under a fresh URL.
      const href = pathToFileURL(join(root, 'dist', rel)).href;
      return await import(attempt === 0 ? href : `${href}?retry=${attempt}`);
    } catch (err) {
      lastErr = err;
      if (Date.now() > deadline) throw lastErr;
      await sleep(1000);
    }
  }
}
