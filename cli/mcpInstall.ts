/**
 * `ablo mcp install <client>` / `ablo mcp uninstall <client>`: the MCP config
 * entry that makes a coding agent start `npx ablo mcp` for this project, as a
 * server named `ablo-sync`.
 *
 * Where each client keeps it: project scope where the client has one (the
 * file can be committed, so it never holds a key), user scope where it has
 * only that (Windsurf):
 *
 *   claude    .mcp.json                              `mcpServers`
 *   cursor    .cursor/mcp.json                       `mcpServers`
 *   vscode    .vscode/mcp.json                       `servers`, `type: "stdio"`
 *   codex     .codex/config.toml                     `[mcp_servers.ablo-sync]` (trusted projects only)
 *   windsurf  ~/.codeium/windsurf/mcp_config.json    `mcpServers`
 *
 * The key: `ablo mcp` reads ABLO_API_KEY (and ABLO_URL) from `.env.local` in
 * the directory given by `--dir` (else the one it starts in), and `ablo dev`
 * writes that file. Claude Code and Codex start project servers in the project,
 * so their entry is plain `npx ablo mcp`; Cursor and VS Code pass
 * `--dir ${workspaceFolder}` (both expand it), and Windsurf's user-wide entry
 * passes the project's absolute path.
 *
 * Editing is conservative: the file is rewritten only when our entry changes,
 * every other server and key is kept, and a file we cannot read as the
 * client's format is an error, never overwritten.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { CliError, UsageError } from './errors.js';

export const MCP_SERVER_NAME = 'ablo-sync';
export const MCP_CLIENTS = ['claude', 'cursor', 'windsurf', 'vscode', 'codex'] as const;
export type McpClient = (typeof MCP_CLIENTS)[number];

/** Where the key comes from (said after every install). */
export const KEY_SOURCE = '.env.local';

export interface InstallPlaces {
  /** The project: where `.env.local` (and the project-scope config) is. */
  projectDir: string;
  /** The user's home (user-scope config). */
  home: string;
}

export interface ClientTarget {
  client: McpClient;
  scope: 'project' | 'user';
  /** Absolute path of the config file. */
  path: string;
  format: 'json' | 'toml';
  /** The JSON key that holds the servers (JSON formats). */
  serversKey: 'mcpServers' | 'servers';
}

/** `cursor` → the client; anything else a usage error (exit 2) listing the clients. */
export function parseMcpClient(name: string | undefined): McpClient {
  if (name !== undefined && (MCP_CLIENTS as readonly string[]).includes(name)) return name as McpClient;
  throw new UsageError(name === undefined ? 'Which MCP client? None was named.' : `Unknown MCP client ${JSON.stringify(name)}.`, {
    code: 'unknown_mcp_client',
    fix: `Name one of: ${MCP_CLIENTS.join(', ')} (e.g. ablo mcp install claude).`,
    details: { clients: [...MCP_CLIENTS] },
  });
}

/** The home directory, from HOME when set (tests point it at a temp dir). */
export function homeFrom(env: Record<string, string | undefined>): string {
  return env.HOME || env.USERPROFILE || homedir();
}

export function clientTarget(client: McpClient, places: InstallPlaces): ClientTarget {
  const project = resolve(places.projectDir);
  switch (client) {
    case 'claude':
      return { client, scope: 'project', path: join(project, '.mcp.json'), format: 'json', serversKey: 'mcpServers' };
    case 'cursor':
      return { client, scope: 'project', path: join(project, '.cursor', 'mcp.json'), format: 'json', serversKey: 'mcpServers' };
    case 'vscode':
      return { client, scope: 'project', path: join(project, '.vscode', 'mcp.json'), format: 'json', serversKey: 'servers' };
    case 'codex':
      return { client, scope: 'project', path: join(project, '.codex', 'config.toml'), format: 'toml', serversKey: 'mcpServers' };
    case 'windsurf':
      return { client, scope: 'user', path: join(places.home, '.codeium', 'windsurf', 'mcp_config.json'), format: 'json', serversKey: 'mcpServers' };
  }
}

/** Our server entry for a client: `npx ablo mcp`, pointed at the project where the client does not start it there. No key. */
export function serverEntry(client: McpClient, projectDir: string): Record<string, unknown> {
  switch (client) {
    case 'claude':
    case 'codex':
      return { command: 'npx', args: ['ablo', 'mcp'] };
    case 'cursor':
      return { command: 'npx', args: ['ablo', 'mcp', '--dir', '${workspaceFolder}'] };
    case 'vscode':
      return { type: 'stdio', command: 'npx', args: ['ablo', 'mcp', '--dir', '${workspaceFolder}'] };
    case 'windsurf':
      return { command: 'npx', args: ['ablo', 'mcp', '--dir', resolve(projectDir)] };
  }
}

export interface ConfigChange {
  target: ClientTarget;
  /** The file's text now (undefined: there is no file). */
  before: string | undefined;
  /** The file's text after the change (undefined: leave it absent). */
  after: string | undefined;
  /** Whether the file would change. */
  changed: boolean;
  /** install: whether an older, different ablo-sync entry is replaced; uninstall: whether there was one to remove. */
  hadEntry: boolean;
  /** Our entry as it appears in the file (install). */
  entryText: string;
}

function readIfExists(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`Cannot read ${path}: ${(err as Error).message}`, { code: 'mcp_client_config_invalid', fix: 'Check the file permissions, then run the command again.', cause: err });
  }
}

function invalid(target: ClientTarget, cause: string): CliError {
  return new CliError(`${target.path} is not ${target.format === 'json' ? 'valid JSON' : 'TOML ablo can edit'} (${cause}); it was left unchanged.`, {
    code: 'mcp_client_config_invalid',
    fix: `Fix or remove the file, or add the entry by hand: run the same command with --print to see it.`,
    details: { file: target.path, client: target.client },
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** The existing JSON config as an object with its servers object; a clear error when it is not one. */
function parseJsonConfig(target: ClientTarget, text: string | undefined): { doc: Record<string, unknown>; servers: Record<string, unknown> | undefined } {
  if (text === undefined || text.trim() === '') return { doc: {}, servers: undefined };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    // VS Code also accepts comments in mcp.json; we do not rewrite such a file rather than drop them.
    throw invalid(target, (err as Error).message);
  }
  if (!isPlainObject(doc)) throw invalid(target, 'the top level is not an object');
  const servers = doc[target.serversKey];
  if (servers !== undefined && !isPlainObject(servers)) throw invalid(target, `"${target.serversKey}" is not an object`);
  return { doc, servers };
}

// ── Codex TOML ──────────────────────────────────────────────────────────────
// No TOML library: we only add or remove our own table, as text, so every
// other byte of the file stays as it was.

const TOML_HEADER = /^\s*\[\[?\s*([^\]]*?)\s*\]\]?\s*(#.*)?$/;

/** `mcp_servers.ablo-sync`, `mcp_servers."ablo-sync"`, and their sub-tables (`.env`). */
function isOurTable(name: string): boolean {
  const m = /^mcp_servers\s*\.\s*(?:ablo-sync|"ablo-sync"|'ablo-sync')(\s*\..*)?$/.exec(name);
  return m !== null;
}

function tomlEntryText(entry: Record<string, unknown>): string {
  const lines = [`[mcp_servers.${MCP_SERVER_NAME}]`];
  for (const [k, v] of Object.entries(entry)) lines.push(`${k} = ${JSON.stringify(v).replace(/,/g, ', ')}`);
  return `${lines.join('\n')}\n`;
}

interface TomlSplit {
  /** The file's lines without our tables. */
  rest: string[];
  /** Our tables' lines, as found. */
  ours: string[];
}

/**
 * Split a TOML file into our `[mcp_servers.ablo-sync…]` tables and the rest, after a
 * light check of its shape (table headers closed, top-level lines are `key = value`).
 */
function splitToml(target: ClientTarget, text: string): TomlSplit {
  const lines = text.split('\n');
  const rest: string[] = [];
  const ours: string[] = [];
  let inOurs = false;
  let depth = 0; // open [ or { of a value that continues on the next lines
  let inMultiline: string | undefined; // """ or ''' of a multi-line string
  lines.forEach((line, i) => {
    const where = `line ${i + 1}`;
    if (inMultiline) {
      if (line.includes(inMultiline)) inMultiline = undefined;
    } else if (depth > 0) {
      depth += bracketBalance(line);
    } else {
      const trimmed = line.trim();
      if (trimmed.startsWith('[')) {
        const m = TOML_HEADER.exec(line);
        if (!m || m[1] === '') throw invalid(target, `${where}: a table header that does not close`);
        inOurs = isOurTable(m[1]!);
      } else if (trimmed !== '' && !trimmed.startsWith('#')) {
        const eq = trimmed.indexOf('=');
        if (eq <= 0) throw invalid(target, `${where}: expected key = value`);
        const value = trimmed.slice(eq + 1);
        const triple = /("""|''')/.exec(value);
        if (triple && value.split(triple[1]!).length === 2) inMultiline = triple[1];
        else depth = Math.max(0, bracketBalance(value));
        // `ablo-sync = { … }` under [mcp_servers], or a dotted key: a form we do not rewrite.
        if (/^(mcp_servers\s*\.\s*)?["']?ablo-sync["']?\s*[.=]/.test(trimmed)) throw invalid(target, `${where}: ablo-sync is defined inline`);
      }
    }
    (inOurs ? ours : rest).push(line);
  });
  if (inMultiline || depth > 0) throw invalid(target, 'a value is not closed at the end of the file');
  return { rest, ours };
}

/** Opening minus closing brackets/braces outside strings (enough for arrays and inline tables). */
function bracketBalance(text: string): number {
  let n = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#') break;
    else if (c === '[' || c === '{') n++;
    else if (c === ']' || c === '}') n--;
  }
  return n;
}

function joinToml(rest: string[], block?: string): string {
  let body = rest.join('\n').replace(/\n+$/, '');
  if (block !== undefined) body = body === '' ? block.replace(/\n$/, '') : `${body}\n\n${block.replace(/\n$/, '')}`;
  return body === '' ? '' : `${body}\n`;
}

// ── install / uninstall ─────────────────────────────────────────────────────

/** What `ablo mcp install <client>` would write (nothing is written here). */
export function planInstall(client: McpClient, places: InstallPlaces): ConfigChange {
  const target = clientTarget(client, places);
  const entry = serverEntry(client, places.projectDir);
  const before = readIfExists(target.path);
  if (target.format === 'toml') {
    const block = tomlEntryText(entry);
    const { rest, ours } = splitToml(target, before ?? '');
    const current = ours.join('\n').replace(/\n+$/, '');
    if (current === block.replace(/\n$/, '')) return { target, before, after: before, changed: false, hadEntry: true, entryText: block };
    const after = joinToml(rest, block);
    return { target, before, after, changed: after !== before, hadEntry: ours.length > 0, entryText: block };
  }
  const { doc, servers } = parseJsonConfig(target, before);
  const entryText = jsonText({ [target.serversKey]: { [MCP_SERVER_NAME]: entry } });
  if (servers && sameJson(servers[MCP_SERVER_NAME], entry)) return { target, before, after: before, changed: false, hadEntry: true, entryText };
  const hadEntry = servers !== undefined && MCP_SERVER_NAME in servers;
  // Keep every other key and server in place; ours goes last (or where it was).
  const next = { ...doc, [target.serversKey]: { ...(servers ?? {}), [MCP_SERVER_NAME]: entry } };
  const after = jsonText(next);
  return { target, before, after, changed: after !== before, hadEntry, entryText };
}

/** What `ablo mcp uninstall <client>` would write: the file without our entry (nothing else touched). */
export function planUninstall(client: McpClient, places: InstallPlaces): ConfigChange {
  const target = clientTarget(client, places);
  const before = readIfExists(target.path);
  const none: ConfigChange = { target, before, after: before, changed: false, hadEntry: false, entryText: '' };
  if (before === undefined) return none;
  if (target.format === 'toml') {
    const { rest, ours } = splitToml(target, before);
    if (ours.length === 0) return none;
    const after = joinToml(rest);
    return { target, before, after, changed: after !== before, hadEntry: true, entryText: '' };
  }
  const { doc, servers } = parseJsonConfig(target, before);
  if (!servers || !(MCP_SERVER_NAME in servers)) return none;
  const { [MCP_SERVER_NAME]: _removed, ...others } = servers;
  const after = jsonText({ ...doc, [target.serversKey]: others });
  return { target, before, after, changed: true, hadEntry: true, entryText: '' };
}

/**
 * The clients whose config already starts ablo-sync for this project exactly
 * as `ablo mcp install` would write it (a config ablo cannot read counts as
 * not installed: this only informs, it never fails).
 */
export function installedClients(places: InstallPlaces): McpClient[] {
  return MCP_CLIENTS.filter((client) => {
    try {
      return !planInstall(client, places).changed;
    } catch {
      return false;
    }
  });
}

/** The `mcp` line of `ablo dev`: where ablo-sync is installed, or the one command that installs it. */
export function mcpHint(places: InstallPlaces): string {
  const installed = installedClients(places);
  if (installed.length === 0) return `npx ablo mcp install claude  (or ${MCP_CLIENTS.filter((c) => c !== 'claude').join(', ')})`;
  const where = installed.map((c) => `${c} (${displayPath(clientTarget(c, places).path, places)})`).join(', ');
  return `ablo-sync installed for ${where}`;
}

/** Write the change (creating the folder); a no-op when nothing changes. */
export function applyChange(change: ConfigChange): void {
  if (!change.changed || change.after === undefined) return;
  try {
    mkdirSync(dirname(change.target.path), { recursive: true });
    writeFileSync(change.target.path, change.after);
  } catch (err) {
    throw new CliError(`Cannot write ${change.target.path}: ${(err as Error).message}`, { code: 'write_failed', fix: 'Check that the folder is writable, or use --print and add the entry by hand.', cause: err });
  }
}

/** The path as the user knows it: relative inside the project, `~/…` under home. */
export function displayPath(path: string, places: InstallPlaces): string {
  const inProject = relative(resolve(places.projectDir), path);
  if (!inProject.startsWith('..') && !inProject.startsWith(sep)) return inProject;
  const inHome = relative(places.home, path);
  if (!inHome.startsWith('..')) return `~/${inHome}`;
  return path;
}

/** The lines after an install: where the entry went, where the key comes from, what the client needs. */
export function installNotes(change: ConfigChange, places: InstallPlaces): string[] {
  const { client, scope } = change.target;
  const notes = [
    `The server reads ABLO_API_KEY (and ABLO_URL) from ${KEY_SOURCE} in ${resolve(places.projectDir)} (\`ablo dev\` writes it); no key is written to ${displayPath(change.target.path, places)}.`,
  ];
  if (!existsSync(join(places.projectDir, KEY_SOURCE))) notes.push(`There is no ${KEY_SOURCE} yet: run \`npx ablo dev\` in the project first.`);
  if (client === 'codex') notes.push('Codex reads .codex/config.toml only in projects you trust: answer yes when Codex asks to trust this folder (or mark it trusted in ~/.codex/config.toml).');
  if (scope === 'user') notes.push(`Windsurf has only a user-wide config: this entry serves ${resolve(places.projectDir)} in every Windsurf window; install again from another project to point it there.`);
  if (client === 'claude') notes.push('Claude Code asks you to approve project servers from .mcp.json the first time it starts.');
  return notes;
}
