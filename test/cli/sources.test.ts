/**
 * Data Source settings (cli/sources.ts) and the plain functions of
 * `ablo source` (cli/commands/source.ts), in temp directories: the `sources`
 * key of ablo.config.json checked, secrets read from the environment or
 * .env.local (never the config file), `add` / `rotate-secret` edits of the
 * files, and `source test` against real HTTP servers for the answers the e2e
 * test does not cover (no list handler, which is a note and not a failure; a wrong answer shape).
 */
import { readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'vitest';
import { addSource, rotateSecret, sourceEntryFromFlags, testSources } from '../../cli/commands/source.js';
import { resolveStartOptions } from '../../cli/commands/start.js';
import { parseConfigText, parseDotenv, resolveConfig } from '../../cli/config.js';
import { CliError } from '../../cli/errors.js';
import { checkSourceModels, defaultSecretEnv, describeSources, resolveSources } from '../../cli/sources.js';
import { generateSigningSecret, verifyAbloSourceRequest, type VerifyOptions } from '../../src/source/signature.js';
import { createTempProject } from '../helpers/tempProject.js';

function dir(ctx: TestContext, files: Record<string, string> = {}): string {
  const p = createTempProject({ files, linkAblo: false });
  ctx.onTestFinished(() => p.cleanup());
  return p.dir;
}

function config(sources: unknown): string {
  return JSON.stringify({ schema: 'ablo.schema.ts', sources });
}

function thrown(fn: () => unknown): CliError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error('expected a CliError, nothing was thrown');
}

async function rejected(p: Promise<unknown>): Promise<CliError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error('expected a CliError, the promise resolved');
}

describe('the sources key of ablo.config.json', () => {
  it('is parsed; signingSecretEnv defaults to ABLO_SOURCE_<NAME>_SECRET', ({ expect }) => {
    const parsed = parseConfigText(
      config({
        app: { url: 'https://app.example.com/api/ablo', models: ['tasks', 'projects'], timeoutMs: 5000, pollIntervalMs: 0 },
        'my-intranet': { models: ['tickets'], signingSecretEnv: 'INTRANET_SECRET' },
      }),
      '/p/ablo.config.json',
    );
    expect(parsed.sources).toEqual({
      app: { url: 'https://app.example.com/api/ablo', models: ['tasks', 'projects'], signingSecretEnv: 'ABLO_SOURCE_APP_SECRET', timeoutMs: 5000, pollIntervalMs: 0 },
      'my-intranet': { models: ['tickets'], signingSecretEnv: 'INTRANET_SECRET' },
    });
    expect(defaultSecretEnv('my-intranet')).toBe('ABLO_SOURCE_MY_INTRANET_SECRET');
  });

  const cases: Array<[string, unknown, RegExp, RegExp]> = [
    ['not an object', ['app'], /"sources" must be an object/, /docs\/data-source\.md/],
    ['a name the engine refuses', { App: { url: 'http://a', models: ['t'] } }, /source name "App" is not allowed/, /Rename "sources\.App"/],
    ['a url that is not http(s)', { app: { url: 'ftp://x', models: ['t'] } }, /"sources\.app\.url" must be an http:\/\/ or https:\/\/ URL, got "ftp:\/\/x"/, /leave "url" out/],
    ['no models', { app: { url: 'http://a' } }, /"sources\.app\.models" must be a non-empty list/, /"models": \["tasks", "projects"\]/],
    ['empty models', { app: { url: 'http://a', models: [] } }, /"sources\.app\.models" must be a non-empty list/, /"models"/],
    ['a model in two sources', { a: { models: ['tasks'] }, b: { models: ['notes', 'tasks'] } }, /model "tasks" is in two sources, "a" and "b"/, /Remove "tasks"/],
    ['the secret itself in the file', { app: { models: ['t'], signingSecret: 'whsec_x' } }, /the signing secret is never read from this file/, /ABLO_SOURCE_APP_SECRET=whsec_\.\.\. in \.env\.local/],
    ['a bad variable name', { app: { models: ['t'], signingSecretEnv: 'not a name' } }, /"sources\.app\.signingSecretEnv" must be an environment variable name/, /./],
    ['a bad timeout', { app: { models: ['t'], timeoutMs: -1 } }, /"sources\.app\.timeoutMs" must be a whole number of milliseconds above 0/, /./],
  ];
  for (const [what, sources, message, fix] of cases) {
    it(`refuses ${what}, saying what and how to fix it`, ({ expect }) => {
      const err = thrown(() => parseConfigText(config(sources), '/p/ablo.config.json'));
      expect(err.code).toBe('config_invalid');
      expect(err.exitCode).toBe(1);
      expect(err.message).toMatch(/^ablo\.config\.json: /);
      expect(err.message).toMatch(message);
      expect(err.fix).toMatch(fix);
    });
  }
});

describe.concurrent('resolveSources: the engine option, secrets from the environment or .env.local', () => {
  const secret = generateSigningSecret();
  const other = generateSigningSecret();

  it('reads the secret from .env.local; the process environment wins; a rotation is two secrets', (ctx) => {
    const cwd = dir(ctx, {
      'ablo.config.json': config({ app: { url: 'http://127.0.0.1:3000/api/ablo', models: ['tasks'], timeoutMs: 2000 }, intranet: { models: ['tickets'] } }),
      '.env.local': `ABLO_SOURCE_APP_SECRET=${JSON.stringify(secret)}\nABLO_SOURCE_INTRANET_SECRET="${secret} ${other}"\n`,
    });
    const resolved = resolveSources(resolveConfig({ cwd }), {});
    ctx.expect(resolved).toEqual({
      app: { url: 'http://127.0.0.1:3000/api/ablo', models: ['tasks'], signingSecret: [secret], timeoutMs: 2000 },
      intranet: { models: ['tickets'], signingSecret: [secret, other] },
    });
    const fromEnv = resolveSources(resolveConfig({ cwd }), { ABLO_SOURCE_APP_SECRET: other });
    ctx.expect(fromEnv.app!.signingSecret).toEqual([other]);
    ctx.expect(describeSources(resolved)).toEqual(['Data Source app → http://127.0.0.1:3000/api/ablo (tasks)', 'Data Source intranet → (reverse channel) (tickets)']);
  });

  it('a missing secret names the variable and how to set it', (ctx) => {
    const cwd = dir(ctx, { 'ablo.config.json': config({ app: { url: 'http://127.0.0.1:3000', models: ['tasks'] } }) });
    const err = thrown(() => resolveSources(resolveConfig({ cwd }), {}));
    ctx.expect(err.code).toBe('source_secret_not_set');
    ctx.expect(err.exitCode).toBe(1);
    ctx.expect(err.message).toMatch(/^ABLO_SOURCE_APP_SECRET is not set/);
    ctx.expect(err.fix).toMatch(/ablo source rotate-secret app/);
    ctx.expect(err.fix).toMatch(/\.env\.local/);
  });

  it('a value that is not a whsec_ secret is refused', (ctx) => {
    const cwd = dir(ctx, { 'ablo.config.json': config({ app: { models: ['tasks'] } }), '.env.local': 'ABLO_SOURCE_APP_SECRET=hunter2\n' });
    const err = thrown(() => resolveSources(resolveConfig({ cwd }), {}));
    ctx.expect(err.code).toBe('source_secret_invalid');
    ctx.expect(err.message).toMatch(/ABLO_SOURCE_APP_SECRET \(from \.env\.local\) is not a usable signing secret/);
  });

  it('ablo start takes them too (secrets from its environment); without sources the option is absent', (ctx) => {
    const cwd = dir(ctx, { 'ablo.config.json': config({ app: { url: 'https://app.example.com/api/ablo', models: ['tasks'] } }) });
    ctx.expect(resolveStartOptions({ file: 'a.db' }, cwd, { ABLO_SOURCE_APP_SECRET: secret }).sources).toEqual({
      app: { url: 'https://app.example.com/api/ablo', models: ['tasks'], signingSecret: [secret] },
    });
    ctx.expect(thrown(() => resolveStartOptions({ file: 'a.db' }, cwd, {})).code).toBe('source_secret_not_set');
    ctx.expect(resolveStartOptions({ file: 'a.db' }, dir(ctx), {})).not.toHaveProperty('sources');
  });

  it('no sources: an empty option', (ctx) => {
    ctx.expect(resolveSources(resolveConfig({ cwd: dir(ctx) }), {})).toEqual({});
  });
});

describe('checkSourceModels', () => {
  it('names the source and the models the schema lacks', ({ expect }) => {
    const sources = { app: { url: 'http://a', models: ['tasks', 'boards', 'cards'], signingSecret: ['whsec_x'] } };
    const err = thrown(() => checkSourceModels(sources, ['tasks'], 'ablo.schema.ts'));
    expect(err.code).toBe('source_model_not_in_schema');
    expect(err.message).toBe('Data Source "app" names models "boards", "cards", not in ablo.schema.ts');
    expect(err.fix).toMatch(/Add "boards", "cards" to ablo\.schema\.ts, or remove them from "sources\.app\.models"/);
    expect(() => checkSourceModels(sources, ['tasks', 'boards', 'cards'])).not.toThrow();
  });
});

describe.concurrent('ablo source add / rotate-secret (file edits)', () => {
  it('add writes the entry (other keys kept), a new secret in .env.local (0600) and git-ignores .env.local', async (ctx) => {
    const cwd = dir(ctx, {
      'ablo.config.json': '{\n    "schema": "ablo.schema.ts",\n    "dev": { "port": 4100 }\n}\n',
      '.env.local': '# mine\nABLO_URL=http://127.0.0.1:4100\n',
      '.gitignore': 'node_modules/\n',
    });
    const r = await addSource(cwd, 'app', { url: 'http://127.0.0.1:3000/api/ablo', models: 'tasks, projects' }, {});
    ctx.expect(r.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const file = resolveConfig({ cwd }).file!;
    ctx.expect(file.config).toMatchObject({ schema: 'ablo.schema.ts', dev: { port: 4100 }, sources: { app: { url: 'http://127.0.0.1:3000/api/ablo', models: ['tasks', 'projects'], signingSecretEnv: 'ABLO_SOURCE_APP_SECRET' } } });
    ctx.expect(readFileSync(`${cwd}/ablo.config.json`, 'utf8')).toMatch(/^\{\n {4}"schema"/);
    const env = readFileSync(`${cwd}/.env.local`, 'utf8');
    ctx.expect(env).toMatch(/^# mine\nABLO_URL=http:\/\/127\.0\.0\.1:4100\n/);
    ctx.expect(parseDotenv(env).ABLO_SOURCE_APP_SECRET).toBe(r.secret);
    ctx.expect(statSync(`${cwd}/.env.local`).mode & 0o777).toBe(0o600);
    ctx.expect(readFileSync(`${cwd}/.gitignore`, 'utf8')).toBe('node_modules/\n.env.local\n');
    ctx.expect(resolveSources(resolveConfig({ cwd }), {}).app!.signingSecret).toEqual([r.secret]);

    // The same name again: refused, nothing changed.
    const before = readFileSync(`${cwd}/ablo.config.json`, 'utf8');
    const taken = await rejected(addSource(cwd, 'app', { connector: true, models: 'notes' }, {}));
    ctx.expect(taken.code).toBe('source_name_taken');
    // A model another source holds: refused by the same check as the config file's.
    const twice = await rejected(addSource(cwd, 'other', { connector: true, models: 'tasks' }, {}));
    ctx.expect(twice.message).toMatch(/model "tasks" is in two sources/);
    ctx.expect(readFileSync(`${cwd}/ablo.config.json`, 'utf8')).toBe(before);
  });

  it('add keeps a secret already set in .env.local or the environment; creates ablo.config.json and .gitignore when missing', async (ctx) => {
    const kept = generateSigningSecret();
    const cwd = dir(ctx, { '.env.local': `APP_SECRET=${JSON.stringify(kept)}\n` });
    const r = await addSource(cwd, 'app', { connector: true, models: 'tasks', env: 'APP_SECRET' }, {});
    ctx.expect(r.secret).toBeUndefined();
    ctx.expect(r.secretFrom).toBe('.env.local');
    ctx.expect(r.gitignore.action).toBe('created');
    ctx.expect(resolveConfig({ cwd }).file!.config.sources).toEqual({ app: { models: ['tasks'], signingSecretEnv: 'APP_SECRET' } });
    ctx.expect(resolveSources(resolveConfig({ cwd }), {}).app!.signingSecret).toEqual([kept]);
    const fromEnv = await addSource(cwd, 'other', { connector: true, models: 'notes' }, { ABLO_SOURCE_OTHER_SECRET: kept });
    ctx.expect(fromEnv.secretFrom).toBe('environment');
    ctx.expect(parseDotenv(readFileSync(`${cwd}/.env.local`, 'utf8')).ABLO_SOURCE_OTHER_SECRET).toBeUndefined();
  });

  it('bad usage of add is a usage error (exit 2)', ({ expect }) => {
    // Each with its message and the fix it prints (an example of the right usage).
    for (const [name, flags, message, fix] of [
      ['app', { url: 'http://a', connector: true, models: 't' }, /not both/, /--connector: the app dials in/],
      ['app', { models: 't' }, /pass --url .* or --connector/, /ablo source add app --url http:\/\/127\.0\.0\.1:3000\/api\/ablo --models tasks/],
      ['app', { url: 'http://a' }, /--models is missing/, /--url http:\/\/a --models tasks,projects/],
      ['app', { url: 'http://a', models: ' , ' }, /--models is missing/, /--models tasks,projects/],
      ['App', { url: 'http://a', models: 't' }, /not a source name/, /ablo source add app --url/],
      ['app', { url: 'file:///x', models: 't' }, /--url must be an http/, /--url https:\/\/app\.example\.com\/api\/ablo/],
      ['app', { url: 'http://a', models: 't', env: '1X' }, /--env must be/, /--env ABLO_SOURCE_APP_SECRET/],
    ] as const) {
      const err = thrown(() => sourceEntryFromFlags(name, flags));
      expect(err.exitCode, JSON.stringify(flags)).toBe(2);
      expect(err.message).toMatch(message);
      expect(err.fix, JSON.stringify(flags)).toMatch(fix);
    }
  });

  it('rotate-secret puts the new secret before the old one; --finish keeps only the newest; an unknown source is exit 2', async (ctx) => {
    const cwd = dir(ctx, { 'ablo.config.json': config({ app: { url: 'http://127.0.0.1:1', models: ['tasks'] } }) });
    const read = () => parseDotenv(readFileSync(`${cwd}/.env.local`, 'utf8')).ABLO_SOURCE_APP_SECRET;
    const first = await rotateSecret(resolveConfig({ cwd }), 'app', {});
    ctx.expect(read()).toBe(first.secret);
    const second = await rotateSecret(resolveConfig({ cwd }), 'app', {});
    ctx.expect(read()).toBe(`${second.secret} ${first.secret}`);
    ctx.expect(second.secrets).toBe(2);
    ctx.expect(resolveSources(resolveConfig({ cwd }), {}).app!.signingSecret).toEqual([second.secret, first.secret]);
    const done = await rotateSecret(resolveConfig({ cwd }), 'app', {}, true);
    ctx.expect(done).toMatchObject({ secrets: 1, dropped: 1, shadowedByEnvironment: false });
    ctx.expect(read()).toBe(second.secret);
    const shadowed = await rotateSecret(resolveConfig({ cwd }), 'app', { ABLO_SOURCE_APP_SECRET: first.secret! });
    ctx.expect(shadowed.shadowedByEnvironment).toBe(true);
    const unknown = await rejected(rotateSecret(resolveConfig({ cwd }), 'nope', {}));
    ctx.expect(unknown.exitCode).toBe(2);
    ctx.expect(unknown.code).toBe('source_not_configured');
    ctx.expect(unknown.fix).toMatch(/app/);
  });
});

/** A real HTTP source: verifies each request with `secret`, then answers with `answer(body)`. */
async function source(ctx: TestContext, secret: string, answer: (body: { type: string; model?: string }) => [number, unknown], verify: VerifyOptions = {}): Promise<string> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let status: number;
      let body: unknown;
      try {
        verifyAbloSourceRequest({ headers: req.headers, body: raw }, secret, verify);
        [status, body] = answer(JSON.parse(raw) as { type: string; model?: string });
      } catch (err) {
        [status, body] = [401, { error: { code: 'invalid_signature', message: (err as Error).message } }];
      }
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  ctx.onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/ablo`;
}

describe.concurrent('testSources against real HTTP sources', () => {
  it('a model without a list handler and an answer of the wrong shape are diagnosed; a reverse-channel source is skipped', async (ctx) => {
    const secret = generateSigningSecret();
    const url = await source(ctx, secret, (body) => {
      if (body.type === 'events') return [200, { events: [{ id: 'e1' }], nextCursor: null }];
      if (body.model === 'tasks') return [200, { rows: [], nextCursor: null }];
      return [404, { error: { code: 'not_supported', message: `no list handler for ${body.model}` } }];
    });
    const cwd = dir(ctx, {
      'ablo.config.json': config({ app: { url, models: ['tasks', 'notes'] }, intranet: { models: ['tickets'] } }),
      '.env.local': `ABLO_SOURCE_APP_SECRET=${JSON.stringify(secret)}\nABLO_SOURCE_INTRANET_SECRET=${JSON.stringify(secret)}\n`,
    });
    const checks = await testSources(resolveConfig({ cwd }), {});
    ctx.expect(checks.map((c) => c.name)).toEqual(['app', 'intranet']);
    const [events, tasks, notes] = checks[0]!.requests;
    ctx.expect(events).toMatchObject({ request: 'events', ok: false, status: 200, diagnosis: ctx.expect.stringMatching(/the answer to events does not have the expected shape .*events\.0\.model/) });
    ctx.expect(tasks).toMatchObject({ request: 'list', model: 'tasks', ok: true, status: 200 });
    // A handler the app leaves out is not a failure: the engine works without it, and the line says what is lost.
    ctx.expect(notes).toMatchObject({ request: 'list', model: 'notes', ok: true, status: 404, note: ctx.expect.stringMatching(/^the app has no list handler for notes: /) });
    ctx.expect(checks[1]).toMatchObject({ name: 'intranet', url: null, skipped: ctx.expect.stringMatching(/cannot be tested from the CLI without the engine/), requests: [] });

    const only = await testSources(resolveConfig({ cwd }), {}, 'intranet');
    ctx.expect(only.map((c) => c.name)).toEqual(['intranet']);
    const unknown = await rejected(testSources(resolveConfig({ cwd }), {}, 'nope'));
    ctx.expect(unknown.exitCode).toBe(2);
  });

  it('an app whose clock is an hour ahead: the timestamp diagnosis, not the secrets one', async (ctx) => {
    const secret = generateSigningSecret();
    const url = await source(ctx, secret, () => [200, { rows: [], nextCursor: null }], { now: Math.floor(Date.now() / 1000) + 3600 });
    const cwd = dir(ctx, { 'ablo.config.json': config({ app: { url, models: ['tasks'] } }) });
    const checks = await testSources(resolveConfig({ cwd }), { ABLO_SOURCE_APP_SECRET: secret });
    for (const r of checks[0]!.requests) {
      ctx.expect(r).toMatchObject({ ok: false, status: 401 });
      ctx.expect(r.diagnosis).toMatch(/^the app refused the request's timestamp: this machine's clock and the app's differ/);
    }
  });

  it('no sources: an error saying how to add one', async (ctx) => {
    const err = await rejected(testSources(resolveConfig({ cwd: dir(ctx) }), {}));
    ctx.expect(err.code).toBe('no_sources_configured');
    ctx.expect(err.fix).toMatch(/ablo source add/);
  });
});
