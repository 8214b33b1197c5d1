/**
 * Browsers and the CLI (the built bin): `ablo dev` allows localhost origins
 * on any port by default and refuses others; `ablo start` allows none unless
 * `--cors-origin` (or `cors.origins` in ablo.config.json) names them; a bad
 * origin in ablo.config.json or in the flag stops the command with its cause.
 */
import { request } from 'node:http';
import { describe, it, type TestContext } from 'vitest';
import WebSocket from 'ws';
import { createTempProject, startCli, type TempProject } from '../helpers/tempProject.js';

const SCHEMA = `import { defineSchema, model, z } from 'ablo/schema';
export const schema = defineSchema({ notes: model({ body: z.string() }) });
`;

function project(ctx: TestContext, files: Record<string, string> = {}): TempProject {
  const p = createTempProject({ files: { 'ablo.schema.ts': SCHEMA, ...files } });
  ctx.onTestFinished(() => p.cleanup());
  return p;
}

/** A CORS preflight for a keyed POST from `origin`: status and the allow-origin header. */
function preflight(url: string, origin: string): Promise<{ status: number; allow: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/v1/commits`,
      { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, allow: res.headers['access-control-allow-origin'] as string | undefined }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The status a WebSocket upgrade from `origin` gets: 101 when it opens. */
function upgradeStatus(url: string, origin: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/sync`, { origin });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    ws.on('error', reject);
  });
}

describe('ablo dev and browsers', () => {
  it('allows http://localhost:5173 by default and refuses https://evil.example', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    const dev = startCli(['dev', '--port', '0', '--json', '--no-watch'], p.dir);
    ctx.onTestFinished(async () => {
      await dev.stop('SIGTERM');
    });
    const m = await dev.waitFor(/^(\{"event":"ready".*\})$/m, 20_000);
    const url = (JSON.parse(m[1]!) as { url: string }).url;
    expect(await preflight(url, 'http://localhost:5173')).toEqual({ status: 204, allow: 'http://localhost:5173' });
    expect(await preflight(url, 'http://127.0.0.1:3000')).toEqual({ status: 204, allow: 'http://127.0.0.1:3000' });
    expect(await preflight(url, 'https://evil.example')).toEqual({ status: 403, allow: undefined });
    expect(await upgradeStatus(url, 'http://localhost:5173')).toBe(101);
    expect(await upgradeStatus(url, 'https://evil.example')).toBe(403);
  });

  it('a bad origin in ablo.config.json cors.origins is a config error naming it, why, and the fix', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.config.json': JSON.stringify({ cors: { origins: ['https://app.example.com/app'] } }) });
    const r = await p.run(['dev', '--port', '0', '--no-watch']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('"cors.origins[0]" "https://app.example.com/app" is not a usable origin');
    expect(r.stderr).toMatch(/no path/);
    expect(r.stderr).toContain('http://localhost:*');
  });
});

describe('ablo start and browsers', () => {
  async function start(ctx: TestContext, p: TempProject, extra: string[]): Promise<string> {
    const bg = startCli(['start', '--file', 'data/ablo.db', '--host', '127.0.0.1', '--port', '0', ...extra], p.dir);
    ctx.onTestFinished(async () => {
      await bg.stop('SIGKILL');
    });
    const m = await bg.waitFor(/^(\{"level":"info","msg":"listening".*\})$/m, 20_000);
    return (JSON.parse(m[1]!) as { url: string }).url;
  }

  it('allows no origin by default, and exactly the --cors-origin ones when given', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    const none = await start(ctx, p, []);
    expect(await preflight(none, 'http://localhost:5173')).toEqual({ status: 403, allow: undefined });
    expect(await upgradeStatus(none, 'http://localhost:5173')).toBe(403);

    const q = project(ctx);
    const some = await start(ctx, q, ['--cors-origin', 'https://app.example.com', '--cors-origin', 'http://localhost:*']);
    expect(await preflight(some, 'https://app.example.com')).toEqual({ status: 204, allow: 'https://app.example.com' });
    expect(await preflight(some, 'http://localhost:5173')).toEqual({ status: 204, allow: 'http://localhost:5173' });
    expect(await preflight(some, 'https://evil.example')).toEqual({ status: 403, allow: undefined });
  });

  it('a bad --cors-origin is a usage error (exit 2)', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    const r = await p.run(['start', '--file', 'data/ablo.db', '--port', '0', '--cors-origin', 'https://*.example.com']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--cors-origin "https:\/\/\*\.example\.com" is not a usable origin: only the port may be a wildcard/);
  });
});
