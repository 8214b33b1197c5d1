/**
 * Settings resolution: flags, then ablo.config.json, then defaults.
 */
import { describe, it, type TestContext } from 'vitest';
import { resolveStartOptions } from '../../cli/commands/start.js';
import { parseConfigText, resolveConfig } from '../../cli/config.js';
import { CliError } from '../../cli/errors.js';
import { createTempProject } from '../helpers/tempProject.js';

function dir(ctx: TestContext, files: Record<string, string> = {}): string {
  const p = createTempProject({ files, linkAblo: false });
  ctx.onTestFinished(() => p.cleanup());
  return p.dir;
}

describe.concurrent('resolveConfig', () => {
  it('uses defaults without a config file', (ctx) => {
    const cwd = dir(ctx);
    const c = resolveConfig({ cwd });
    ctx.expect(c.file).toBeUndefined();
    ctx.expect(c.schema).toEqual({ value: `${cwd}/ablo.schema.ts`, source: 'default', origin: 'default' });
    ctx.expect(c.generateOut).toEqual({ value: `${cwd}/ablo-generated`, source: 'default', origin: 'default' });
  });

  it('reads ablo.config.json, and flags win over it', (ctx) => {
    const cwd = dir(ctx, { 'ablo.config.json': JSON.stringify({ schema: 'db/schema.ts', generate: { out: 'gen' }, futureKey: 1 }) });
    const c = resolveConfig({ cwd });
    ctx.expect(c.file?.path).toBe(`${cwd}/ablo.config.json`);
    ctx.expect(c.schema).toMatchObject({ value: `${cwd}/db/schema.ts`, source: 'config', origin: 'ablo.config.json#schema' });
    ctx.expect(c.generateOut).toMatchObject({ value: `${cwd}/gen`, source: 'config' });
    const f = resolveConfig({ cwd, flags: { schema: 'other.ts', out: '/abs/out' } });
    ctx.expect(f.schema).toMatchObject({ value: `${cwd}/other.ts`, source: 'flag', origin: '--schema' });
    ctx.expect(f.generateOut).toMatchObject({ value: '/abs/out', source: 'flag', origin: '--out' });
  });

  it('takes the Postgres connection string from --database-url, ABLO_DATABASE_URL, .env.local, then databaseUrl in ablo.config.json', (ctx) => {
    const cwd = dir(ctx, { 'ablo.config.json': JSON.stringify({ databaseUrl: 'postgres://cfg@127.0.0.1/app' }) });
    ctx.expect(resolveConfig({ cwd }).databaseUrl).toEqual({ value: 'postgres://cfg@127.0.0.1/app', source: 'config', origin: 'ablo.config.json#databaseUrl' });
    const env = { ABLO_DATABASE_URL: 'postgres://env@127.0.0.1/app' };
    ctx.expect(resolveConfig({ cwd, env }).databaseUrl).toMatchObject({ value: env.ABLO_DATABASE_URL, source: 'env', origin: 'ABLO_DATABASE_URL' });
    const flag = resolveConfig({ cwd, env, flags: { databaseUrl: 'postgres://flag@127.0.0.1/app' } });
    ctx.expect(flag.databaseUrl).toMatchObject({ value: 'postgres://flag@127.0.0.1/app', source: 'flag', origin: '--database-url' });
    const withEnvFile = dir(ctx, { '.env.local': 'ABLO_DATABASE_URL=postgres://file@127.0.0.1/app\n' });
    ctx.expect(resolveConfig({ cwd: withEnvFile }).databaseUrl).toMatchObject({ value: 'postgres://file@127.0.0.1/app', source: 'env-file' });
    // None configured: the SQLite file.
    ctx.expect(resolveConfig({ cwd: dir(ctx) }).databaseUrl).toBeUndefined();
  });

  it('a config with only some keys falls back to defaults for the rest', (ctx) => {
    const cwd = dir(ctx, { 'ablo.config.json': '{ "generate": {} }' });
    ctx.expect(resolveConfig({ cwd }).generateOut.source).toBe('default');
  });
});

describe('parseConfigText errors name the file and the problem', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['invalid JSON with position', '{\n  "schema": "a.ts",\n}', /^ablo\.config\.json: not valid JSON at line 3, column 1: /],
    ['not an object', '[1]', /must contain a JSON object/],
    ['schema not a string', '{ "schema": 3 }', /"schema" must be a non-empty string, got 3/],
    ['generate not an object', '{ "generate": "x" }', /"generate" must be an object/],
    ['generate.out empty', '{ "generate": { "out": "" } }', /"generate\.out" must be a non-empty string/],
    ['databaseUrl not a postgres URL', '{ "databaseUrl": "mysql://x" }', /"databaseUrl" must be a postgres:\/\/ connection string/],
  ];
  for (const [name, text, re] of cases) {
    it(name, ({ expect }) => {
      try {
        parseConfigText(text, '/p/ablo.config.json');
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(CliError);
        expect((err as CliError).message).toMatch(re);
        expect((err as CliError).exitCode).toBe(1);
        expect((err as CliError).fix).toContain('ablo.config.json');
        expect((err as CliError).details.file).toBe('/p/ablo.config.json');
      }
    });
  }
});

describe.concurrent('dev.retention in ablo.config.json', () => {
  const file = '/p/ablo.config.json';
  it('takes durations ("7d", "24h", "30m", "45s", "500ms") or ms, and hands them to ablo dev in ms', (ctx) => {
    const c = parseConfigText(JSON.stringify({ dev: { retention: { changeLog: '3d', idempotency: '90m' } } }), file);
    ctx.expect(c.dev?.retention).toEqual({ changeLogMs: 3 * 86_400_000, idempotencyMs: 90 * 60_000 });
    ctx.expect(parseConfigText('{ "dev": { "retention": { "changeLog": 1500, "idempotency": "45s" } } }', file).dev?.retention).toEqual({
      changeLogMs: 1500,
      idempotencyMs: 45_000,
    });
    ctx.expect(parseConfigText('{ "dev": { "retention": { "idempotency": "500ms" } } }', file).dev?.retention).toEqual({ idempotencyMs: 500 });
    const cwd = dir(ctx, { 'ablo.config.json': JSON.stringify({ dev: { retention: { changeLog: '12h' } } }) });
    ctx.expect(resolveConfig({ cwd }).devRetention).toEqual({ changeLogMs: 12 * 3_600_000 });
    ctx.expect(resolveConfig({ cwd: dir(ctx) }).devRetention).toBeUndefined();
  });

  it('refuses what is not a positive duration, naming the key', (ctx) => {
    for (const [retention, key] of [
      [{ changeLog: '7 days' }, 'dev.retention.changeLog'],
      [{ changeLog: 0 }, 'dev.retention.changeLog'],
      [{ idempotency: '-1h' }, 'dev.retention.idempotency'],
      [{ idempotency: true }, 'dev.retention.idempotency'],
      ['7d', 'dev.retention'],
    ] as const) {
      let err: unknown;
      try {
        parseConfigText(JSON.stringify({ dev: { retention } }), file);
      } catch (e) {
        err = e;
      }
      ctx.expect(err).toBeInstanceOf(CliError);
      ctx.expect((err as CliError).code).toBe('config_invalid');
      ctx.expect((err as CliError).details).toMatchObject({ key });
    }
  });
});

describe.concurrent('cors.origins', () => {
  it('ablo dev allows localhost on any port unless ablo.config.json names the origins', (ctx) => {
    const none = resolveConfig({ cwd: dir(ctx) });
    ctx.expect(none.devCorsOrigins).toMatchObject({ source: 'default' });
    ctx.expect(none.devCorsOrigins.value).toContain('http://localhost:*');
    const cwd = dir(ctx, { 'ablo.config.json': JSON.stringify({ cors: { origins: ['https://app.example.com'] } }) });
    ctx.expect(resolveConfig({ cwd }).devCorsOrigins).toEqual({ value: ['https://app.example.com'], source: 'config', origin: 'ablo.config.json#cors.origins' });
  });

  it('a bad origin or shape is config_invalid naming the entry, why, and how to write it', (ctx) => {
    const bad = (cors: unknown): CliError => {
      try {
        parseConfigText(JSON.stringify({ cors }), '/p/ablo.config.json');
      } catch (err) {
        return err as CliError;
      }
      throw new Error('expected a config error');
    };
    const e = bad({ origins: ['https://ok.example', 'ftp://x.example'] });
    ctx.expect(e).toBeInstanceOf(CliError);
    ctx.expect(e.code).toBe('config_invalid');
    ctx.expect(e.message).toContain('"cors.origins[1]" "ftp://x.example" is not a usable origin: the scheme must be http or https');
    ctx.expect(e.fix).toContain('http://localhost:*');
    ctx.expect(bad(['https://a.example']).message).toContain('"cors" must be an object with an "origins" list');
    ctx.expect(parseConfigText(JSON.stringify({ cors: { origins: ['*', 'http://[::1]:*'] } }), '/p').cors).toEqual({ origins: ['*', 'http://[::1]:*'] });
  });
});

describe.concurrent('rateLimits', () => {
  it('ablo.config.json rateLimits reach ablo dev (resolveConfig) and ablo start (resolveStartOptions); false turns them off', (ctx) => {
    const limits = { commitsPerSecond: 5, commitBurst: 10, connections: 3, kinds: ['session', 'restricted', 'secret'] };
    const cwd = dir(ctx, { 'ablo.config.json': JSON.stringify({ rateLimits: limits }) });
    ctx.expect(resolveConfig({ cwd }).rateLimits).toEqual(limits);
    ctx.expect(resolveStartOptions({ file: 'a.db' }, cwd, {}).rateLimits).toEqual(limits);
    ctx.expect(parseConfigText(JSON.stringify({ rateLimits: false }), '/p').rateLimits).toBe(false);
    ctx.expect(resolveConfig({ cwd: dir(ctx) }).rateLimits).toBeUndefined();
  });

  it('a bad value is config_invalid naming the key', (ctx) => {
    for (const [rateLimits, key] of [
      [{ commitsPerSecond: 0 }, 'rateLimits.commitsPerSecond'],
      [{ connections: 'many' }, 'rateLimits.connections'],
      [{ kinds: ['admin'] }, 'rateLimits.kinds'],
      [true, 'rateLimits'],
    ] as const) {
      let err: unknown;
      try {
        parseConfigText(JSON.stringify({ rateLimits }), '/p/ablo.config.json');
      } catch (e) {
        err = e;
      }
      ctx.expect(err).toBeInstanceOf(CliError);
      ctx.expect((err as CliError).details).toMatchObject({ key });
    }
  });
});
