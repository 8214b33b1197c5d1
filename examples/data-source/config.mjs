/**
 * Where the example's pieces find each other. Each setting comes from the
 * environment, else a default; the two secrets (the source's signing secret
 * and the engine's API key) are kept in `.data/` next to this file (ignored
 * by git) so the backend, the engine, the agent and the SQL script share them
 * without anyone pasting them around.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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

/** `ABLO_SOURCE_APP_SECRET`, else the one in `.data/source-secret` (made on first use). */
export function signingSecret() {
  if (process.env.ABLO_SOURCE_APP_SECRET) return process.env.ABLO_SOURCE_APP_SECRET;
  let secret = kept('source-secret');
  if (!secret) keep('source-secret', (secret = generateSigningSecret()));
  return secret;
}

/** `ABLO_API_KEY`, else the key the engine made on its first start (`.data/api-key`). */
export function apiKey() {
  return process.env.ABLO_API_KEY ?? kept('api-key');
}

export function keepApiKey(key) {
  keep('api-key', key);
}
