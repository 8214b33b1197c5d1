/**
 * `ablo mcp install / uninstall` as plain functions (cli/mcpInstall.ts): each
 * client's file, idempotence, other entries kept, malformed files refused,
 * uninstall, and no key in any file written. HOME is a temp dir per test.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CliError } from '../../cli/errors.js';
import {
  applyChange,
  displayPath,
  installedClients,
  installNotes,
  MCP_CLIENTS,
  mcpHint,
  parseMcpClient,
  planInstall,
  planUninstall,
  type InstallPlaces,
  type McpClient,
} from '../../cli/mcpInstall.js';

const KEY = 'sk_test_mcpinstall_0123456789abcdef';
const cleanups: string[] = [];
afterEach(() => {
  for (const d of cleanups.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(): InstallPlaces & { file(rel: string): string; write(rel: string, text: string): void } {
  const root = mkdtempSync(join(tmpdir(), 'ablo-mcp-install-'));
  cleanups.push(root);
  const projectDir = join(root, 'project');
  const home = join(root, 'home');
  mkdirSync(projectDir);
  mkdirSync(home);
  writeFileSync(join(projectDir, '.env.local'), `ABLO_URL=http://127.0.0.1:4100\nABLO_API_KEY=${KEY}\n`);
  return {
    projectDir,
    home,
    file: (rel) => (rel.startsWith('~/') ? join(home, rel.slice(2)) : join(projectDir, rel)),
    write(rel, text) {
      const p = this.file(rel);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, text);
    },
  };
}

function install(client: McpClient, places: InstallPlaces) {
  const change = planInstall(client, places);
  applyChange(change);
  return change;
}

const FILES: Record<McpClient, string> = {
  claude: '.mcp.json',
  cursor: '.cursor/mcp.json',
  vscode: '.vscode/mcp.json',
  codex: '.codex/config.toml',
  windsurf: '~/.codeium/windsurf/mcp_config.json',
};

function expected(client: McpClient, projectDir: string): string {
  switch (client) {
    case 'claude':
      return '{\n  "mcpServers": {\n    "ablo-sync": {\n      "command": "npx",\n      "args": [\n        "ablo",\n        "mcp"\n      ]\n    }\n  }\n}\n';
    case 'cursor':
      return '{\n  "mcpServers": {\n    "ablo-sync": {\n      "command": "npx",\n      "args": [\n        "ablo",\n        "mcp",\n        "--dir",\n        "${workspaceFolder}"\n      ]\n    }\n  }\n}\n';
    case 'vscode':
      return '{\n  "servers": {\n    "ablo-sync": {\n      "type": "stdio",\n      "command": "npx",\n      "args": [\n        "ablo",\n        "mcp",\n        "--dir",\n        "${workspaceFolder}"\n      ]\n    }\n  }\n}\n';
    case 'codex':
      return '[mcp_servers.ablo-sync]\ncommand = "npx"\nargs = ["ablo", "mcp"]\n';
    case 'windsurf':
      return `{\n  "mcpServers": {\n    "ablo-sync": {\n      "command": "npx",\n      "args": [\n        "ablo",\n        "mcp",\n        "--dir",\n        ${JSON.stringify(projectDir)}\n      ]\n    }\n  }\n}\n`;
  }
}

describe('ablo mcp install: each client', () => {
  for (const client of MCP_CLIENTS) {
    it(`${client}: writes ${FILES[client]} with the ablo-sync entry, no key; twice changes nothing`, () => {
      const p = setup();
      const first = install(client, p);
      expect(first.changed).toBe(true);
      expect(first.target.path).toBe(p.file(FILES[client]));
      expect(first.target.scope).toBe(client === 'windsurf' ? 'user' : 'project');
      const text = readFileSync(p.file(FILES[client]), 'utf8');
      expect(text).toBe(expected(client, p.projectDir));
      expect(text).not.toContain(KEY);
      expect(text).not.toContain('ABLO_API_KEY');

      const second = install(client, p);
      expect(second.changed).toBe(false);
      expect(readFileSync(p.file(FILES[client]), 'utf8')).toBe(text);
    });
  }

  it('windsurf is user scope: nothing is written into the project', () => {
    const p = setup();
    install('windsurf', p);
    for (const rel of ['.mcp.json', '.cursor', '.vscode', '.codex']) expect(existsSync(p.file(rel))).toBe(false);
  });
});

describe('ablo mcp install: existing configs', () => {
  it('JSON: keeps other servers and top-level keys, adds ours after them', () => {
    const p = setup();
    p.write('.cursor/mcp.json', JSON.stringify({ mcpServers: { github: { command: 'gh-mcp', env: { TOKEN: 'x' } } }, other: true }));
    install('cursor', p);
    const doc = JSON.parse(readFileSync(p.file('.cursor/mcp.json'), 'utf8'));
    expect(doc).toEqual({
      mcpServers: { github: { command: 'gh-mcp', env: { TOKEN: 'x' } }, 'ablo-sync': { command: 'npx', args: ['ablo', 'mcp', '--dir', '${workspaceFolder}'] } },
      other: true,
    });
    expect(Object.keys(doc.mcpServers)).toEqual(['github', 'ablo-sync']);
  });

  it('JSON: an existing file already holding our entry is left byte-identical, whatever its formatting', () => {
    const p = setup();
    const text = '{"servers":{"x":{"type":"stdio","command":"x"},"ablo-sync":{"type":"stdio","command":"npx","args":["ablo","mcp","--dir","${workspaceFolder}"]}}}';
    p.write('.vscode/mcp.json', text);
    const change = install('vscode', p);
    expect(change.changed).toBe(false);
    expect(readFileSync(p.file('.vscode/mcp.json'), 'utf8')).toBe(text);
  });

  it('JSON: an older ablo-sync entry is replaced, not duplicated', () => {
    const p = setup();
    p.write('.mcp.json', JSON.stringify({ mcpServers: { 'ablo-sync': { command: 'npx', args: ['ablo', 'mcp'], env: { ABLO_API_KEY: KEY } } } }));
    const change = install('claude', p);
    expect(change.hadEntry).toBe(true);
    const text = readFileSync(p.file('.mcp.json'), 'utf8');
    expect(text).toBe(expected('claude', p.projectDir));
    expect(text).not.toContain(KEY);
  });

  it('TOML: keeps every other byte of .codex/config.toml and appends our table', () => {
    const p = setup();
    const before = 'model = "o4"\n\n[mcp_servers.docs]\ncommand = "docs-mcp"\nargs = [\n  "--x",\n]\n\n[mcp_servers.docs.env]\nA = "b" # note\n';
    p.write('.codex/config.toml', before);
    install('codex', p);
    const after = readFileSync(p.file('.codex/config.toml'), 'utf8');
    expect(after).toBe(`${before}\n[mcp_servers.ablo-sync]\ncommand = "npx"\nargs = ["ablo", "mcp"]\n`);
    expect(install('codex', p).changed).toBe(false);
    expect(readFileSync(p.file('.codex/config.toml'), 'utf8')).toBe(after);
  });

  it('TOML: an older ablo-sync table (with an env sub-table holding a key) is replaced', () => {
    const p = setup();
    p.write('.codex/config.toml', `[mcp_servers.ablo-sync]\ncommand = "node"\n\n[mcp_servers."ablo-sync".env]\nABLO_API_KEY = "${KEY}"\n\n[mcp_servers.docs]\ncommand = "docs-mcp"\n`);
    const change = install('codex', p);
    expect(change.hadEntry).toBe(true);
    const after = readFileSync(p.file('.codex/config.toml'), 'utf8');
    expect(after).toBe('[mcp_servers.docs]\ncommand = "docs-mcp"\n\n[mcp_servers.ablo-sync]\ncommand = "npx"\nargs = ["ablo", "mcp"]\n');
    expect(after).not.toContain(KEY);
  });

  const malformed: Array<[McpClient, string, string, RegExp]> = [
    ['claude', '.mcp.json', '{ "mcpServers": { ', /\.mcp\.json is not valid JSON/],
    ['cursor', '.cursor/mcp.json', '[1, 2]', /top level is not an object/],
    ['vscode', '.vscode/mcp.json', '{ "servers": [] }', /"servers" is not an object/],
    ['vscode', '.vscode/mcp.json', '{\n  // my servers\n  "servers": {}\n}\n', /is not valid JSON/],
    ['windsurf', '~/.codeium/windsurf/mcp_config.json', '{"mcpServers": "nope"}', /"mcpServers" is not an object/],
    ['codex', '.codex/config.toml', '[mcp_servers.docs\ncommand = "x"\n', /line 1: a table header that does not close/],
    ['codex', '.codex/config.toml', 'model "o4"\n', /line 1: expected key = value/],
    ['codex', '.codex/config.toml', '[mcp_servers]\nablo-sync = { command = "npx" }\n', /line 2: ablo-sync is defined inline/],
  ];
  for (const [client, rel, text, message] of malformed) {
    it(`${client}: a malformed ${rel} (${JSON.stringify(text.slice(0, 24))}) is refused and left unchanged`, () => {
      const p = setup();
      p.write(rel, text);
      let caught: unknown;
      try {
        planInstall(client, p);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(CliError);
      const e = caught as CliError;
      expect(e.code).toBe('mcp_client_config_invalid');
      expect(e.type).toBe('config_error');
      expect(e.exitCode).toBe(1);
      expect(e.message).toMatch(message);
      expect(e.message).toContain('left unchanged');
      expect(e.fix).toContain('--print');
      expect(() => planUninstall(client, p)).toThrow(/left unchanged/);
      expect(readFileSync(p.file(rel), 'utf8')).toBe(text);
    });
  }
});

describe('ablo mcp uninstall', () => {
  it('JSON: removes only our entry and keeps the others', () => {
    const p = setup();
    p.write('.vscode/mcp.json', JSON.stringify({ servers: { x: { type: 'stdio', command: 'x' } }, inputs: [] }));
    install('vscode', p);
    const change = planUninstall('vscode', p);
    expect(change.hadEntry).toBe(true);
    applyChange(change);
    expect(JSON.parse(readFileSync(p.file('.vscode/mcp.json'), 'utf8'))).toEqual({ servers: { x: { type: 'stdio', command: 'x' } }, inputs: [] });
    const again = planUninstall('vscode', p);
    expect(again.hadEntry).toBe(false);
    expect(again.changed).toBe(false);
  });

  it('TOML: install then uninstall gives back the original file', () => {
    const p = setup();
    const before = '[mcp_servers.docs]\ncommand = "docs-mcp"\n';
    p.write('.codex/config.toml', before);
    install('codex', p);
    applyChange(planUninstall('codex', p));
    expect(readFileSync(p.file('.codex/config.toml'), 'utf8')).toBe(before);
  });

  it('with no file: nothing to remove, nothing created', () => {
    const p = setup();
    for (const client of MCP_CLIENTS) {
      const change = planUninstall(client, p);
      expect([change.hadEntry, change.changed]).toEqual([false, false]);
      applyChange(change);
      expect(existsSync(p.file(FILES[client]))).toBe(false);
    }
  });
});

describe('client names', () => {
  it('an unknown client is a usage error (exit 2) listing the clients', () => {
    let caught: unknown;
    try {
      parseMcpClient('emacs');
    } catch (err) {
      caught = err;
    }
    const e = caught as CliError;
    expect([e.code, e.type, e.exitCode]).toEqual(['unknown_mcp_client', 'usage_error', 2]);
    expect(e.message).toBe('Unknown MCP client "emacs".');
    expect(e.fix).toBe('Name one of: claude, cursor, windsurf, vscode, codex (e.g. ablo mcp install claude).');
    expect(parseMcpClient('codex')).toBe('codex');
    expect(() => parseMcpClient(undefined)).toThrow('Which MCP client? None was named.');

  });
});

describe('what install says', () => {
  it('names the key file and the project, and that the config holds no key', () => {
    const p = setup();
    const change = planInstall('vscode', p);
    expect(displayPath(change.target.path, p)).toBe(join('.vscode', 'mcp.json'));
    expect(installNotes(change, p)).toEqual([
      `The server reads ABLO_API_KEY (and ABLO_URL) from .env.local in ${p.projectDir} (\`ablo dev\` writes it); no key is written to ${join('.vscode', 'mcp.json')}.`,
    ]);
  });

  it('codex: says it reads project config only in trusted projects', () => {
    const p = setup();
    const notes = installNotes(planInstall('codex', p), p);
    expect(notes[1]).toBe('Codex reads .codex/config.toml only in projects you trust: answer yes when Codex asks to trust this folder (or mark it trusted in ~/.codex/config.toml).');
  });

  it('windsurf: user scope, shown under ~, and says the entry serves this project', () => {
    const p = setup();
    const change = planInstall('windsurf', p);
    expect(displayPath(change.target.path, p)).toBe('~/.codeium/windsurf/mcp_config.json');
    expect(installNotes(change, p)[1]).toBe(`Windsurf has only a user-wide config: this entry serves ${p.projectDir} in every Windsurf window; install again from another project to point it there.`);
  });

  it('without .env.local: says to run ablo dev first', () => {
    const p = setup();
    rmSync(join(p.projectDir, '.env.local'));
    const notes = installNotes(planInstall('claude', p), p);
    expect(notes).toContain('There is no .env.local yet: run `npx ablo dev` in the project first.');
  });

  it('windsurf from a second project replaces the entry and points it there', () => {
    const p = setup();
    install('windsurf', p);
    const other = join(dirname(p.projectDir), 'other');
    mkdirSync(other);
    const change = install('windsurf', { projectDir: other, home: p.home });
    expect([change.changed, change.hadEntry]).toEqual([true, true]);
    expect(JSON.parse(readFileSync(change.target.path, 'utf8')).mcpServers['ablo-sync'].args).toEqual(['ablo', 'mcp', '--dir', other]);
  });
});

describe("ablo dev's mcp line", () => {
  it('suggests the install command until a client has the entry, then names where it is; a broken or other-project config is not "installed"', () => {
    const p = setup();
    expect(installedClients(p)).toEqual([]);
    expect(mcpHint(p)).toBe('npx ablo mcp install claude  (or cursor, windsurf, vscode, codex)');
    applyChange(planInstall('claude', p));
    expect(mcpHint(p)).toBe('ablo-sync installed for claude (.mcp.json)');
    // Windsurf's user-wide entry for another project does not count for this one.
    applyChange(planInstall('windsurf', { projectDir: join(p.projectDir, '..', 'elsewhere'), home: p.home }));
    p.write('.cursor/mcp.json', '{ not json');
    expect(installedClients(p)).toEqual(['claude']);
    applyChange(planInstall('windsurf', p));
    applyChange(planInstall('codex', p));
    expect(mcpHint(p)).toBe('ablo-sync installed for claude (.mcp.json), windsurf (~/.codeium/windsurf/mcp_config.json), codex (.codex/config.toml)');
  });
});
