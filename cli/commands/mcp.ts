/**
 * `ablo mcp`: the configured engine's models as MCP tools, over stdio, for
 * coding agents (`claude mcp add ablo-sync -- npx ablo mcp`).
 *
 * stdout carries only MCP messages. Everything else — the start line, claim
 * renewals that failed, and a startup failure — goes to stderr. A startup
 * failure is one line on stderr and exit 1 (unreachable engine, refused key)
 * or 2 (an unknown model or tool name, a bad flag value).
 *
 * The credential: `--session-token` / `ABLO_SESSION_TOKEN` (an `ek_…`
 * session token) when given, else the API key (secret `sk_…` or restricted
 * `rk_…`). The server offers only the tools it allows (`GET /v1/me`). With
 * `--participant`, a secret key mints a session for that participant
 * (`--ops`, `--groups`, `--session-ttl`) and keeps it refreshed.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { BAD_KEY_FIX, EngineClient, health, targetFrom } from '../api.js';
import { describeOrigin, resolveConfig, type Setting } from '../config.js';
import type { CliContext } from '../context.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, isCliError, UsageError } from '../errors.js';

/** Mirrors mcp/claims.ts (the MCP SDK loads only when the server starts; this module stays light). */
const CLAIM_PATIENCE_DEFAULT_SECONDS = 50;
const CLAIM_PATIENCE_MAX_SECONDS = 240;

export interface McpFlags {
  dir?: string;
  url?: string;
  apiKey?: string;
  readOnly?: boolean;
  models?: string;
  disableTools?: string;
  tokenBudget?: string;
  claimPatience?: string;
  participant?: string;
  sessionToken?: string;
  ops?: string;
  groups?: string;
  sessionTtl?: string;
}

export const SESSION_TOKEN_VAR = 'ABLO_SESSION_TOKEN';

const SESSION_OPS = ['read', 'create', 'update', 'delete', 'write', 'claim', 'presence'] as const;
type SessionOp = (typeof SESSION_OPS)[number];

/** `--ops read,write` → the operations of a self-minted session (a usage error names a bad one). */
export function opsFlag(value: string | undefined): SessionOp[] | undefined {
  const items = listFlag(value);
  if (!items) return undefined;
  const bad = items.filter((o) => !(SESSION_OPS as readonly string[]).includes(o));
  if (bad.length > 0) {
    throw new UsageError(`--ops: unknown operation${bad.length > 1 ? 's' : ''} ${bad.map((b) => JSON.stringify(b)).join(', ')}.`, {
      code: 'invalid_option',
      fix: `A session may have: ${SESSION_OPS.join(', ')} (write = create, update, delete).`,
    });
  }
  return items as SessionOp[];
}

/** `--session-ttl 900` → seconds (1 to 86400). */
export function sessionTtlFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 86_400) {
    throw new UsageError(`--session-ttl must be a whole number of seconds from 1 to 86400; got ${JSON.stringify(value)}.`, {
      code: 'invalid_option',
      fix: 'Pass e.g. --session-ttl 900 (the default, 15 minutes).',
    });
  }
  return n;
}

/** The credential: `--session-token`, else `--api-key`, else ABLO_SESSION_TOKEN, else ABLO_API_KEY (environment, .env.local, .env). */
export function credentialSetting(flags: McpFlags, env: Record<string, string | undefined>, apiKey: Setting<string> | undefined): Setting<string> | undefined {
  if (flags.sessionToken) return { value: flags.sessionToken, source: 'flag', origin: '--session-token' };
  if (!flags.apiKey && env[SESSION_TOKEN_VAR]) return { value: env[SESSION_TOKEN_VAR]!, source: 'env', origin: SESSION_TOKEN_VAR };
  return apiKey;
}

/** `a, b,,c` → `['a', 'b', 'c']` */
export function listFlag(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return items.length ? items : undefined;
}

export function tokenBudgetFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 500) {
    throw new UsageError(`--token-budget must be a whole number of tokens, at least 500; got ${JSON.stringify(value)}.`, {
      code: 'invalid_token_budget',
      fix: 'Pass e.g. --token-budget 20000 (the default).',
    });
  }
  return n;
}

/** `--claim-patience 50` → seconds (above 0, at most 240: one long-poll stays under fetch's 300 s). */
export function claimPatienceFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(n) || n <= 0 || n > CLAIM_PATIENCE_MAX_SECONDS) {
    throw new UsageError(`--claim-patience must be a number of seconds above 0 and at most ${CLAIM_PATIENCE_MAX_SECONDS}; got ${JSON.stringify(value)}.`, {
      code: 'invalid_option',
      fix: `Pass e.g. --claim-patience ${CLAIM_PATIENCE_DEFAULT_SECONDS} (the default); keep it under your MCP client's request timeout (60 s by default).`,
    });
  }
  return n;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

export async function run(opts: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const flags = opts as McpFlags;
  const models = listFlag(flags.models);
  const disableTools = listFlag(flags.disableTools);
  const tokenBudget = tokenBudgetFlag(flags.tokenBudget);
  const claimPatienceSeconds = claimPatienceFlag(flags.claimPatience);
  const ops = opsFlag(flags.ops);
  const groups = listFlag(flags.groups);
  const ttlSeconds = sessionTtlFlag(flags.sessionTtl);
  if ((ops || groups || ttlSeconds !== undefined) && flags.participant === undefined) {
    throw new UsageError('--ops, --groups and --session-ttl shape the session ablo mcp mints for --participant; pass --participant too.', {
      code: 'invalid_option',
      fix: 'e.g. ablo mcp --participant agent:claude --ops read,write --groups "board:*" (with a secret key).',
    });
  }
  // --dir: the project whose .env.local holds the key, for clients that start servers elsewhere (`ablo mcp install`).
  if (flags.dir !== undefined && !isDirectory(resolve(ctx.cwd, flags.dir))) {
    throw new UsageError(`--dir: ${JSON.stringify(flags.dir)} is not a directory.`, {
      code: 'invalid_option',
      fix: 'Pass the project folder (the one with .env.local); a client that does not expand ${workspaceFolder} needs the absolute path.',
    });
  }
  const config = resolveConfig({ cwd: flags.dir ? resolve(ctx.cwd, flags.dir) : ctx.cwd, env: ctx.env, flags: { url: flags.url, apiKey: flags.apiKey } });
  const url = config.url.value;
  const credential = credentialSetting(flags, ctx.env, config.apiKey);
  const fail = (code: number, message: string, fix?: string): number => {
    ctx.io.stderr(`ablo mcp: ${oneLine(message)}${fix ? ` — ${oneLine(fix)}` : ''}\n`);
    return code;
  };

  if (!credential) {
    return fail(EXIT_FAILURE, `no API key for the engine at ${url}`, 'set ABLO_API_KEY (in the environment or .env.local) or pass --api-key (or a session token: --session-token / ABLO_SESSION_TOKEN)');
  }
  // Reachability first: its failure names the URL, where it came from, and the errno.
  try {
    await health(new EngineClient(targetFrom(config)), 10_000);
  } catch (err) {
    if (isCliError(err)) return fail(EXIT_FAILURE, err.message, err.fix);
    throw err;
  }

  // The MCP SDK loads only now, for this command.
  const { serveStdio } = await import('../../mcp/stdio.js');
  const log = (line: string): void => ctx.io.stderr(`[ablo mcp] ${line}\n`);
  let session: Awaited<ReturnType<typeof serveStdio>>;
  try {
    session = await serveStdio({
      engineUrl: url,
      apiKey: credential.value,
      ...(flags.readOnly ? { readOnly: true } : {}),
      ...(models ? { models } : {}),
      ...(disableTools ? { disableTools } : {}),
      ...(tokenBudget !== undefined ? { tokenBudget } : {}),
      ...(claimPatienceSeconds !== undefined ? { claimPatienceSeconds } : {}),
      ...(flags.participant !== undefined
        ? // A secret key mints a session for the participant; any other credential is refused (it acts as its own).
          { participant: flags.participant, session: { ...(ops ? { operations: ops } : {}), ...(groups ? { groups } : {}), ...(ttlSeconds !== undefined ? { ttlSeconds } : {}) } }
        : {}),
      log,
    });
  } catch (err) {
    const e = err as { type?: string; code?: string; message?: string };
    if (e.type === 'authentication_error') {
      const token = credential.origin === '--session-token' || credential.origin === SESSION_TOKEN_VAR;
      return fail(
        EXIT_FAILURE,
        `the engine at ${url} refused the ${token ? 'session token' : 'API key'} from ${describeOrigin(credential)}: ${e.message ?? ''}`,
        token ? 'mint a new session token (POST /v1/sessions with a secret key) and pass it with --session-token or ABLO_SESSION_TOKEN' : BAD_KEY_FIX,
      );
    }
    if (e.code === 'secret_key_required' || e.code === 'participant_not_allowed') return fail(EXIT_USAGE, `--participant: ${e.message ?? ''}`);
    if (e.code === 'unknown_model' || e.code === 'unknown_tool' || e.code === 'invalid_participant') {
      const flag = e.code === 'unknown_model' ? '--models' : e.code === 'unknown_tool' ? '--disable-tools' : '--participant';
      return fail(EXIT_USAGE, `${flag}: ${e.message ?? ''}`);
    }
    if (e.type === 'connection_error') return fail(EXIT_FAILURE, e.message ?? `cannot reach the engine at ${url}`, 'start it with `npx ablo dev` or set ABLO_URL');
    if (typeof e.type === 'string') return fail(EXIT_FAILURE, e.message ?? String(err));
    throw err;
  }
  await session.done;
  return EXIT_OK;
}
