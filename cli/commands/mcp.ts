/**
 * `ablo mcp`: the configured engine's models as MCP tools, over stdio, for
 * coding agents (`claude mcp add ablo-sync -- npx ablo mcp`).
 *
 * stdout carries only MCP messages. Everything else — the start line, claim
 * renewals that failed, and a startup failure — goes to stderr. A startup
 * failure is one line on stderr and exit 1 (unreachable engine, refused key)
 * or 2 (an unknown model or tool name, a bad flag value).
 */
import { BAD_KEY_FIX, EngineClient, health, targetFrom } from '../api.js';
import { describeOrigin, resolveConfig } from '../config.js';
import type { CliContext } from '../context.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, isCliError, UsageError } from '../errors.js';

export interface McpFlags {
  url?: string;
  apiKey?: string;
  readOnly?: boolean;
  models?: string;
  disableTools?: string;
  tokenBudget?: string;
  participant?: string;
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

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

export async function run(opts: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const flags = opts as McpFlags;
  const models = listFlag(flags.models);
  const disableTools = listFlag(flags.disableTools);
  const tokenBudget = tokenBudgetFlag(flags.tokenBudget);
  const config = resolveConfig({ cwd: ctx.cwd, env: ctx.env, flags: { url: flags.url, apiKey: flags.apiKey } });
  const url = config.url.value;
  const fail = (code: number, message: string, fix?: string): number => {
    ctx.io.stderr(`ablo mcp: ${oneLine(message)}${fix ? ` — ${oneLine(fix)}` : ''}\n`);
    return code;
  };

  if (!config.apiKey) {
    return fail(EXIT_FAILURE, `no API key for the engine at ${url}`, 'set ABLO_API_KEY (in the environment or .env.local) or pass --api-key');
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
      apiKey: config.apiKey.value,
      ...(flags.readOnly ? { readOnly: true } : {}),
      ...(models ? { models } : {}),
      ...(disableTools ? { disableTools } : {}),
      ...(tokenBudget !== undefined ? { tokenBudget } : {}),
      ...(flags.participant !== undefined ? { participant: flags.participant } : {}),
      log,
    });
  } catch (err) {
    const e = err as { type?: string; code?: string; message?: string };
    if (e.type === 'authentication_error') {
      return fail(EXIT_FAILURE, `the engine at ${url} refused the API key from ${describeOrigin(config.apiKey)}: ${e.message ?? ''}`, BAD_KEY_FIX);
    }
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
