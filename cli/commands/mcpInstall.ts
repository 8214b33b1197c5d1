/**
 * `ablo mcp install <client>` and `ablo mcp uninstall <client>`: thin actions
 * over cli/mcpInstall.ts (which tests call directly).
 */
import type { CliContext } from '../context.js';
import { EXIT_OK } from '../errors.js';
import { applyChange, displayPath, homeFrom, installNotes, MCP_SERVER_NAME, parseMcpClient, planInstall, planUninstall, type InstallPlaces } from '../mcpInstall.js';

interface InstallFlags {
  print?: boolean;
}

function placesFor(ctx: CliContext): InstallPlaces {
  return { projectDir: ctx.cwd, home: homeFrom(ctx.env) };
}

export async function install(opts: Record<string, unknown>, ctx: CliContext, args: unknown[] = []): Promise<number> {
  const flags = opts as InstallFlags;
  const client = parseMcpClient(args[0] as string | undefined);
  const places = placesFor(ctx);
  const change = planInstall(client, places);
  const file = displayPath(change.target.path, places);
  const notes = installNotes(change, places);
  if (flags.print) {
    ctx.result({ client, file: change.target.path, scope: change.target.scope, written: false, entry: change.entryText, notes });
    ctx.line(`# ${file} (${change.target.scope} scope) — the ${MCP_SERVER_NAME} entry; nothing was written:`);
    ctx.line(change.entryText.replace(/\n$/, ''));
    for (const n of notes) ctx.line(`# ${n}`);
    return EXIT_OK;
  }
  applyChange(change);
  ctx.result({ client, file: change.target.path, scope: change.target.scope, written: change.changed, entry: change.entryText, notes });
  if (!change.changed) ctx.line(`${MCP_SERVER_NAME} is already in ${file}; nothing changed.`);
  else if (change.hadEntry) ctx.line(`Replaced the ${MCP_SERVER_NAME} entry in ${file} (${change.target.scope} scope).`);
  else ctx.line(`Added ${MCP_SERVER_NAME} (npx ablo mcp) to ${file} (${change.target.scope} scope).`);
  for (const n of notes) ctx.line(n);
  return EXIT_OK;
}

export async function uninstall(opts: Record<string, unknown>, ctx: CliContext, args: unknown[] = []): Promise<number> {
  const flags = opts as InstallFlags;
  const client = parseMcpClient(args[0] as string | undefined);
  const places = placesFor(ctx);
  const change = planUninstall(client, places);
  const file = displayPath(change.target.path, places);
  if (flags.print) {
    ctx.result({ client, file: change.target.path, removed: false, hadEntry: change.hadEntry, after: change.after ?? null });
    ctx.line(change.hadEntry ? `# ${file} without ${MCP_SERVER_NAME}; nothing was written:\n${(change.after ?? '').replace(/\n$/, '')}` : `# ${file} has no ${MCP_SERVER_NAME} entry; nothing to remove.`);
    return EXIT_OK;
  }
  applyChange(change);
  ctx.result({ client, file: change.target.path, removed: change.hadEntry });
  ctx.line(change.hadEntry ? `Removed ${MCP_SERVER_NAME} from ${file}; other servers were kept.` : `${file} has no ${MCP_SERVER_NAME} entry (${change.before === undefined ? 'the file does not exist' : 'other servers left as they are'}); nothing changed.`);
  return EXIT_OK;
}
