/**
 * `ablo log` through the built bin against a real engine (port 0, SQLite in
 * a temp dir): who changed what, when, with which operation, credential and
 * on-behalf-of participant; the filters; `--json` as JSON lines; bad usage
 * exits 2, an engine refusal 1.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';
import { createTempProject, stackLines, type TempProject } from '../helpers/tempProject.js';

const schema = defineSchema({
  notes: model({ title: z.string(), owner: z.string() }, {}, { syncGroupFormat: 'user:{owner}' }),
  tags: model({ name: z.string() }),
});

let t: TestEngine;
let p: TempProject;
let keyId: string;
let session: { token: string; sessionId: string };

beforeAll(async () => {
  t = await startTestEngine(schema);
  p = createTempProject({ files: { '.env.local': `ABLO_URL=${t.url}\nABLO_API_KEY=${t.key}\n` } });
  keyId = (await t.http('GET', '/v1/keys')).body.data[0].id;
  session = (await t.http('POST', '/v1/sessions', { participant: { kind: 'user', id: 'bo' }, syncGroups: ['user:*'], operations: ['read', 'write'] })).body;
  // 1: the key for ana; 2: bo's session; 3: the key itself; 4: bo updates note n1; 5: the key for ana deletes it.
  await t.http('POST', '/v1/models/notes', { id: 'n1', data: { title: 'one', owner: 'ana' } }, { 'ablo-participant': 'user:ana' });
  await t.http('POST', '/v1/models/notes', { id: 'n2', data: { title: 'two', owner: 'bo' } }, { authorization: `Bearer ${session.token}` });
  await t.http('POST', '/v1/models/tags', { id: 'g1', data: { name: 'x' } });
  await t.http('PATCH', '/v1/models/notes/n1', { data: { title: 'one, edited' } }, { authorization: `Bearer ${session.token}` });
  await t.http('DELETE', '/v1/models/notes/n1', undefined, { 'ablo-participant': 'user:ana' });
});

afterAll(async () => {
  p?.cleanup();
  await t?.stop();
});

const syncIds = (stdout: string): number[] => stdout.trim().split('\n').map((l) => Number(l.trim().split(/\s+/)[0]));

// Each run spawns the CLI (a second or more on a loaded machine): room for a few in a row.
describe('ablo log', { timeout: 120_000 }, () => {
  test('prints every change: sync id, time, operation, row, fields, who wrote it, on behalf of whom, the credential', async () => {
    const r = await p.run(['log']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(new RegExp(`^\\s+1  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ  create  notes n1  by system:${keyId} for user:ana  credential ${keyId}$`));
    expect(lines[1]).toMatch(new RegExp(`^\\s+2  .*  create  notes n2  by user:bo  credential ${session.sessionId}$`));
    expect(lines[2]).toMatch(new RegExp(`  create  tags g1  by system:${keyId}  credential ${keyId}$`));
    expect(lines[3]).toMatch(new RegExp(`  update  notes n1 \\(title\\)  by user:bo  credential ${session.sessionId}$`));
    expect(lines[4]).toMatch(/  delete  notes n1  by system:key_\w+ for user:ana  credential key_\w+$/);
  });

  test('filters: --participant (wrote it or on whose behalf), --model, --id, --after, --limit', async () => {
    const run = async (args: string[]): Promise<number[]> => {
      const r = await p.run(['log', ...args]);
      expect(r.code, r.stderr).toBe(0);
      return syncIds(r.stdout);
    };
    const cases: Array<[string[], number[]]> = [
      [['--participant', 'user:ana'], [1, 5]],
      [['--participant', 'user:bo'], [2, 4]],
      [['--participant', `system:${keyId}`], [1, 3, 5]],
      [['--model', 'notes', '--id', 'n1'], [1, 4, 5]],
      [['--id', 'g1'], [3]],
      [['--model', 'notes', '--after', '1', '--participant', 'user:ana'], [5]],
    ];
    const got = await Promise.all(cases.map(([args]) => run(args)));
    expect(got).toEqual(cases.map(([, want]) => want));
    const limited = await p.run(['log', '--model', 'notes', '--limit', '2']);
    expect(syncIds(limited.stdout)).toEqual([1, 2]);
    expect(limited.stderr).toBe('more changes follow: ablo log --after 2 --model notes\n');
    const none = await p.run(['log', '--participant', 'agent:nobody']);
    expect(none.code).toBe(0);
    expect(none.stdout.trim()).toBe('(no changes)');
  });

  test('--json prints one change per line, with participant, onBehalfOf and credentialId', async () => {
    const r = await p.run(['log', '--json', '--model', 'notes']);
    expect(r.code, r.stderr).toBe(0);
    const changes = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(changes.map((c) => [c.syncId, c.action, c.id])).toEqual([
      [1, 'create', 'n1'],
      [2, 'create', 'n2'],
      [4, 'update', 'n1'],
      [5, 'delete', 'n1'],
    ]);
    expect(changes[0]).toMatchObject({ model: 'notes', participant: { kind: 'system', id: keyId }, onBehalfOf: { kind: 'user', id: 'ana' }, credentialId: keyId });
    expect(changes[1]).toMatchObject({ participant: { kind: 'user', id: 'bo' }, credentialId: session.sessionId });
    expect(changes[1]).not.toHaveProperty('onBehalfOf');
    expect(changes[2].fields).toEqual(['title']);
    const empty = await p.run(['log', '--json', '--participant', 'agent:nobody']);
    expect(empty.stdout).toBe('');
  });

  test('a scoped credential sees only its groups’ changes', async () => {
    const ana = (await t.http('POST', '/v1/sessions', { participant: { kind: 'user', id: 'ana' }, syncGroups: ['user:ana'], operations: ['read'] })).body;
    const r = await p.run(['log', '--api-key', ana.token]);
    expect(r.code, r.stderr).toBe(0);
    expect(syncIds(r.stdout)).toEqual([1, 4, 5]);
  });

  test('bad flag values exit 2; a refused key exits 1; one error and one fix line, no stack', async () => {
    const bad = [['--participant', 'ana'], ['--participant', 'robot:x'], ['--after', '-1'], ['--limit', '0'], ['--limit', 'lots'], ['--id', 'a b'], ['--model', '1x']];
    const runs = await Promise.all(bad.map((args) => p.run(['log', ...args])));
    runs.forEach((r, i) => {
      expect(r.code, bad[i]!.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^error: /);
      expect(stackLines(r.stderr)).toEqual([]);
    });
    const refused = await p.run(['log', '--api-key', 'sk_test_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']);
    expect(refused.code).toBe(1);
    const lines = refused.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^error: /);
    expect(lines[1]).toMatch(/^fix: /);
    expect(stackLines(refused.stderr)).toEqual([]);
  });
});
