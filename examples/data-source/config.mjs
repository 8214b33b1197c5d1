/**
 * Where the example's pieces find each other. Each setting comes from the
 * environment, else a default; the two secrets (the source's signing secret
 * and the engine's API key) are kept in `.data/` next to this file (ignored
 * by git) so the backend, the engine, the agent and the SQL script share them
 * without anyone pasting them around.
 */
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSigningSecret } from 'ablo/source';
import { DEFAULT_DATABASE_URL } from './db.mjs';

export const DATA_DIR = join(dirname(fileURLToPath(import.meta.url)), '.data');

export const DATABASE_URL = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
/** The backend's port; its Data Source endpoint is `http://127.0.0.1:<port>/ablo`. */
export const BACKEND_PORT = Number(process.env.PORT ?? 4200);
export const SOURCE_URL = process.env.ABLO_SOURCE_URL ?? `http://127.0.0.1:${BACKEND_PORT}/ablo`;
export const ENGINE_PORT = Number(process.env.ABLO_PORT ?? 4100);
export const ENGINE_URL = process.env.ABLO_URL ?? `http://127.0.0.1:${ENGINE_PORT}`;
export const ENGINE_FILE = process.env.ABLO_ENGINE_FILE ?? join(DATA_DIR, 'engine.db');

function kept(name) {
  const file = join(DATA_DIR, name);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

function keep(name, value) {
  mkdirSync(DATA_DIR, { recursive: true });
  writeFileSync(join(DATA_DIR, name), `${value}\n`, { mode: 0o600 });
}

/**
 * Keep `value` as `name` unless a value is kept already; answers the one kept. Written aside and linked into
 * place (link fails when the name exists), so two scripts started together agree on one value.
 */
function keepFirst(name, value) {
  mkdirSync(DATA_DIR, { recursive: true });
  const aside = join(DATA_DIR, `.${name}.${process.pid}`);
  writeFileSync(aside, `${value}\n`, { mode: 0o600 });
  try {
    linkSync(aside, join(DATA_DIR, name));
  } catch (err) {
    if (err.code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(aside);
  }
  return kept(name);
}

/** `ABLO_SOURCE_APP_SECRET`, else the one in `.data/source-secret` (made on first use). */
export function signingSecret() {
  if (process.env.ABLO_SOURCE_APP_SECRET) return process.env.ABLO_SOURCE_APP_SECRET;
  return kept('source-secret') ?? keepFirst('source-secret', generateSigningSecret());
}

/** `ABLO_API_KEY`, else the key the engine made on its first start (`.data/api-key`). */
export function apiKey() {
  return process.env.ABLO_API_KEY ?? kept('api-key');
}

export function keepApiKey(key) {
  keep('api-key', key);
}

/**
 * Wait until the engine answers and its API key is known (a script started
 * right after engine.mjs would otherwise find neither); throws after `timeoutMs`.
 */
export async function waitForEngine(timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const key = apiKey();
    const up = key ? await fetch(`${ENGINE_URL}/v1/health`).then((r) => r.ok, () => false) : false;
    if (key && up) return key;
    if (Date.now() > deadline) {
      throw new Error(`no engine at ${ENGINE_URL}${key ? '' : ' and no API key in .data/api-key'} after ${timeoutMs / 1000} s: start it with node examples/data-source/engine.mjs (or set ABLO_URL / ABLO_API_KEY)`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
