/**
 * The published package next to an app's React, 18 and 19: `npm pack` once,
 * install the tarball into two fresh projects (one with react@18 +
 * react-dom@18, one with react@19 + react-dom@19), and in each
 *
 * - a script starts a real engine (`ablo/testing`), writes a row with the
 *   SDK and renders `AbloProvider` + `useAblo` with that project's React
 *   (react-dom/server): the row's title is in the HTML and React logs no error;
 * - `ablo dev` runs its live view in a terminal (a PTY) from the installed
 *   package: the CLI draws with its own bundled ink and React, whatever React
 *   the app has.
 *
 * A third project has no React at all (an agent's or a server's): npm
 * installs none, and `ablo dev`'s view runs there too.
 *
 * npm installs from the shared cache (`--prefer-offline`; React 18 comes from
 * the registry the first time). `--ignore-scripts` skips better-sqlite3's
 * native build (minutes, and not what this test is about); its compiled addon
 * is copied from this repository's install of the same version instead.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, type TestContext } from 'vitest';
import { cleanEnv, repoRoot, startCliInPty, type Background } from '../helpers/tempProject.js';
import { assertDistFresh } from '../setup/dist-stamp.mjs';

const REACT_MAJORS = [18, 19] as const;
type Major = (typeof REACT_MAJORS)[number];
/** A project per React major, and one without React (an agent's or a server's): react is an optional peer. */
type AppReact = Major | 'none';
const APPS: AppReact[] = [...REACT_MAJORS, 'none'];

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env: cleanEnv(), timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed in ${cwd}: ${err.message}\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> & { version: string };

/** The app's script: engine, a row, then the hook rendered with the app's React. */
const RENDER_SCRIPT = `import { createElement, version as reactVersion } from 'react';
import { renderToString, version as reactDomVersion } from 'react-dom/server';
import Ablo from 'ablo';
import { defineSchema, model, z } from 'ablo/schema';
import { AbloProvider, useAblo } from 'ablo/react';
import { startTestEngine } from 'ablo/testing';

const errors = [];
const logError = console.error;
console.error = (...args) => {
  errors.push(args.map(String).join(' '));
  logError(...args);
};

const schema = defineSchema({ tasks: model({ title: z.string(), done: z.boolean().default(false) }) });
const engine = await startTestEngine({ schema });
const ablo = Ablo({ schema, apiKey: engine.apiKey, baseURL: engine.url });
let html;
try {
  await ablo.ready();
  await ablo.tasks.create({ data: { title: 'Ship with React ' + reactVersion } });
  function Titles() {
    const titles = useAblo((a) => a.tasks.getAll().map((t) => t.title));
    return createElement('ul', null, titles.map((t) => createElement('li', { key: t }, t)));
  }
  html = renderToString(createElement(AbloProvider, { client: ablo }, createElement(Titles)));
} finally {
  await ablo.dispose();
  await engine.stop();
}
process.stdout.write(JSON.stringify({ reactVersion, reactDomVersion, html, errors }) + '\\n');
`;

const SCHEMA = `import { defineSchema, model, z } from 'ablo/schema';

export const schema = defineSchema({
  tasks: model({
    title: z.string(),
    done: z.boolean().default(false),
  }),
});
`;

let work: string;
const projects = new Map<AppReact, string>();

beforeAll(async () => {
  assertDistFresh();
  work = mkdtempSync(join(tmpdir(), 'ablo-react-peer-'));
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], repoRoot, 60_000);
  const tarball = join(work, (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename);
  const sqlite = join(repoRoot, 'node_modules/better-sqlite3');
  const addon = join(sqlite, 'build/Release/better_sqlite3.node');
  await Promise.all(
    APPS.map(async (major) => {
      const dir = join(work, `react${major}`);
      mkdirSync(dir);
      const react = major === 'none' ? {} : { react: `^${major}`, 'react-dom': `^${major}` };
      writeFileSync(
        join(dir, 'package.json'),
        JSON.stringify({ name: `app-react${major}`, private: true, type: 'module', dependencies: { ablo: `file:${tarball}`, ...react } }, null, 2),
      );
      if (major !== 'none') writeFileSync(join(dir, 'render.mjs'), RENDER_SCRIPT);
      writeFileSync(join(dir, 'ablo.schema.ts'), SCHEMA);
      await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], dir, 150_000);
      const installed = join(dir, 'node_modules/better-sqlite3');
      if (readJson(join(installed, 'package.json')).version !== readJson(join(sqlite, 'package.json')).version) {
        throw new Error(`better-sqlite3 in ${dir} is not the version of this repository's install: its native addon cannot be copied`);
      }
      mkdirSync(join(installed, 'build/Release'), { recursive: true });
      copyFileSync(addon, join(installed, 'build/Release/better_sqlite3.node'));
      projects.set(major, dir);
    }),
  );
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function track(ctx: TestContext, b: Background): Background {
  ctx.onTestFinished(() => b.stop('SIGKILL').then(() => undefined));
  return b;
}

describe.concurrent.each(REACT_MAJORS)('the packed ablo in an app on React %i', (major) => {
  test('npm installs no React or ink of ablo\'s own: the app\'s React is the only one', ({ expect }) => {
    const dir = projects.get(major)!;
    expect(readJson(join(dir, 'node_modules/react/package.json')).version).toMatch(new RegExp(`^${major}\\.`));
    expect(readJson(join(dir, 'node_modules/react-dom/package.json')).version).toMatch(new RegExp(`^${major}\\.`));
    for (const name of ['react', 'react-dom', 'ink', 'react-reconciler']) {
      expect(existsSync(join(dir, 'node_modules/ablo/node_modules', name)), `node_modules/ablo/node_modules/${name}`).toBe(false);
    }
    // ink (and the React the CLI draws with) is inside the CLI's build, not installed.
    expect(existsSync(join(dir, 'node_modules/ink'))).toBe(false);
    expect(readJson(join(dir, 'node_modules/ablo/package.json')).peerDependenciesMeta).toEqual({ react: { optional: true } });
  });

  test('useAblo renders a row written through a real engine with the app\'s React', async ({ expect }) => {
    const dir = projects.get(major)!;
    const { stdout } = await run(process.execPath, ['render.mjs'], dir, 30_000);
    const out = JSON.parse(stdout.trim().split('\n').pop()!) as { reactVersion: string; reactDomVersion: string; html: string; errors: string[] };
    expect(out.reactVersion).toMatch(new RegExp(`^${major}\\.`));
    expect(out.reactDomVersion).toBe(out.reactVersion);
    expect(out.html).toBe(`<ul><li>Ship with React ${out.reactVersion}</li></ul>`);
    expect(out.errors).toEqual([]);
  });
});

test('an app without React installs none: react is an optional peer', () => {
  const dir = projects.get('none')!;
  expect(existsSync(join(dir, 'node_modules/ablo/dist/src/index.js'))).toBe(true);
  for (const name of ['react', 'react-dom', 'ink', 'react-reconciler']) expect(existsSync(join(dir, 'node_modules', name)), `node_modules/${name}`).toBe(false);
});

describe.concurrent.each(APPS)('ablo dev from the packed package in an app with React: %s', (major) => {
  test('ablo dev draws its live view from the installed package, and q stops it', async (ctx) => {
    const { expect } = ctx;
    const dir = projects.get(major)!;
    // The engine and the view share nothing with the app's React (or its absence).
    const s = track(ctx, startCliInPty(['dev', '--port', '0', '--no-watch'], dir, { cols: 110, bin: join(dir, 'node_modules/.bin/ablo') }));
    const url = (await s.waitFor(/ablo dev ready at (http:\/\/127\.0\.0\.1:\d+)/, 30_000))[1]!;
    await s.waitFor(/connections 0 · commits\/s 0\.0 · last sync id 0 · commits 0/);
    // The view is live: a commit through the engine shows up in it.
    const key = /ABLO_API_KEY=(\S+)/.exec(readFileSync(join(dir, '.env.local'), 'utf8'))![1]!;
    const res = await fetch(`${url}/v1/models/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'a', data: { title: 'from the test' } }),
    });
    expect(res.status).toBe(201);
    await s.waitFor(/last sync id 1 · commits 1/);
    s.write('q');
    expect(await s.exited).toEqual({ code: 0, signal: null });
    expect(s.stdout()).not.toMatch(/Invalid hook call|useContext|Error:/);
  });
});
