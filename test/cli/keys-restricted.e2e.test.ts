/**
 * `ablo keys create --restricted` (the built bin) against a real engine and
 * straight into a SQLite file: the `rk_` key printed once with its scope, the
 * key working with only that scope, `keys list` showing the scope, usage
 * errors for flags that do not fit.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';
import { createTempProject, type TempProject } from '../helpers/tempProject.js';

const schema = defineSchema({
  models: { cards: model({ title: z.string(), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }) },
  identityRoles: { self: 'user:{participantId}' },
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(): Promise<{ t: TestEngine; p: TempProject }> {
  const t = await startTestEngine(schema);
  cleanups.push(() => t.stop());
  const p = createTempProject();
  cleanups.push(() => p.cleanup());
  return { t, p };
}

describe('ablo keys create --restricted', () => {
  test('prints the rk_ key once with its scope; the key reads only its groups; keys list shows the scope', async () => {
    const { t, p } = await setup();
    await t.http('POST', '/v1/commits', {
      operations: [
        { op: 'create', model: 'cards', id: 'a1', data: { title: 'A1', boardId: 'a' } },
        { op: 'create', model: 'cards', id: 'z1', data: { title: 'Z1', boardId: 'z' } },
      ],
    });
    const engine = ['--url', t.url, '--api-key', t.key];
    const r = await p.run(['keys', 'create', '--restricted', '--groups', 'board:a, @self', '--ops', 'read,write,claim', '--participant', 'agent:indexer', '--name', 'indexer', ...engine]);
    expect(r.code, r.stderr).toBe(0);
    const keys = r.stdout.match(/rk_test_[0-9A-Za-z]{32}/g) ?? [];
    expect(keys).toHaveLength(1);
    expect(r.stdout).toContain('Created restricted API key');
    expect(r.stdout).toContain('board:a, user:indexer');
    expect(r.stdout).toContain('read, create, update, delete, claim');
    expect(r.stdout).toContain('agent:indexer');
    const key = keys[0]!;

    const mine = await t.http('GET', '/v1/models/cards', undefined, { authorization: `Bearer ${key}` });
    expect(mine.body.data.map((row: any) => row.id)).toEqual(['a1']);

    const listed = await p.run(['keys', 'list', ...engine]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/indexer\s+rk_test_\w{4}…\s+board:a,user:indexer read,create,update,delete,claim/);
    expect(listed.stdout).toMatch(/everything/);
    expect(listed.stdout).not.toContain(key);

    const json = await p.run(['keys', 'create', '--restricted', '--groups', 'board:*', '--ops', 'read', '--live', '--json', ...engine]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ kind: 'restricted', groups: ['board:*'], operations: ['read'], key: expect.stringMatching(/^rk_live_/) });
  });

  test('straight into a SQLite file (no engine running), with a secret key\'s authority', async () => {
    const p = createTempProject();
    cleanups.push(() => p.cleanup());
    const r = await p.run(['keys', 'create', '--restricted', '--groups', 'board:*', '--ops', 'read', '--file', 'data/ablo.db', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'restricted', groups: ['board:*'], operations: ['read'], key: expect.stringMatching(/^rk_test_/) });
  });

  test('flags that do not fit are usage errors; an escalation is refused by the engine', async () => {
    const { t, p } = await setup();
    const engine = ['--url', t.url, '--api-key', t.key];
    for (const args of [
      ['--groups', 'board:*'],
      ['--restricted', '--groups', 'board:*'],
      ['--restricted', '--groups', 'board:*', '--ops', 'read,fly'],
      ['--restricted', '--groups', 'board:*', '--ops', 'read', '--participant', 'robot'],
    ]) {
      const r = await p.run(['keys', 'create', ...args, ...engine]);
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(2);
      expect(r.stdout).not.toMatch(/rk_test_/);
    }
    const made = await t.http('POST', '/v1/keys', { restricted: true, syncGroups: ['board:*'], operations: ['read', 'keys'] });
    const wider = await p.run(['keys', 'create', '--restricted', '--groups', '*', '--ops', 'read', '--url', t.url, '--api-key', made.body.key]);
    expect(wider.code).not.toBe(0);
    expect(wider.stderr).toContain('This credential may not create a key with sync group "*"');
  });
});
