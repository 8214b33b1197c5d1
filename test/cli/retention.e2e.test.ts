/**
 * `ablo dev` takes its retention from `ablo.config.json` (`dev.retention`),
 * and `ablo status` shows it with the change log's floor.
 */
import { describe, it, type TestContext } from 'vitest';
import { createTempProject, startCli } from '../helpers/tempProject.js';

const SCHEMA = `import { defineSchema, model, z } from 'ablo/schema';
export const schema = defineSchema({ notes: model({ body: z.string() }) });
`;

describe('ablo dev retention', () => {
  it('reads dev.retention from ablo.config.json; ablo status shows it and the floor', async (ctx: TestContext) => {
    const { expect } = ctx;
    const p = createTempProject({
      files: { 'ablo.schema.ts': SCHEMA, 'ablo.config.json': JSON.stringify({ dev: { retention: { changeLog: '2d', idempotency: '6h' } } }) },
    });
    ctx.onTestFinished(() => p.cleanup());
    const dev = startCli(['dev', '--port', '0', '--json', '--no-watch'], p.dir);
    ctx.onTestFinished(async () => {
      await dev.stop('SIGTERM');
    });
    const m = await dev.waitFor(/^(\{"event":"ready".*\})$/m, 20_000);
    const url = (JSON.parse(m[1]!) as { url: string }).url;
    const health = (await (await fetch(`${url}/v1/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ changeLogFloor: 0, retention: { changeLogMs: 2 * 86_400_000, idempotencyMs: 6 * 3_600_000 } });

    const status = await p.run(['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/change log\s+complete \(nothing pruned yet\); kept 2d, idempotency 6h/);
  });
});
