/**
 * Settings and an engine client for commands that talk to the engine.
 */
import { EngineClient, targetFrom } from './api.js';
import { resolveConfig, type ResolvedConfig } from './config.js';
import type { CliContext } from './context.js';

export interface ConnectFlags {
  url?: string;
  apiKey?: string;
  schema?: string;
}

export function connect(ctx: CliContext, flags: ConnectFlags): { config: ResolvedConfig; client: EngineClient } {
  const config = resolveConfig({ cwd: ctx.cwd, env: ctx.env, flags: { url: flags.url, apiKey: flags.apiKey, schema: flags.schema } });
  return { config, client: new EngineClient(targetFrom(config)) };
}

/** `sk_test_AbCd…` */
export function maskKey(key: string): string {
  return `${key.slice(0, 12)}…`;
}

/** `1a2b3c4d5e6f` */
export function shortHash(hash: string | null | undefined): string {
  return hash ? hash.slice(0, 12) : '(none)';
}
