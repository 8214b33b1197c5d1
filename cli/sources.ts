/**
 * Data Source settings of the CLI: the `sources` key of `ablo.config.json`,
 * checked; the signing secrets, read from the process environment or the env
 * files (never from the config file, which is meant to be committed); the
 * `SourcesConfig` the engine takes (`createEngine({ sources })`).
 *
 *     "sources": {
 *       "app": { "url": "https://app.example.com/api/ablo", "models": ["tasks"],
 *                "signingSecretEnv": "ABLO_SOURCE_APP_SECRET", "timeoutMs": 10000, "pollIntervalMs": 2000 },
 *       "intranet": { "models": ["tickets"], "signingSecretEnv": "ABLO_SOURCE_INTRANET_SECRET" }
 *     }
 *
 * A source without `url` dials in to the engine (the reverse channel,
 * `createSourceConnector`). `signingSecretEnv` defaults to
 * `ABLO_SOURCE_<NAME>_SECRET`. A secret variable may hold several secrets,
 * space-separated (a rotation: the engine signs with each).
 *
 * This module imports no engine code at run time: `ablo.config.json` is
 * parsed on every command.
 */
import type { SourceConfig, SourcesConfig } from '../src/engine/source/config.js';
import { CliError } from './errors.js';
import { httpUrl } from './httpUrl.js';

/** Source names (the same rule as the engine's SOURCE_NAME in src/engine/source/config.ts). */
export const SOURCE_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;
/** Environment variable names a secret may live in. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One source as `ablo.config.json` holds it (after the checks; `signingSecretEnv` filled in). */
export interface SourceFileEntry {
  url?: string;
  models: string[];
  signingSecretEnv: string;
  timeoutMs?: number;
  pollIntervalMs?: number;
}

export type SourcesFileConfig = Record<string, SourceFileEntry>;

/** `ABLO_SOURCE_<NAME>_SECRET`: the name uppercased, `-` as `_`. */
export function defaultSecretEnv(name: string): string {
  return `ABLO_SOURCE_${name.toUpperCase().replace(/-/g, '_')}_SECRET`;
}

/** An http(s) URL as given (trimmed), or undefined when it is not one. */
export function parseSourceUrl(text: string): string | undefined {
  return httpUrl(text) ? text.trim() : undefined;
}

const EXAMPLE = '"sources": { "app": { "url": "https://app.example.com/api/ablo", "models": ["tasks"], "signingSecretEnv": "ABLO_SOURCE_APP_SECRET" } }';

function sourcesError(file: string, what: string, key: string, fix?: string): CliError {
  return new CliError(`ablo.config.json: ${what}`, {
    code: 'config_invalid',
    fix: fix ?? `Edit ablo.config.json; a source looks like ${EXAMPLE} (docs/data-source.md "Configuration").`,
    details: { file, key },
  });
}

function positiveMs(file: string, value: unknown, key: string, allowZero: boolean): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    throw sourcesError(file, `"${key}" must be a whole number of milliseconds${allowZero ? ' (0 or more)' : ' above 0'}, got ${JSON.stringify(value)}.`, key);
  }
  return value;
}

/** Check one source entry; `key` is `sources.<name>`. */
function parseSourceEntry(file: string, name: string, raw: unknown): SourceFileEntry {
  const key = `sources.${name}`;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw sourcesError(file, `"${key}" must be an object with "models" (and "url" unless it dials in).`, key);
  const obj = raw as Record<string, unknown>;
  for (const secretKey of ['signingSecret', 'secret']) {
    if (obj[secretKey] !== undefined) {
      throw sourcesError(file, `"${key}.${secretKey}": the signing secret is never read from this file (it is meant to be committed).`, `${key}.${secretKey}`, `Remove "${secretKey}" from ablo.config.json and put ${defaultSecretEnv(name)}=whsec_... in .env.local (or the process environment); "signingSecretEnv" names the variable.`);
    }
  }
  const entry: SourceFileEntry = { models: [], signingSecretEnv: defaultSecretEnv(name) };
  if (obj.url !== undefined) {
    const url = typeof obj.url === 'string' ? parseSourceUrl(obj.url) : undefined;
    if (url === undefined) {
      throw sourcesError(file, `"${key}.url" must be an http:// or https:// URL, got ${JSON.stringify(obj.url)}.`, `${key}.url`, `Write the app's endpoint, e.g. "url": "https://app.example.com/api/ablo", or leave "url" out for a source that dials in (createSourceConnector).`);
    }
    entry.url = url;
  }
  const models = obj.models;
  if (!Array.isArray(models) || models.length === 0 || !models.every((m) => typeof m === 'string' && m.trim() !== '')) {
    throw sourcesError(file, `"${key}.models" must be a non-empty list of model names, got ${JSON.stringify(models)}.`, `${key}.models`, `Write e.g. "models": ["tasks", "projects"] under "${key}" in ablo.config.json.`);
  }
  const seen = new Set<string>();
  for (const m of models as string[]) {
    if (seen.has(m)) throw sourcesError(file, `"${key}.models" lists "${m}" twice.`, `${key}.models`, `Remove the second "${m}" from "${key}.models".`);
    seen.add(m);
  }
  entry.models = [...seen];
  if (obj.signingSecretEnv !== undefined) {
    if (typeof obj.signingSecretEnv !== 'string' || !ENV_NAME_PATTERN.test(obj.signingSecretEnv)) {
      throw sourcesError(file, `"${key}.signingSecretEnv" must be an environment variable name like ${defaultSecretEnv(name)}, got ${JSON.stringify(obj.signingSecretEnv)}.`, `${key}.signingSecretEnv`);
    }
    entry.signingSecretEnv = obj.signingSecretEnv;
  }
  const timeoutMs = positiveMs(file, obj.timeoutMs, `${key}.timeoutMs`, false);
  if (timeoutMs !== undefined) entry.timeoutMs = timeoutMs;
  const pollIntervalMs = positiveMs(file, obj.pollIntervalMs, `${key}.pollIntervalMs`, true);
  if (pollIntervalMs !== undefined) entry.pollIntervalMs = pollIntervalMs;
  return entry;
}

/**
 * The `sources` key of `ablo.config.json`, checked: names, URLs, models (each
 * model in one source only), secret variable names. `file` is the config
 * file's path (for the error's details).
 */
export function parseSourcesConfig(file: string, raw: unknown): SourcesFileConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw sourcesError(file, `"sources" must be an object of sources by name, got ${JSON.stringify(raw)}.`, 'sources');
  const out: SourcesFileConfig = {};
  const owner = new Map<string, string>();
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!SOURCE_NAME_PATTERN.test(name)) {
      throw sourcesError(file, `source name ${JSON.stringify(name)} is not allowed: a name is lowercase letters, digits, "-" and "_", starting with a letter (at most 63).`, `sources.${name}`, `Rename "sources.${name}" in ablo.config.json, e.g. to "app".`);
    }
    const entry = parseSourceEntry(file, name, value);
    for (const m of entry.models) {
      const other = owner.get(m);
      if (other !== undefined) {
        throw sourcesError(file, `model "${m}" is in two sources, "${other}" and "${name}": a model has one system of record.`, `sources.${name}.models`, `Remove "${m}" from the "models" of "sources.${other}" or of "sources.${name}".`);
      }
      owner.set(m, name);
    }
    out[name] = entry;
  }
  return out;
}

/** Where settings are looked up: the config file's sources and the env files that exist (`.env.local` first). */
export interface SourceSettings {
  /** `ablo.config.json`, when there is one (a `ResolvedConfig` is one of these). */
  file?: { config: { sources?: SourcesFileConfig } };
  envFiles: ReadonlyArray<{ name: string; values: Record<string, string> }>;
}

/** A secret variable's value and where it came from: the process environment, else the first env file that sets it. */
export function lookupSecret(settings: SourceSettings, env: Record<string, string | undefined>, variable: string): { value: string; from: string } | undefined {
  const fromEnv = env[variable];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return { value: fromEnv, from: 'environment' };
  for (const f of settings.envFiles) {
    const v = f.values[variable];
    if (v !== undefined && v.trim() !== '') return { value: v, from: f.name };
  }
  return undefined;
}

/** The secrets of a variable's value (space-separated), or why it is not usable. */
export function splitSecrets(value: string): { secrets: string[]; problem?: string } {
  const secrets = value.split(/\s+/).filter((s) => s.length > 0);
  if (secrets.length === 0) return { secrets, problem: 'it is empty' };
  for (const s of secrets) {
    const raw = s.startsWith('whsec_') ? s.slice('whsec_'.length) : s;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(raw) || Buffer.from(raw, 'base64').length < 16) {
      return { secrets, problem: `${s.slice(0, 10)}… is not a whsec_ secret (whsec_ and at least 16 bytes in base64)` };
    }
  }
  return { secrets };
}

/**
 * The engine's `sources` option from the config file and the environment.
 * A secret that is not set (or is not a `whsec_` secret) is an error that
 * says which variable and how to set it.
 */
export function resolveSources(settings: SourceSettings, env: Record<string, string | undefined>): SourcesConfig {
  const out: Record<string, SourceConfig> = {};
  for (const [name, entry] of Object.entries(settings.file?.config.sources ?? {})) {
    const variable = entry.signingSecretEnv;
    const found = lookupSecret(settings, env, variable);
    if (!found) {
      throw new CliError(`${variable} is not set: Data Source "${name}" needs its signing secret`, {
        code: 'source_secret_not_set',
        fix: `Run \`ablo source rotate-secret ${name}\` (writes a new one to .env.local) or set ${variable}=whsec_... in .env.local or the environment, the same value as in the app's environment.`,
        details: { source: name, variable },
      });
    }
    const { secrets, problem } = splitSecrets(found.value);
    if (problem) {
      throw new CliError(`${variable} (from ${found.from}) is not a usable signing secret: ${problem}`, {
        code: 'source_secret_invalid',
        fix: `Run \`ablo source rotate-secret ${name} --finish\` for a new secret in .env.local, or set ${variable} to the whsec_... secret the app uses.`,
        details: { source: name, variable },
      });
    }
    out[name] = {
      ...(entry.url !== undefined ? { url: entry.url } : {}),
      models: [...entry.models],
      signingSecret: secrets,
      ...(entry.timeoutMs !== undefined ? { timeoutMs: entry.timeoutMs } : {}),
      ...(entry.pollIntervalMs !== undefined ? { pollIntervalMs: entry.pollIntervalMs } : {}),
    };
  }
  return out;
}

/** Every model a source names must be in the schema: the first one that is not is an error naming the source. */
export function checkSourceModels(sources: SourcesConfig, schemaModels: Iterable<string>, schemaFile = 'the schema'): void {
  const known = new Set(schemaModels);
  for (const [name, source] of Object.entries(sources)) {
    const missing = source.models.filter((m) => !known.has(m));
    if (missing.length === 0) continue;
    const list = missing.map((m) => `"${m}"`).join(', ');
    throw new CliError(`Data Source "${name}" names model${missing.length > 1 ? 's' : ''} ${list}, not in ${schemaFile}`, {
      code: 'source_model_not_in_schema',
      fix: `Add ${list} to ${schemaFile}, or remove ${missing.length > 1 ? 'them' : 'it'} from "sources.${name}.models" in ablo.config.json.`,
      details: { source: name, models: missing, schemaModels: [...known] },
    });
  }
}

/** One line per source: `Data Source app → https://… (tasks, projects)` or `… (reverse channel) (tasks)`. */
export function describeSources(sources: SourcesConfig): string[] {
  return Object.entries(sources).map(([name, s]) => `Data Source ${name} → ${s.url ?? '(reverse channel)'} (${s.models.join(', ')})`);
}
