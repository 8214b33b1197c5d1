/**
 * The board app's TypeScript checks against the built package (dist/, what
 * `npm install ablo` gives an app), with its own tsconfig: the hooks, rows and
 * writes it uses are typed as a user's app would see them.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

describe('board app types', () => {
  it('tsc -p examples/board passes against dist/', async () => {
    const result = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'examples/board')], { cwd: root }).then(
      () => ({ code: 0, out: '' }),
      (err: { code?: number; stdout?: string }) => ({ code: err.code ?? 1, out: err.stdout ?? '' }),
    );
    expect(result).toEqual({ code: 0, out: '' });
  });
});
