/**
 * `ablo mcp install / uninstall` through the built CLI, with HOME at a temp
 * dir: the file and the words a user sees, idempotence, --print, errors with
 * their exit codes, and `ablo mcp --dir` finding the key in the project's
 * .env.local when started elsewhere (as Cursor, VS Code and Windsurf may).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTempProject, runCli, type TempProject } from '../helpers/tempProject.js';

const KEY = 'sk_test_e2einstall_fedcba9876543210';
const open: Array<TempProject | string> = [];
afterEach(() => {
  for (const x of open.splice(0)) typeof x === 'string' ? rmSync(x, { recursive: true, force: true }) : x.cleanup();
});

function project(): { p: TempProject; home: string } {
  // An unreachable loopback port: `ablo mcp` fails fast, naming the URL it read from .env.local.
  const p = createTempProject({ linkAblo: false, prefix: 'ablo-mcp-install-e2e-', files: { '.env.local': `ABLO_URL=http://127.0.0.1:9\nABLO_API_KEY=${KEY}\n` } });
  const home = mkdtempSync(join(tmpdir(), 'ablo-mcp-install-home-'));
  open.push(p, home);
  return { p, home };
}

describe('ablo mcp install (built CLI)', () => {
  it('cursor: --print writes nothing; install writes .cursor/mcp.json without the key; twice changes nothing; uninstall removes it', async () => {
    const { p, home } = project();
    const env = { HOME: home };

    const printed = await p.run(['mcp', 'install', 'cursor', '--print'], { env });
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain('# .cursor/mcp.json (project scope) — the ablo-sync entry; nothing was written:');
    expect(printed.stdout).toContain('"--dir",\n        "${workspaceFolder}"');
    expect(p.exists('.cursor')).toBe(false);

    const first = await p.run(['mcp', 'install', 'cursor'], { env });
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('Added ablo-sync (npx ablo mcp) to .cursor/mcp.json (project scope).');
    expect(first.stdout).toContain(`reads ABLO_API_KEY (and ABLO_URL) from .env.local in ${p.dir}`);
    const text = p.read('.cursor/mcp.json');
    expect(JSON.parse(text)).toEqual({ mcpServers: { 'ablo-sync': { command: 'npx', args: ['ablo', 'mcp', '--dir', '${workspaceFolder}'] } } });
    expect(text).not.toContain(KEY);

    const second = await p.run(['mcp', 'install', 'cursor'], { env });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('ablo-sync is already in .cursor/mcp.json; nothing changed.');
    expect(p.read('.cursor/mcp.json')).toBe(text);

    const removed = await p.run(['mcp', 'uninstall', 'cursor'], { env });
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain('Removed ablo-sync from .cursor/mcp.json; other servers were kept.');
    expect(JSON.parse(p.read('.cursor/mcp.json'))).toEqual({ mcpServers: {} });
    const none = await p.run(['mcp', 'uninstall', 'cursor'], { env });
    expect(none.stdout).toContain('.cursor/mcp.json has no ablo-sync entry (other servers left as they are); nothing changed.');
  }, 60_000);

  it('codex says it reads project config only in trusted projects; windsurf writes under HOME; --json gives the file', async () => {
    const { p, home } = project();
    const env = { HOME: home };
    const codex = await p.run(['mcp', 'install', 'codex'], { env });
    expect(codex.code).toBe(0);
    expect(codex.stdout).toContain('Codex reads .codex/config.toml only in projects you trust');
    expect(p.read('.codex/config.toml')).toBe('[mcp_servers.ablo-sync]\ncommand = "npx"\nargs = ["ablo", "mcp"]\n');

    const windsurf = await p.run(['mcp', 'install', 'windsurf', '--json'], { env });
    expect(windsurf.code).toBe(0);
    const file = join(home, '.codeium', 'windsurf', 'mcp_config.json');
    expect(JSON.parse(windsurf.stdout)).toMatchObject({ client: 'windsurf', file, scope: 'user', written: true });
    const written = readFileSync(file, 'utf8');
    expect(JSON.parse(written)).toEqual({ mcpServers: { 'ablo-sync': { command: 'npx', args: ['ablo', 'mcp', '--dir', p.dir] } } });
    expect(written).not.toContain(KEY);
  }, 60_000);

  it('an unknown client exits 2 listing the clients; a malformed config exits 1 and is not overwritten', async () => {
    const { p, home } = project();
    const env = { HOME: home };
    const unknown = await p.run(['mcp', 'install', 'emacs'], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown MCP client "emacs".');
    expect(unknown.stderr).toContain('claude, cursor, windsurf, vscode, codex');

    p.write('.mcp.json', '{ "mcpServers": ');
    const bad = await p.run(['mcp', 'install', 'claude'], { env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/\.mcp\.json is not valid JSON \(.+\); it was left unchanged\./);
    expect(bad.stderr).toContain('fix: Fix or remove the file, or add the entry by hand');
    expect(p.read('.mcp.json')).toBe('{ "mcpServers": ');
  }, 60_000);

  it('ablo mcp --dir reads the key and URL from that project when started elsewhere', async () => {
    const { p } = project();
    const elsewhere = mkdtempSync(join(tmpdir(), 'ablo-mcp-elsewhere-'));
    open.push(elsewhere);
    mkdirSync(join(elsewhere, 'sub'));
    const withDir = await runCli(['mcp', '--dir', p.dir], elsewhere, { input: '' });
    expect(withDir.code).toBe(1);
    expect(withDir.stderr).toContain('http://127.0.0.1:9');
    expect(withDir.stderr).not.toContain('no API key');
    const without = await runCli(['mcp'], elsewhere, { input: '' });
    expect(without.code).toBe(1);
    expect(without.stderr).toContain('ablo mcp: no API key for the engine at http://127.0.0.1:4100');
    const missing = await runCli(['mcp', '--dir', join(elsewhere, 'nope')], elsewhere, { input: '' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('is not a directory');
  }, 60_000);
});
