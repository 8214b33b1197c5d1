/**
 * The board example (examples/board) under a real browser: Debian's Chromium
 * driven by playwright-core, the app built with Vite against dist/, a real
 * engine, the app server minting session tokens, and an agent client.
 *
 * Chromium comes from the system (`apt-get install chromium`; .ci/run installs it), never from
 * `npx playwright install`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { schema } from '../../examples/board/ablo.schema.js';
import { seedBoard } from '../../examples/board/agent.js';
import { buildBoardApp } from '../../examples/board/build.js';
import { startBoardServer, type BoardServer } from '../../examples/board/server.js';
import { Ablo } from '../../src/client/client.js';
import type { AbloClient } from '../../src/client/types.js';
import type { EngineOptions } from '../../src/engine/index.js';
import { startTestEngine, type TestEngine } from './engine.js';

export type BoardClient = AbloClient<typeof schema>;

/** The installed Chromium (`which chromium`), or an error saying how to get it. */
export function chromiumPath(): string {
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      const path = execFileSync('which', [name], { encoding: 'utf8' }).trim();
      if (path && existsSync(path)) return path;
    } catch {
      // not this name
    }
  }
  throw new Error('Chromium is not installed. Fix: apt-get update && apt-get install -y chromium (never `npx playwright install`).');
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

let built: { dir: string; done: Promise<string> } | null = null;

/** The app, built once per test file into a temp dir (removed by `removeBuiltApp`). */
export function builtApp(): Promise<string> {
  if (!built) {
    const dir = mkdtempSync(join(tmpdir(), 'ablo-board-app-'));
    built = { dir, done: buildBoardApp(dir) };
  }
  return built.done;
}

export function removeBuiltApp(): void {
  if (built) rmSync(built.dir, { recursive: true, force: true });
  built = null;
}

export interface BoardPage {
  page: Page;
  context: BrowserContext;
  user: string;
  /** Uncaught errors of the page (asserted empty when the stack stops). */
  errors: string[];
  card(id: string): ReturnType<Page['getByTestId']>;
  close(): Promise<void>;
}

export interface BoardStack {
  engine: TestEngine;
  app: BoardServer;
  boardId: string;
  /** The agent `triage-bot`, an SDK client on the board with the engine's secret key. */
  agent: BoardClient;
  /** A page signed in as `user`; waits for the board unless `waitReady: false`. */
  open(user: string, options?: { engineUrl?: string; waitReady?: boolean }): Promise<BoardPage>;
  /** Close pages, agent, app server and engine; fails when a page threw. */
  stop(): Promise<void>;
}

export async function startBoardStack(browser: Browser, engineOptions: Partial<EngineOptions> = {}): Promise<BoardStack> {
  const staticDir = await builtApp();
  const boardId = 'launch';
  const engine = await startTestEngine(schema, { cors: { origins: ['http://127.0.0.1:*'] }, ...engineOptions });
  const app = await startBoardServer({ engineUrl: engine.url, apiKey: engine.key, staticDir, boardId });
  const agent = Ablo({ schema, apiKey: engine.key, baseURL: engine.url, participant: { kind: 'agent', id: 'triage-bot' }, syncGroups: [`board:${boardId}`] });
  await agent.ready();
  await seedBoard(agent, boardId);
  const pages: BoardPage[] = [];

  const open = async (user: string, options: { engineUrl?: string; waitReady?: boolean } = {}): Promise<BoardPage> => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    const params = new URLSearchParams({ user, board: boardId, ...(options.engineUrl ? { engine: options.engineUrl } : {}) });
    await page.goto(`${app.url}/?${params}`);
    if (options.waitReady !== false) await expect.poll(() => page.getByTestId('board').getAttribute('data-ready'), { timeout: 20_000 }).toBe('true');
    const bp: BoardPage = {
      page,
      context,
      user,
      errors,
      card: (id) => page.getByTestId(`task-${id}`),
      close: async () => {
        const i = pages.indexOf(bp);
        if (i >= 0) pages.splice(i, 1);
        await context.close();
      },
    };
    pages.push(bp);
    return bp;
  };

  return {
    engine,
    app,
    boardId,
    agent,
    open,
    async stop() {
      const errors = pages.flatMap((p) => p.errors.map((e) => `${p.user}: ${e}`));
      for (const p of [...pages]) await p.close();
      await agent.dispose();
      await app.close();
      await engine.stop();
      expect(errors).toEqual([]);
    },
  };
}

/** Polls `fn` until it returns `expected` (deep equal). */
export function eventually<T>(fn: () => Promise<T> | T, expected: T, timeout = 15_000): Promise<void> {
  return expect.poll(fn, { timeout, interval: 100 }).toEqual(expected);
}

/**
 * For a test file: one Chromium for the file, a fresh stack (engine, app server, agent) per `stack()` call,
 * stopped after each test; the built app removed at the end.
 */
export function boardBrowser(): { stack(engineOptions?: Partial<EngineOptions>): Promise<BoardStack> } {
  let browser: Browser | null = null;
  const stacks: BoardStack[] = [];
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterEach(async () => {
    for (const s of stacks.splice(0)) await s.stop();
  });
  afterAll(async () => {
    await browser?.close();
    removeBuiltApp();
  });
  return {
    async stack(engineOptions = {}) {
      if (!browser) throw new Error('boardBrowser(): the browser is not launched (call stack() inside a test)');
      const s = await startBoardStack(browser, engineOptions);
      stacks.push(s);
      return s;
    },
  };
}

/** The id of the one task titled `title`, once the engine has it. */
export async function taskIdByTitle(s: BoardStack, title: string): Promise<string> {
  await eventually(async () => (await s.agent.tasks.list({ where: { title } })).data.length, 1);
  return (await s.agent.tasks.list({ where: { title } })).data[0]!.id;
}

/** How many changes the engine's change log holds for one task (`GET /v1/changes?model=tasks&id=`). */
export async function changeCount(s: BoardStack, id: string): Promise<number> {
  const res = await s.engine.http('GET', `/v1/changes?model=tasks&id=${encodeURIComponent(id)}&limit=1000`);
  if (res.status !== 200) throw new Error(`GET /v1/changes answered ${res.status}: ${JSON.stringify(res.body)}`);
  return (res.body as { data: unknown[] }).data.length;
}
