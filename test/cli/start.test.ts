/** `ablo start`'s plain functions: where the database and port come from, the log line shape. */
import { describe, expect, test } from 'vitest';
import { jsonLogger, resolveStartOptions } from '../../cli/commands/start.js';
import { redactUrl, resolveStorageTarget } from '../../cli/storageTarget.js';

describe('resolveStartOptions', () => {
  test('ABLO_DATABASE_URL is the default for --database-url; PORT for --port; 0.0.0.0 and 10 s by default', () => {
    expect(resolveStartOptions({}, '/srv', { ABLO_DATABASE_URL: 'postgres://u:p@db/app', PORT: '8080' })).toEqual({
      target: { kind: 'postgres', databaseUrl: 'postgres://u:p@db/app' },
      host: '0.0.0.0',
      port: 8080,
      drainTimeoutMs: 10_000,
      // No browser origin unless --cors-origin or cors.origins names one (/srv has no ablo.config.json).
      corsOrigins: [],
    });
  });

  test('flags win: --file over ABLO_DATABASE_URL, --port over PORT; a relative file is from the working directory', () => {
    const o = resolveStartOptions({ file: 'data/a.db', port: '0', host: '127.0.0.1', drainTimeout: '2.5' }, '/srv', { ABLO_DATABASE_URL: 'postgres://db/app', PORT: '8080' });
    expect(o).toEqual({ target: { kind: 'sqlite', file: '/srv/data/a.db' }, host: '127.0.0.1', port: 0, drainTimeoutMs: 2500, corsOrigins: [] });
  });

  test('--cors-origin (repeatable) names the browser origins allowed', () => {
    const o = resolveStartOptions({ file: 'a.db', corsOrigin: ['https://app.example.com', 'http://localhost:*'] }, '/srv', {});
    expect(o.corsOrigins).toEqual(['https://app.example.com', 'http://localhost:*']);
  });

  test('bad usage is a usage error (exit 2) with a fix', () => {
    for (const [flags, env] of [
      [{}, {}],
      [{ file: 'a.db', databaseUrl: 'postgres://db/x' }, {}],
      [{ databaseUrl: 'mysql://db/x' }, {}],
      [{ file: 'a.db', drainTimeout: '0' }, {}],
      [{ file: 'a.db', port: '70000' }, {}],
      [{ file: 'a.db', corsOrigin: ['https://app.example.com/path'] }, {}],
    ] as const) {
      expect(() => resolveStartOptions(flags, '/srv', env), JSON.stringify(flags)).toThrow(expect.objectContaining({ exitCode: 2, fix: expect.any(String) }));
    }
  });

  test('keys create reads no environment: without a flag it names only the flags', () => {
    expect(() => resolveStorageTarget({}, '/srv', 'ablo keys create')).toThrow('ablo keys create needs a database: --database-url <url> or --file <path.db>');
  });
});

test('redactUrl hides the password only', () => {
  expect(redactUrl('postgres://ablo:s3cr:et@db.internal:5432/app')).toBe('postgres://ablo:***@db.internal:5432/app');
  expect(redactUrl('postgresql://ablo@db/app')).toBe('postgresql://ablo@db/app');
});

test('jsonLogger writes one JSON object per line: level, msg, time, then the fields', () => {
  const lines: string[] = [];
  const log = jsonLogger((t) => lines.push(t), () => new Date('2026-11-30T06:00:00.000Z'));
  log('info', 'listening', { url: 'http://0.0.0.0:4100' });
  expect(lines).toEqual(['{"level":"info","msg":"listening","time":"2026-11-30T06:00:00.000Z","url":"http://0.0.0.0:4100"}\n']);
});
