/**
 * The CLI entry in-process: `main(argv, io)` returns the exit code and never
 * calls process.exit; output goes through the io it is given.
 */
import { describe, it } from 'vitest';
import { CliError, UsageError, formatFailure } from '../../cli/errors.js';
import { main } from '../../cli/main.js';
import type { CliIO } from '../../cli/context.js';
import { AbloSchemaError } from '../../src/errors.js';

function capture(cwd = process.cwd()) {
  const out = { stdout: '', stderr: '' };
  const io: CliIO = {
    stdout: (t) => void (out.stdout += t),
    stderr: (t) => void (out.stderr += t),
    cwd,
    env: {},
    isTTY: false,
  };
  return { io, out };
}

async function run(...args: string[]) {
  const { io, out } = capture();
  const code = await main(['node', 'ablo', ...args], io);
  return { code, ...out };
}

describe.concurrent('main()', () => {
  it('--version returns 0 and prints the version', async ({ expect }) => {
    const r = await run('--version');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('help goes to the given stdout', async ({ expect }) => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('generate');
    expect(r.stderr).toBe('');
  });

  it('bad usage returns 2 with error and fix lines', async ({ expect }) => {
    const r = await run('generate', '--nope');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: unknown option '--nope'\nfix: Run "ablo generate --help" to see the usage and examples.\n`);
  });

  it('a global flag after -- is not taken as a flag', async ({ expect }) => {
    const r = await run('generate', '--nope', '--', '--json');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
  });

  it('command failures return 1 through the shared formatter', async ({ expect }) => {
    const { io, out } = capture('/nonexistent-ablo-dir');
    const code = await main(['node', 'ablo', 'generate', '--json'], io);
    expect(code).toBe(1);
    expect(JSON.parse(out.stdout)).toMatchObject({ error: { type: 'schema_error', code: 'schema_not_found' } });
  });
});

describe('formatFailure', () => {
  it('prints cause and fix, stack only with debug', ({ expect }) => {
    const err = new CliError('it broke', { fix: 'do the thing' });
    expect(formatFailure(err, { json: false, debug: false })).toEqual({ stdout: '', stderr: 'error: it broke\nfix: do the thing\n', exitCode: 1 });
    const dbg = formatFailure(err, { json: false, debug: true });
    expect(dbg.stderr).toMatch(/^error: it broke\nfix: do the thing\n\nCliError: it broke\n\s+at /);
  });

  it('keeps the cause line to one line', ({ expect }) => {
    expect(formatFailure(new CliError('a\n  b'), { json: false, debug: false }).stderr).toBe('error: a b\n');
  });

  it('maps AbloSchemaError to exit 1 with model and field', ({ expect }) => {
    const err = new AbloSchemaError('Model "t", field "f": nope.', { code: 'unsupported_type', model: 't', field: 'f' });
    const human = formatFailure(err, { json: false, debug: false });
    expect(human.exitCode).toBe(1);
    expect(human.stderr.split('\n')[0]).toBe('error: Model "t", field "f": nope.');
    const json = formatFailure(err, { json: true, debug: false });
    expect(JSON.parse(json.stdout)).toEqual({
      error: { type: 'schema_error', code: 'unsupported_type', message: 'Model "t", field "f": nope.', model: 't', field: 'f', fix: expect.any(String) },
    });
  });

  it('usage errors exit 2; unknown errors exit 1 and point at --debug', ({ expect }) => {
    expect(formatFailure(new UsageError('bad'), { json: false, debug: false }).exitCode).toBe(2);
    const f = formatFailure(new RangeError('oops'), { json: true, debug: false });
    expect(f.exitCode).toBe(1);
    expect(JSON.parse(f.stdout).error).toMatchObject({ type: 'internal_error', message: 'unexpected failure: oops' });
    expect(JSON.parse(f.stdout).error.fix).toContain('--debug');
  });
});
