/**
 * Connection settings (flags → env → .env.local → .env → ablo.config.json →
 * default), env-file parsing and editing, rename parsing and candidates,
 * coding-agent detection, and import row checks — in-process.
 */
import { describe, it, type TestContext } from 'vitest';
import { detectCodingAgent } from '../../cli/agent.js';
import { batches, readImportRows } from '../../cli/commands/data.js';
import { parseDotenv, parseEngineUrl, resolveConfig, setDotenvValues } from '../../cli/config.js';
import { CliError, UsageError } from '../../cli/errors.js';
import { parseRenames, renameCandidates } from '../../cli/plan.js';
import { compileSchema, defineSchema, model, planSchemaChange, z } from '../../src/schema/index.js';
import { createTempProject } from '../helpers/tempProject.js';

function dir(ctx: TestContext, files: Record<string, string> = {}): string {
  const p = createTempProject({ files, linkAblo: false });
  ctx.onTestFinished(() => p.cleanup());
  return p.dir;
}

describe.concurrent('connection settings', () => {
  const KEY = (c: string) => `sk_test_${c.repeat(32)}`;

  it('default URL and no key when nothing is configured', (ctx) => {
    const c = resolveConfig({ cwd: dir(ctx), env: {} });
    ctx.expect(c.url).toEqual({ value: 'http://127.0.0.1:4100', source: 'default', origin: 'default' });
    ctx.expect(c.apiKey).toBeUndefined();
    ctx.expect(c.devPort.value).toBe(4100);
    ctx.expect(c.devDb.value).toMatch(/\/\.ablo\/dev\.db$/);
  });

  it('flag > env > .env.local > .env > ablo.config.json > default', (ctx) => {
    const { expect } = ctx;
    const cwd = dir(ctx, {
      'ablo.config.json': JSON.stringify({ url: 'http://config:1', dev: { port: 4200, db: 'data/x.db' } }),
      '.env': `ABLO_URL=http://dotenv:2\nABLO_API_KEY=${KEY('e')}\n`,
      '.env.local': `# comment\nexport ABLO_URL="http://local:3/"\nABLO_API_KEY='${KEY('l')}' \n`,
    });
    let c = resolveConfig({ cwd, env: {} });
    expect(c.url).toMatchObject({ value: 'http://local:3', source: 'env-file', origin: '.env.local#ABLO_URL' });
    expect(c.apiKey).toMatchObject({ value: KEY('l'), source: 'env-file', origin: '.env.local#ABLO_API_KEY' });
    expect(c.devPort).toMatchObject({ value: 4200, source: 'config' });
    expect(c.devDb.value).toBe(`${cwd}/data/x.db`);
    c = resolveConfig({ cwd, env: { ABLO_URL: 'https://env:4', ABLO_API_KEY: KEY('v') } });
    expect(c.url).toMatchObject({ value: 'https://env:4', source: 'env', origin: 'ABLO_URL' });
    expect(c.apiKey).toMatchObject({ value: KEY('v'), source: 'env' });
    c = resolveConfig({ cwd, env: { ABLO_URL: 'https://env:4' }, flags: { url: 'http://flag:5', apiKey: KEY('f'), port: '0', db: '/tmp/y.db' } });
    expect(c.url).toMatchObject({ value: 'http://flag:5', source: 'flag' });
    expect(c.apiKey).toMatchObject({ value: KEY('f'), source: 'flag' });
    expect(c.devPort).toMatchObject({ value: 0, source: 'flag' });
    expect(c.devDb.value).toBe('/tmp/y.db');
    // .env when .env.local does not set it; config when no env file does.
    const cwd2 = dir(ctx, { 'ablo.config.json': JSON.stringify({ url: 'http://config:1' }), '.env': 'ABLO_URL=http://dotenv:2\n', '.env.local': 'OTHER=1\n' });
    expect(resolveConfig({ cwd: cwd2, env: {} }).url.origin).toBe('.env#ABLO_URL');
    const cwd3 = dir(ctx, { 'ablo.config.json': JSON.stringify({ url: 'http://config:1' }) });
    expect(resolveConfig({ cwd: cwd3, env: {} }).url).toMatchObject({ value: 'http://config:1', source: 'config' });
  });

  it('bad values: a flag is bad usage (exit 2); a file or env value is a config error (exit 1)', (ctx) => {
    const { expect } = ctx;
    const cwd = dir(ctx);
    expect(() => resolveConfig({ cwd, flags: { url: 'nope' } })).toThrow(UsageError);
    expect(() => resolveConfig({ cwd, flags: { port: '70000' } })).toThrow(/--port must be a whole number/);
    try {
      resolveConfig({ cwd, env: { ABLO_URL: 'localhost:4100' } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CliError);
      expect((err as CliError).exitCode).toBe(1);
      expect((err as CliError).message).toContain('(from ABLO_URL)');
    }
    expect(parseEngineUrl('http://h:1/base/')).toBe('http://h:1/base');
    expect(parseEngineUrl('http://h:1?x=1')).toBeUndefined();
  });
});

describe('env files', () => {
  it('parses comments, export, quotes and inline comments', ({ expect }) => {
    expect(
      parseDotenv('\uFEFF# c\nA=1\nexport B = two words # note\nC="x\\ny # not a comment"\nD=\'single\'\nE=\nbad line\nA=3\n'),
    ).toEqual({ A: '3', B: 'two words', C: 'x\ny # not a comment', D: 'single', E: '' });
  });

  it('sets values in place, appends new ones, keeps everything else', ({ expect }) => {
    const text = '# mine\nOTHER=1\nexport ABLO_URL=http://127.0.0.1:4100\n\nLAST=x\n';
    expect(setDotenvValues(text, { ABLO_URL: 'http://127.0.0.1:5000', ABLO_API_KEY: 'sk_test_k' })).toBe(
      '# mine\nOTHER=1\nexport ABLO_URL=http://127.0.0.1:5000\n\nLAST=x\nABLO_API_KEY=sk_test_k\n',
    );
    expect(setDotenvValues('', { A: 'has space' })).toBe('A="has space"\n');
    expect(setDotenvValues('A=1', { B: '2' })).toBe('A=1\nB=2\n');
  });
});

describe('renames', () => {
  it('parses --rename values and refuses malformed ones as bad usage', ({ expect }) => {
    expect(parseRenames(['tasks.title=tasks.name', 'todos = tasks', 'a.b=c'])).toEqual({ 'tasks.title': 'tasks.name', todos: 'tasks', 'a.b': 'c' });
    for (const bad of ['tasks.title', '=x', 'a=b=c', 'a.b.c=d']) expect(() => parseRenames([bad])).toThrow(UsageError);
    expect(() => parseRenames(['a=b', 'a=c'])).toThrow(/given twice/);
  });

  it('offers a dropped and an added field of the same type in the same model', ({ expect }) => {
    const before = defineSchema({ tasks: model({ title: z.string(), n: z.number(), keep: z.boolean() }), other: model({ x: z.string() }) }).serialized;
    const after = defineSchema({ tasks: model({ name: z.string(), count: z.boolean(), keep: z.boolean() }), other: model({ y: z.number() }) }).serialized;
    const plan = planSchemaChange(before, after);
    expect(renameCandidates(plan)).toEqual([{ model: 'tasks', from: 'title', to: 'name' }]);
  });
});

describe('coding agents', () => {
  it('are detected from their environment variables', ({ expect }) => {
    expect(detectCodingAgent({})).toBeUndefined();
    expect(detectCodingAgent({ CLAUDECODE: '1' })).toEqual({ name: 'Claude Code', variable: 'CLAUDECODE' });
    expect(detectCodingAgent({ CURSOR_AGENT: '1' })?.name).toBe('Cursor');
    expect(detectCodingAgent({ GEMINI_CLI: '1' })?.name).toBe('Gemini CLI');
    expect(detectCodingAgent({ CODEX_SANDBOX: 'seatbelt' })?.name).toBe('Codex');
    expect(detectCodingAgent({ AI_AGENT: 'my-bot' })?.variable).toBe('AI_AGENT');
    expect(detectCodingAgent({ CLAUDECODE: '0', CURSOR_AGENT: 'false', GEMINI_CLI: '' })).toBeUndefined();
  });
});

describe.concurrent('data import checks', () => {
  const schema = compileSchema(
    defineSchema({ tasks: model({ title: z.string().min(1), estimate: z.number().int().optional(), tag: z.string().nullable().default(null) }) }).serialized,
  );

  it('drops system fields, keeps ids, turns stored nulls of optional fields into omissions', (ctx) => {
    const cwd = dir(ctx, {
      'd/tasks.jsonl': `${JSON.stringify({ id: 't1', createdAt: 'x', updatedAt: 'y', syncId: 3, title: 'A', estimate: null, tag: null })}\n\n{"title":"B","estimate":2}\n`,
    });
    const rows = readImportRows([`${cwd}/d/tasks.jsonl`], schema, cwd);
    ctx.expect(rows.map((r) => [r.id, r.data, r.line])).toEqual([
      ['t1', { title: 'A', tag: null }, 1],
      [undefined, { title: 'B', estimate: 2 }, 3],
    ]);
  });

  it('names file and line of the first bad row', (ctx) => {
    const { expect } = ctx;
    const cases: Array<[string, RegExp]> = [
      ['{"title":"ok"}\n{"title":""}\n', /^d\/tasks\.jsonl:2: Invalid tasks\.title/],
      ['{"title":"ok"}\n[1]\n', /^d\/tasks\.jsonl:2: expected a JSON object/],
      ['{"title":"ok","nope":1}\n', /^d\/tasks\.jsonl:1: .*nope/],
      ['{"id":"a","title":"x"}\n{"id":"a","title":"y"}\n', /^d\/tasks\.jsonl:2: id "a" appears twice \(first at d\/tasks\.jsonl:1\)/],
      ['{"id":"a b","title":"x"}\n', /^d\/tasks\.jsonl:1: id "a b" is not a valid row id/],
    ];
    for (const [text, re] of cases) {
      const cwd = dir(ctx, { 'd/tasks.jsonl': text });
      expect(() => readImportRows([`${cwd}/d/tasks.jsonl`], schema, cwd)).toThrow(re);
    }
    const cwd = dir(ctx, { 'd/people.jsonl': '{}\n' });
    expect(() => readImportRows([`${cwd}/d/people.jsonl`], schema, cwd)).toThrow(/has no model "people"/);
  });

  it('batches at 500 operations', ({ expect }) => {
    const rows = Array.from({ length: 1001 }, (_, i) => ({ model: 'tasks', data: { title: String(i) }, file: 'f', line: i + 1 }));
    expect(batches(rows).map((b) => b.length)).toEqual([500, 500, 1]);
  });
});
