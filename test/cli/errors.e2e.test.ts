/**
 * Failures a user meets, through the built bin: each prints one `error:` line
 * (cause) and one `fix:` line, no stack trace, and exits 1 (2 for bad usage).
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { describe, it, type ExpectStatic, type TestContext } from 'vitest';
import { createTempProject, stackLines, startCli, type RunResult, type TempProject } from '../helpers/tempProject.js';

const SCHEMA = `import { defineSchema, model, z } from 'ablo/schema';
export const schema = defineSchema({ notes: model({ body: z.string() }) });
`;

function project(ctx: TestContext, files: Record<string, string> = {}): TempProject {
  const p = createTempProject({ files });
  ctx.onTestFinished(() => p.cleanup());
  return p;
}

/** Exactly `error: <cause>` and `fix: <what to do>` on stderr, exit 1, nothing else. */
function expectOneError(expect: ExpectStatic, r: RunResult, cause: RegExp, fix: RegExp): void {
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(2);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(cause);
  expect(lines[1]).toMatch(/^fix: /);
  expect(lines[1]).toMatch(fix);
  expect(stackLines(r.stderr)).toEqual([]);
  expect(r.code).toBe(1);
}

async function listen(port = 0): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

/** A port nobody listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const s = await listen();
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function dev(ctx: TestContext, p: TempProject): Promise<{ url: string; key: string }> {
  const d = startCli(['dev', '--port', '0', '--json', '--no-watch'], p.dir);
  ctx.onTestFinished(() => d.stop('SIGKILL').then(() => undefined));
  const m = await d.waitFor(/^(\{"event":"ready".*\})$/m, 20_000);
  const ready = JSON.parse(m[1]!) as { url: string; apiKey: string };
  return { url: ready.url, key: ready.apiKey };
}

describe.concurrent('one clear line and exit 1', () => {
  it('a missing schema file (dev, push, diff)', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    for (const cmd of [['dev', '--port', '0'], ['push'], ['diff']]) {
      const r = await p.run(cmd);
      expectOneError(expect, r, /^error: schema file not found: ablo\.schema\.ts$/, /ablo init/);
    }
    // dev stopped before taking the lock or creating a database.
    expect(p.exists('.ablo')).toBe(false);
  });

  it('a broken schema file (dev, push)', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': "import { defineSchema } from 'ablo/schema';\nexport const schema = defineSchema({ notes: \n" });
    for (const cmd of [['dev', '--port', '0'], ['push']]) {
      const r = await p.run(cmd);
      expectOneError(expect, r, /^error: syntax error in ablo\.schema\.ts:\d+:\d+: /, /Fix the syntax at ablo\.schema\.ts:\d+/);
    }
    p.write('ablo.schema.ts', "import { defineSchema, model, z } from 'ablo/schema';\nexport const schema = defineSchema({ e: model({ at: z.date() }) });\n");
    const r = await p.run(['dev', '--port', '0']);
    expectOneError(expect, r, /z\.date\(\) is not supported/, /field "at" of model "e"/);
  });

  it('an unreachable engine (status, push, keys, data, pull, diff)', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': SCHEMA, '.env.local': 'ABLO_API_KEY=sk_test_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n' });
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    for (const cmd of [['status'], ['push'], ['diff'], ['pull'], ['keys', 'list'], ['data', 'export']]) {
      const r = await p.run([...cmd, '--url', url]);
      expectOneError(expect, r, new RegExp(`^error: cannot reach the engine at ${url} \\(ECONNREFUSED\\)$`), /^fix: start it with `npx ablo dev` or set ABLO_URL/);
    }
    // From ABLO_URL in the environment, and as JSON.
    const r = await p.run(['status', '--json'], { env: { ABLO_URL: url } });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { type: 'connection_error', code: 'engine_unreachable', url } });
    // The default URL when nothing is configured.
    const bare = project(ctx);
    const d = await bare.run(['status', '--url', url]);
    expect(d.stderr).toContain('(the URL came from --url)');
  });

  it('a wrong, malformed or missing API key', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': SCHEMA });
    await dev(ctx, p);
    const wrong = 'sk_test_0123456789abcdefghijABCDEFGHIJKL';
    let r = await p.run(['keys', 'list', '--api-key', wrong]);
    expectOneError(expect, r, /refused the API key from --api-key: Unknown API key/, /^fix: check ABLO_API_KEY \/ \.env\.local/);
    r = await p.run(['push'], { env: { ABLO_API_KEY: 'nope' } });
    expectOneError(expect, r, /refused the API key from ABLO_API_KEY: That is not an Ablo API key/, /check ABLO_API_KEY/);
    // A key in the environment wins over .env.local; .env.local wins over .env.
    p.write('.env', 'ABLO_API_KEY=sk_test_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\n');
    r = await p.run(['status']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/api key\s+sk_test_.{4}… accepted \(from \.env\.local\)/);
    r = await p.run(['status'], { env: { ABLO_API_KEY: wrong } });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/api key\s+sk_test_0123… refused \(from ABLO_API_KEY\)/);
    // No key anywhere.
    const none = project(ctx);
    r = await none.run(['keys', 'list', '--url', /ABLO_URL=(.*)/.exec(p.read('.env.local'))![1]!]);
    expectOneError(expect, r, /^error: no API key for the engine at http:\/\/127\.0\.0\.1:\d+$/, /ABLO_API_KEY/);
  });

  it('a port in use, and a second ablo dev in the same project', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': SCHEMA });
    const server = await listen();
    ctx.onTestFinished(() => void server.close());
    const port = (server.address() as { port: number }).port;
    let r = await p.run(['dev', '--port', String(port)]);
    expectOneError(expect, r, new RegExp(`^error: port ${port} on 127\\.0\\.0\\.1 is already in use$`), new RegExp(`--port ${port + 1}`));
    expect(p.exists('.ablo/dev.lock')).toBe(false);

    const first = await dev(ctx, p);
    r = await p.run(['dev', '--port', '0']);
    expectOneError(expect, r, new RegExp(`^error: ablo dev is already running for this project at ${first.url} \\(pid \\d+\\); it holds \\.ablo/dev\\.db$`), /stop it first/);
    // The first one is unaffected.
    expect((await p.run(['status'])).code).toBe(0);
  });

  it('a stale lock (its process is gone) is replaced', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': SCHEMA });
    p.write('.ablo/dev.lock', JSON.stringify({ pid: 2 ** 22 + 12345, url: 'http://127.0.0.1:1', db: 'x', startedAt: '2020-01-01T00:00:00Z' }));
    const { url } = await dev(ctx, p);
    expect(JSON.parse(p.read('.ablo/dev.lock'))).toMatchObject({ pid: expect.any(Number), url });
  });

  it('a bad flag value is bad usage (exit 2)', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': SCHEMA });
    for (const [args, re] of [
      [['dev', '--port', 'abc'], /--port must be a whole number/],
      [['status', '--url', 'ftp://x'], /is not an http:\/\/ or https:\/\/ URL/],
      [['init', '--template', 'nope'], /unknown template "nope"/],
      [['pull', '--format', 'yaml'], /--format must be json or ts/],
      [['keys', 'revoke'], /missing required argument 'id'/],
      [['data', 'import'], /missing required argument 'path'/],
    ] as Array<[string[], RegExp]>) {
      const r = await p.run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).toMatch(/^fix: /m);
    }
  });

  it('ablo.config.json with a bad url or an apiKey is a config error naming the key', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': SCHEMA });
    writeFileSync(p.path('ablo.config.json'), JSON.stringify({ url: 'localhost:4100' }));
    let r = await p.run(['status']);
    expectOneError(expect, r, /^error: ablo\.config\.json: "url" must be an http:\/\/ or https:\/\/ URL/, /ablo\.config\.json/);
    writeFileSync(p.path('ablo.config.json'), JSON.stringify({ apiKey: 'sk_test_x' }));
    r = await p.run(['status']);
    expectOneError(expect, r, /"apiKey" is not read from this file/, /\.env\.local/);
  });
});

describe.concurrent('help', () => {
  const commands = [['init'], ['dev'], ['push'], ['diff'], ['pull'], ['generate'], ['keys'], ['keys', 'create'], ['keys', 'list'], ['keys', 'revoke'], ['status'], ['data'], ['data', 'export'], ['data', 'import']];
  it('every command has --help with examples (exit 0)', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    await Promise.all(
      commands.map(async (c) => {
        const r = await p.run([...c, '--help']);
        expect(r.code, c.join(' ')).toBe(0);
        expect(r.stdout, c.join(' ')).toMatch(/\nExamples:\n {2}\$ ablo /);
        expect(r.stdout).toContain('--json');
      }),
    );
  });
});
