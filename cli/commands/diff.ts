/**
 * `ablo diff`: the plan `ablo push` would apply, and nothing else. Exit 1 when
 * the local schema differs from the engine's (for CI), 0 when they match.
 */
import { shortHash } from '../connect.js';
import type { CliContext } from '../context.js';
import { parseRenames, planSummary, renderPlan } from '../plan.js';
import { colorsFor } from '../ui/color.js';
import { planPush, type PushFlags } from './push.js';

export async function run(opts: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const flags = opts as PushFlags;
  const renames = parseRenames(flags.rename);
  const { loaded, url, response } = await planPush(ctx, flags, renames);
  const plan = response.plan;
  const differs = plan.changes.length > 0;
  if (!differs) {
    ctx.line(`No differences: the engine at ${url} runs ${loaded.file} (schema version ${response.version}, hash ${shortHash(response.hash)}).`);
  } else {
    ctx.line(`${loaded.file} differs from the engine at ${url} (${planSummary(plan)}):`);
    for (const l of renderPlan(plan, colorsFor(ctx))) ctx.line(`  ${l}`);
    ctx.line(`Run \`ablo push\` to apply${plan.safe ? '' : ' (it will ask before the changes that are not safe)'}.`);
  }
  ctx.result({ schema: loaded.file, url, differences: differs, safe: plan.safe, plan });
  return differs ? 1 : 0;
}
