/**
 * Issue 10, item 6: a backup that cannot be restored. Rows the old engine
 * stored ~1,760 levels deep (before the 64-level limit) must round-trip
 * through `ablo data export` / `ablo data import --allow-deep`; without the
 * flag the import refuses, naming file:line, field, depth and the fix, and
 * writes nothing. The built CLI runs as a user would, against real engines.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { canonicalJson, jsonDepth } from '../../src/protocol/json.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';
import { createTempProject, stackLines, type TempProject } from '../helpers/tempProject.js';

const schema = defineSchema({
  notes: model({ title: z.string().min(1), meta: z.json().optional() }),
});

function deepValue(depth: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = i % 3 === 0 ? [v, i] : { level: i, next: v };
  return v;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
async function engine(): Promise<TestEngine> {
  const t = await startTestEngine(schema);
  cleanups.push(() => t.stop());
  return t;
}
function project(): TempProject {
  const p = createTempProject({ linkAblo: false, prefix: 'ablo-depth-' });
  cleanups.push(() => p.cleanup());
  return p;
}
const flags = (t: TestEngine) => ['--url', t.url, '--api-key', t.key];

/** Store a row the way the engine did before the limit: straight into the table through the storage. */
async function storeOldRow(t: TestEngine, id: string, meta: unknown): Promise<void> {
  await t.engine.storage.transaction(async (tx) => {
    const syncId = await tx.nextSyncId();
    const at = new Date().toISOString();
    await tx.insertRow('notes', { id, createdAt: at, updatedAt: at, syncId, title: `old ${id}`, meta });
  });
}

describe('ablo data export / import of rows deeper than the limit', () => {
  test('a 1,760-level row: export warns, import refuses without --allow-deep and restores it with the flag', async () => {
    const old = await engine();
    const meta = deepValue(1760);
    await storeOldRow(old, 'deep', meta);
    expect((await old.http('POST', '/v1/models/notes', { id: 'flat', data: { title: 'flat', meta: { a: [1] } } })).status).toBe(201);

    const p = project();
    let r = await p.run(['data', 'export', ...flags(old)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('wrote ablo-data/notes.jsonl (2 rows)');
    expect(r.stderr).toMatch(/^warning: ablo-data\/notes\.jsonl: 1 row nests JSON 1760 levels deep, deeper than the engine accepts today \(64\).*ablo data import --allow-deep/m);
    const lines = p.read('ablo-data/notes.jsonl').trim().split('\n');
    expect(lines).toHaveLength(2);
    const deepLine = lines.findIndex((l) => l.startsWith('{"id":"deep"')) + 1;
    expect(jsonDepth(JSON.parse(lines[deepLine - 1]!).meta)).toBe(1760);

    // A wiped engine: the same schema, no rows.
    const fresh = await engine();
    r = await p.run(['data', 'import', 'ablo-data', ...flags(fresh)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: ablo-data/notes.jsonl:${deepLine}: field "meta" nests JSON 1760 levels deep; the engine accepts 64 (rows this deep were stored before that limit); nothing was imported\n` +
        `fix: To restore rows like this as they are, run the import again with --allow-deep (accepts up to 2048 levels); or flatten "meta" on line ${deepLine} of ablo-data/notes.jsonl.\n`,
    );
    expect(stackLines(r.stderr)).toEqual([]);
    expect((await fresh.http('GET', '/v1/models/notes')).body.data).toEqual([]);
    r = await p.run(['data', 'import', 'ablo-data', '--json', ...flags(fresh)]);
    expect(JSON.parse(r.stdout).error).toMatchObject({ type: 'validation_error', code: 'invalid_json', field: 'meta', depth: 1760, maxDepth: 64, line: deepLine });

    r = await p.run(['data', 'import', 'ablo-data', '--allow-deep', ...flags(fresh)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^imported 2 rows \(2 into notes\) in 1 commit/);
    const restored = (await fresh.http('GET', '/v1/models/notes/deep')).body;
    expect(restored.title).toBe('old deep');
    expect(canonicalJson(restored.meta)).toBe(canonicalJson(meta));
    expect((await fresh.http('GET', '/v1/models/notes/flat')).body.meta).toEqual({ a: [1] });

    // The restored engine exports the same lines again (system fields aside).
    r = await p.run(['data', 'export', '--out', 'again', ...flags(fresh)]);
    expect(r.code, r.stderr).toBe(0);
    const strip = (l: string) => {
      const { createdAt: _c, updatedAt: _u, syncId: _s, ...rest } = JSON.parse(l);
      return canonicalJson(rest);
    };
    expect(p.read('again/notes.jsonl').trim().split('\n').map(strip).sort()).toEqual(lines.map(strip).sort());
  });

  test('past the restore limit, and lone surrogates, are refused naming file, line and field', async () => {
    const t = await engine();
    const p = project();
    p.write('seed/notes.jsonl', `{"id":"ok","title":"fine"}\n{"id":"too-deep","title":"x","meta":${canonicalJson(deepValue(2049))}}\n`);
    let r = await p.run(['data', 'import', 'seed', '--allow-deep', ...flags(t)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: seed\/notes\.jsonl:2: the row nests deeper than 2048 levels \(the restore limit\) at "meta\.next\.next\.0…": .* Flatten it, or store it as a string; nothing was imported$/m);
    p.write('seed/notes.jsonl', '{"id":"ok","title":"fine"}\n\n{"id":"bad","title":"A\\ud83dB"}\n');
    r = await p.run(['data', 'import', 'seed', ...flags(t)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: seed\/notes\.jsonl:3: the row holds a lone UTF-16 surrogate \(\\ud83d\) in the value at "title".*; nothing was imported$/m);
    expect((await t.http('GET', '/v1/models/notes')).body.data).toEqual([]);
  });
});
