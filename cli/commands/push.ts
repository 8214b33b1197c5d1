/**
 * `ablo push`: plan the local schema against the engine (with live data
 * statistics, so a change that touches no stored data is safe), show the plan
 * coloured by class, and apply it.
 *
 * - Safe plans apply at once.
 * - Destructive / needs-data plans: on a terminal, offer renames for a
 *   dropped + added field of the same type, then ask y/N. Off a terminal,
 *   exit 1 with the plan unless `--allow-destructive` (or `--yes`).
 * - When the environment shows a coding agent (see cli/agent.ts), only
 *   `--allow-destructive` applies such a plan: `--yes` alone never drops data,
 *   and nothing is asked.
 */
import type { SchemaPushAnswer } from '../../src/protocol/api.js';
import type { SchemaPlan } from '../../src/schema/plan.js';
import { detectCodingAgent } from '../agent.js';
import type { EngineClient } from '../api.js';
import { connect, shortHash } from '../connect.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { loadSchema, type LoadedSchema } from '../loadSchema.js';
import { parseRenames, planSummary, renameCandidates, renderPlan, unsafeSummary } from '../plan.js';
import { colorsFor } from '../ui/color.js';
import { canPrompt, confirm } from '../ui/prompt.js';

/** What `POST /v1/schema` answers (src/protocol/api.ts). */
export type PushResponse = SchemaPushAnswer;

export interface PushFlags {
  schema?: string;
  url?: string;
  apiKey?: string;
  dryRun?: boolean;
  allowDestructive?: boolean;
  rename?: string[];
  yes?: boolean;
}

/** POST /v1/schema. */
export function postSchema(
  client: EngineClient,
  loaded: LoadedSchema,
  options: { dryRun: boolean; allowDestructive?: boolean; renames?: Record<string, string> },
): Promise<PushResponse> {
  return client.call((api) =>
    api.pushSchema({
      schema: loaded.serialized,
      dryRun: options.dryRun,
      ...(options.allowDestructive ? { allowDestructive: true } : {}),
      ...(options.renames && Object.keys(options.renames).length ? { renames: options.renames } : {}),
    }),
  );
}

export interface Planned {
  loaded: LoadedSchema;
  client: EngineClient;
  url: string;
  response: PushResponse;
}

/** Load the schema and get the plan from the engine (dry run). */
export async function planPush(ctx: CliContext, flags: PushFlags, renames: Record<string, string>): Promise<Planned> {
  const { config, client } = connect(ctx, flags);
  const loaded = await loadSchema(config.schema.value, { cwd: config.cwd });
  const response = await postSchema(client, loaded, { dryRun: true, renames });
  return { loaded, client, url: client.url, response };
}

export async function run(opts: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const flags = opts as PushFlags;
  const c = colorsFor(ctx);
  let renames = parseRenames(flags.rename);
  const { loaded, client, url, response } = await planPush(ctx, flags, renames);
  let plan = response.plan;
  const base = { schema: loaded.file, url, renames };

  if (plan.changes.length === 0) {
    ctx.line(`The engine at ${url} already runs ${loaded.file} (schema version ${response.version}, hash ${shortHash(response.hash)}). Nothing to push.`);
    ctx.result({ ...base, applied: false, changes: 0, plan, version: response.version, hash: response.hash });
    return 0;
  }

  const show = (p: SchemaPlan) => {
    ctx.line(`Plan for ${loaded.file} → ${url} (${planSummary(p)}):`);
    for (const l of renderPlan(p, c)) ctx.line(`  ${l}`);
  };
  show(plan);

  if (flags.dryRun) {
    ctx.line(c.dim('Dry run: nothing was applied.'));
    ctx.result({ ...base, applied: false, dryRun: true, plan });
    return 0;
  }

  let allowDestructive = false;
  if (!plan.safe) {
    const agent = detectCodingAgent(ctx.env);
    if (flags.allowDestructive) {
      allowDestructive = true;
    } else if (agent) {
      throw new CliError(
        `${agent.name} detected (${agent.variable}): the plan has ${unsafeSummary(plan)} and ${flags.yes ? '--yes does not confirm those' : 'nothing was confirmed'}; nothing was applied`,
        {
          code: 'needs_allow_destructive',
          fix: 'Show the plan to a person. If losing that data is intended, rerun with --allow-destructive; if a field was renamed, use --rename model.old=model.new to keep its data.',
          details: { plan, agent: agent.name },
        },
      );
    } else if (flags.yes) {
      allowDestructive = true;
    } else if (canPrompt(ctx)) {
      // Renames first: a dropped and an added field of the same type.
      const candidates = renameCandidates(plan);
      let added = 0;
      for (const r of candidates) {
        const yes = await confirm(`Did you rename ${r.model}.${r.from} to ${r.model}.${r.to}? (yes keeps its data; no drops it)`, false);
        if (yes) {
          renames = { ...renames, [`${r.model}.${r.from}`]: `${r.model}.${r.to}` };
          added++;
        }
      }
      if (added) {
        plan = (await postSchema(client, loaded, { dryRun: true, renames })).plan;
        ctx.line('With the renames:');
        show(plan);
      }
      if (!plan.safe) {
        const ok = await confirm(c.bold(`Apply ${unsafeSummary(plan)}? Stored data may be lost or need fixing.`), false);
        if (!ok) {
          throw new CliError('not confirmed; nothing was applied', {
            code: 'not_confirmed',
            fix: 'Change the schema (a .default(...), .optional(), or --rename) or run `ablo push` again and confirm.',
            details: { plan },
          });
        }
        allowDestructive = true;
      }
    } else {
      throw new CliError(`the plan has ${unsafeSummary(plan)} (listed above); nothing was applied`, {
        code: 'needs_allow_destructive',
        fix: 'If that is intended, rerun with --allow-destructive; if a field was renamed, pass --rename model.old=model.new to keep its data.',
        details: { plan },
      });
    }
  }

  const applied = await postSchema(client, loaded, { dryRun: false, allowDestructive, renames });
  if (!applied.applied && applied.plan.changes.length > 0) {
    throw new CliError('the engine did not apply the plan: it changed since it was shown (new data or another push)', {
      code: 'plan_changed',
      fix: 'Run `ablo push` again to see the current plan.',
      details: { plan: applied.plan },
    });
  }
  ctx.line(c.green(`Applied: schema version ${applied.version} (hash ${shortHash(applied.hash)}).`));
  ctx.result({ ...base, applied: true, plan: applied.plan, version: applied.version, hash: applied.hash });
  return 0;
}
