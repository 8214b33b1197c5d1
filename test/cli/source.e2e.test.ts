/**
 * `ablo source` (the built bin) in temp projects, against real HTTP sources on
 * port 0 that verify each request with `verifyAbloSourceRequest`:
 * add → list --json → test → rotate-secret (old and new both sign, so the app
 * may still hold the old one) → --finish; a source with another secret (the
 * signature diagnosis, exit 1); an unreachable url (exit 1); bad usage (exit 2);
 * `ablo dev` refusing a source model the schema lacks and a missing secret,
 * and printing which models are source-backed.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'vitest';
import { parseDotenv } from '../../cli/config.js';
import { generateSigningSecret, verifyAbloSourceRequest } from '../../src/source/signature.js';
import { createTempProject, startCli, type TempProject } from '../helpers/tempProject.js';

const SCHEMA = `import { defineSchema, model, z } from 'ablo/schema';
export const schema = defineSchema({
  tasks: model({ title: z.string() }),
  projects: model({ name: z.string() }),
});
`;

function project(ctx: TestContext, config: unknown = { schema: 'ablo.schema.ts' }, files: Record<string, string> = {}): TempProject {
  const p = createTempProject({ files: { 'ablo.schema.ts': SCHEMA, 'ablo.config.json': JSON.stringify(config, null, 2), ...files } });
  ctx.onTestFinished(() => p.cleanup());
  return p;
}

interface Source {
  url: string;
  /** The secret(s) the app verifies with; change it to play the app moving to a new secret. */
  secret: string;
  /** Request types seen, in order (`events`, `list:tasks`, ...). */
  seen: string[];
}

/** A real app endpoint: verifies the signature, then answers an empty events page or an empty list. */
async function startSource(ctx: TestContext, secret: string): Promise<Source> {
  const state: Source = { url: '', secret, seen: [] };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      try {
        verifyAbloSourceRequest({ headers: req.headers, body: raw }, state.secret);
      } catch (err) {
        send(401, { error: { code: 'invalid_signature', message: (err as Error).message } });
        return;
      }
      const body = JSON.parse(raw) as { type: string; model?: string; cursor: unknown; limit: number };
      state.seen.push(body.type === 'list' ? `list:${body.model}` : body.type);
      if (body.cursor !== null || body.limit !== 1) send(400, { error: { code: 'validation_failed', message: 'expected cursor null, limit 1' } });
      else if (body.type === 'events') send(200, { events: [], nextCursor: null });
      else if (body.type === 'list') send(200, { rows: [], nextCursor: null });
      else send(400, { error: { code: 'validation_failed' } });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  ctx.onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/ablo`;
  return state;
}

/** A URL where nothing listens: a port that was free a moment ago. */
async function closedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}/api/ablo`;
}

function secretIn(p: TempProject, variable = 'ABLO_SOURCE_APP_SECRET'): string | undefined {
  return parseDotenv(p.read('.env.local'))[variable];
}

describe.concurrent('ablo source', () => {
  it('add → list --json → test → rotate-secret (both secrets sign) → --finish', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    const app = await startSource(ctx, 'whsec_placeholder');

    const added = await p.run(['source', 'add', 'app', '--url', app.url, '--models', 'tasks,projects']);
    expect(added.code, added.stderr).toBe(0);
    const first = secretIn(p)!;
    expect(first).toMatch(/^whsec_/);
    expect(added.stdout).toContain(`Added Data Source app → ${app.url} (tasks, projects) to ablo.config.json.`);
    expect(added.stdout).toContain('ABLO_SOURCE_APP_SECRET');
    expect(added.stdout).toContain(first);
    expect(added.stdout).toContain('ablo source test app');
    expect(JSON.parse(p.read('ablo.config.json'))).toEqual({
      schema: 'ablo.schema.ts',
      sources: { app: { url: app.url, models: ['tasks', 'projects'], signingSecretEnv: 'ABLO_SOURCE_APP_SECRET' } },
    });
    expect(p.read('ablo.config.json')).not.toContain(first);
    expect(p.read('.gitignore').split('\n')).toContain('.env.local');

    const listed = await p.run(['source', 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual({
      object: 'list',
      data: [{ name: 'app', url: app.url, models: ['tasks', 'projects'], signingSecretEnv: 'ABLO_SOURCE_APP_SECRET', secretSet: true, secretFrom: '.env.local', secrets: 1 }],
    });

    // The app holds the same secret: every request passes.
    app.secret = first;
    const ok = await p.run(['source', 'test']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/ok\s+events\s+200/);
    expect(ok.stdout).toMatch(/ok\s+list tasks\s+200/);
    expect(ok.stdout).toMatch(/ok\s+list projects\s+200/);
    expect(app.seen).toEqual(['events', 'list:tasks', 'list:projects']);

    // Rotation: new first, old kept; the app still on the old secret passes, and so does one on the new.
    const rotated = await p.run(['source', 'rotate-secret', 'app']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const [fresh, old] = secretIn(p)!.split(' ');
    expect(old).toBe(first);
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(first);
    expect(rotated.stdout).toContain(fresh!);
    expect(rotated.stdout).toContain('ablo source rotate-secret app --finish');
    const stillOld = await p.run(['source', 'test', 'app', '--json']);
    expect(stillOld.code, stillOld.stdout).toBe(0);
    expect(JSON.parse(stillOld.stdout)).toMatchObject({ ok: true, sources: [{ name: 'app', requests: [{ request: 'events', ok: true, status: 200 }, { ok: true }, { ok: true }] }] });
    app.secret = fresh!;
    expect((await p.run(['source', 'test', 'app'])).code).toBe(0);
    expect(JSON.parse((await p.run(['source', 'list', '--json'])).stdout).data[0]).toMatchObject({ secrets: 2 });

    const finished = await p.run(['source', 'rotate-secret', 'app', '--finish']);
    expect(finished.code, finished.stderr).toBe(0);
    expect(secretIn(p)).toBe(fresh);
    expect((await p.run(['source', 'test', 'app'])).code).toBe(0);
  });

  it('test: a source with another secret gets the signature diagnosis, an unreachable one says so; exit 1; a reverse-channel source is skipped', async (ctx) => {
    const { expect } = ctx;
    const other = await startSource(ctx, generateSigningSecret());
    const down = await closedUrl();
    const p = project(ctx, {
      schema: 'ablo.schema.ts',
      sources: { app: { url: other.url, models: ['tasks'] }, down: { url: down, models: ['projects'] }, intranet: { models: ['notes'] } },
    }, {
      '.env.local': `ABLO_SOURCE_APP_SECRET="${generateSigningSecret()}"\nABLO_SOURCE_DOWN_SECRET="${generateSigningSecret()}"\nABLO_SOURCE_INTRANET_SECRET="${generateSigningSecret()}"\n`,
    });

    const wrong = await p.run(['source', 'test', 'app']);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/FAIL\s+events\s+401\s+\d+ ms\s+the app refused the signature: the secrets differ/);
    expect(wrong.stdout).toMatch(/FAIL\s+list tasks\s+401/);
    expect(wrong.stderr).toMatch(/^error: 2 requests to the Data Source failed\nfix: /);
    expect(other.seen).toEqual([]);

    const unreachable = await p.run(['source', 'test', 'down', '--json']);
    expect(unreachable.code).toBe(1);
    const report = JSON.parse(unreachable.stdout) as { ok: boolean; sources: Array<{ requests: Array<{ ok: boolean; status: number | null; diagnosis: string }> }> };
    expect(report.ok).toBe(false);
    expect(report.sources[0]!.requests).toHaveLength(2);
    for (const r of report.sources[0]!.requests) {
      expect(r).toMatchObject({ ok: false, status: null });
      expect(r.diagnosis).toMatch(/^unreachable: nothing answers at .* \(connection refused\)/);
    }

    const skipped = await p.run(['source', 'test', 'intranet']);
    expect(skipped.code, skipped.stderr).toBe(0);
    expect(skipped.stdout).toMatch(/skipped: a reverse-channel source .* cannot be tested from the CLI without the engine/);

    const all = await p.run(['source', 'test']);
    expect(all.code).toBe(1);
    expect(all.stdout).toMatch(/^app → /m);
    expect(all.stdout).toMatch(/^down → /m);
    expect(all.stdout).toMatch(/^intranet → \(reverse channel\)/m);
  });

  it('bad usage exits 2; a missing secret exits 1 with error and fix', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { schema: 'ablo.schema.ts', sources: { app: { url: 'http://127.0.0.1:9/x', models: ['tasks'] } } });
    for (const args of [
      ['source', 'test', 'nope'],
      ['source', 'rotate-secret', 'nope'],
      ['source', 'add', 'web', '--url', 'http://127.0.0.1:3000', '--connector', '--models', 'projects'],
      ['source', 'add', 'web', '--url', 'http://127.0.0.1:3000'],
      ['source', 'add', 'Web', '--connector', '--models', 'projects'],
    ]) {
      const r = await p.run(args);
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/^error: .*\nfix: /);
    }
    const missing = await p.run(['source', 'test', 'app']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: ABLO_SOURCE_APP_SECRET is not set: Data Source "app" needs its signing secret\nfix: Run `ablo source rotate-secret app`/);
    const listed = await p.run(['source', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/app\s+http:\/\/127\.0\.0\.1:9\/x\s+tasks\s+ABLO_SOURCE_APP_SECRET\s+NOT SET/);
  });
});

describe.concurrent('ablo dev with Data Sources', () => {
  it('refuses to start when a source names a model the schema lacks, or its secret is not set', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { schema: 'ablo.schema.ts', sources: { app: { url: 'http://127.0.0.1:9/x', models: ['tasks', 'boards'] } } });
    const noSecret = await p.run(['dev', '--port', '0', '--no-watch']);
    expect(noSecret.code).toBe(1);
    expect(noSecret.stderr).toMatch(/^error: ABLO_SOURCE_APP_SECRET is not set/);
    p.write('.env.local', `ABLO_SOURCE_APP_SECRET="${generateSigningSecret()}"\n`);
    const unknown = await p.run(['dev', '--port', '0', '--no-watch']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: Data Source "app" names model "boards", not in ablo\.schema\.ts\nfix: Add "boards" to ablo\.schema\.ts, or remove it from "sources\.app\.models" in ablo\.config\.json\./);
    expect(p.exists('.ablo/dev.db')).toBe(false);
  });

  it('prints which models are source-backed', async (ctx) => {
    const { expect } = ctx;
    const secret = generateSigningSecret();
    const app = await startSource(ctx, secret);
    const p = project(ctx, { schema: 'ablo.schema.ts', sources: { app: { url: app.url, models: ['tasks', 'projects'] } } }, { '.env.local': `ABLO_SOURCE_APP_SECRET="${secret}"\n` });
    const dev = startCli(['dev', '--port', '0', '--no-watch'], p.dir);
    ctx.onTestFinished(async () => {
      await dev.stop('SIGTERM');
    });
    await dev.waitFor(/ready in \d+ ms/, 30_000);
    await dev.waitFor(new RegExp(`Data Source app → ${app.url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(tasks, projects\\)`), 10_000);
    expect((await dev.stop('SIGTERM')).code).toBe(0);

    // --json: the ready event lists them.
    const json = startCli(['dev', '--port', '0', '--no-watch', '--json'], p.dir);
    ctx.onTestFinished(async () => {
      await json.stop('SIGTERM');
    });
    const m = await json.waitFor(/^(\{"event":"ready".*\})$/m, 30_000);
    expect(JSON.parse(m[1]!).sources).toEqual([{ name: 'app', url: app.url, models: ['tasks', 'projects'] }]);
  });
});
