/**
 * People in the browser (issue 16): examples/board in Chromium (Debian's, via
 * playwright-core), on a real engine in this process.
 *
 *   npm run bench -- browser [--samples 50] [--renders 10]
 *
 * Cases (one JSON line each):
 *  - `first_render`: navigation start → the board on screen (the app's `ablo-board-ready`
 *    performance mark: token fetched, socket open, board bootstrapped, React committed), a fresh
 *    browser context (no cache) per sample.
 *  - `page_to_page`: page A's title edit (the Enter keydown, timed in A) → the new title in B's DOM
 *    (a MutationObserver in B). Both pages share the machine's clock (`timeOrigin + now()`).
 *  - `sdk_node`: the same edit between two SDK clients in Node on the same engine (update → B's
 *    `subscribe` listener): the baseline, measured in the same run.
 *  - `ratio`: page_to_page ÷ sdk_node at p50 and p99 (what the browser, React and the DOM add).
 *  - `bundle`: the built app's JavaScript, bytes and gzip bytes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createJiti } from 'jiti';
import { importDist, root, waitForDist } from './lib/dist.js';
import { option } from './lib/scope.js';
import { round, summarize } from './lib/stats.js';

export const description = 'Board example in Chromium: first render, page-to-page edit latency vs two SDK clients in Node';

function emit(line) {
  process.stdout.write(`${JSON.stringify({ bench: 'browser', ...line })}\n`);
}

function progress(text) {
  process.stderr.write(`[bench browser] ${text}\n`);
}

function chromiumPath() {
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      const path = execFileSync('which', [name], { encoding: 'utf8' }).trim();
      if (path) return path;
    } catch {
      // not this name
    }
  }
  return null;
}

const stats = (values) => {
  const s = summarize(values);
  return { count: s.count, p50: round(s.p50), p99: round(s.p99), max: round(s.max), mean: round(s.mean) };
};

export default async function browserBench(args) {
  const samples = option(args, '--samples', 50);
  const renders = option(args, '--renders', 10);
  const executablePath = chromiumPath();
  if (!executablePath) {
    process.stderr.write('error: Chromium is not installed\nfix: apt-get update && apt-get install -y chromium\n');
    return 1;
  }
  if (!(await waitForDist(['src/index.js', 'src/engine/index.js', 'src/react/index.js']))) {
    process.stderr.write('error: dist/ is missing\nfix: npm run build\n');
    return 1;
  }
  const { chromium } = await import('playwright-core');
  const { createEngine, generateApiKey } = await importDist('src/engine/index.js');
  const { Ablo } = await importDist('src/index.js');
  // The example's TypeScript (its `ablo` imports resolve to dist/, the package's own exports).
  const jiti = createJiti(import.meta.url, { moduleCache: true });
  const { schema } = await jiti.import(join(root, 'examples/board/ablo.schema.ts'));
  const { seedBoard } = await jiti.import(join(root, 'examples/board/agent.ts'));
  const { buildBoardApp } = await jiti.import(join(root, 'examples/board/build.ts'));
  const { startBoardServer } = await jiti.import(join(root, 'examples/board/server.ts'));

  const dir = mkdtempSync(join(tmpdir(), 'ablo-bench-browser-'));
  const cleanup = [];
  try {
    progress('building the app');
    const staticDir = await buildBoardApp(join(dir, 'app'));
    const js = readdirSync(join(staticDir, 'assets')).filter((f) => f.endsWith('.js'));
    const bytes = js.map((f) => readFileSync(join(staticDir, 'assets', f)));
    emit({ case: 'bundle', files: js.length, bytes: bytes.reduce((n, b) => n + b.length, 0), gzipBytes: bytes.reduce((n, b) => n + gzipSync(b).length, 0) });

    const apiKey = generateApiKey('test');
    const engine = await createEngine({ file: join(dir, 'bench.db'), port: 0, schema, devKey: apiKey, cors: { origins: ['http://127.0.0.1:*'] }, log: () => {} });
    cleanup.push(() => engine.close());
    const app = await startBoardServer({ engineUrl: engine.url, apiKey, staticDir });
    cleanup.push(() => app.close());
    const seeder = Ablo({ schema, apiKey, baseURL: engine.url, syncGroups: ['board:launch'] });
    cleanup.push(() => seeder.dispose());
    await seeder.ready();
    await seedBoard(seeder, 'launch');

    const browser = await chromium.launch({
      executablePath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    cleanup.push(() => browser.close());
    const open = async (user) => {
      const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
      const page = await context.newPage();
      await page.goto(`${app.url}/?user=${user}&board=launch`);
      await page.waitForSelector('[data-testid=board][data-ready=true] [data-testid=task-launch-1]', { timeout: 30_000 });
      return { context, page };
    };

    // first_render
    progress(`first render × ${renders}`);
    const firstRender = [];
    for (let i = 0; i < renders; i++) {
      const { context, page } = await open(`render${i}`);
      firstRender.push(await page.evaluate(() => performance.getEntriesByName('ablo-board-ready')[0]?.startTime ?? NaN));
      await context.close();
    }
    emit({ case: 'first_render', unit: 'ms', ...stats(firstRender) });

    // page_to_page
    progress(`page to page × ${samples}`);
    const a = await open('ana');
    const b = await open('ben');
    cleanup.push(() => a.context.close(), () => b.context.close());
    await a.page.evaluate(() => {
      document.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && e.target instanceof HTMLInputElement && e.target.dataset.testid === 'title-input') window.__sentAt = performance.timeOrigin + performance.now();
      }, true);
    });
    await b.page.evaluate(() => {
      window.__seen = {};
      const observer = new MutationObserver(() => {
        const text = document.querySelector('[data-testid=task-launch-1] [data-testid=task-title]')?.textContent;
        if (text && !(text in window.__seen)) window.__seen[text] = performance.timeOrigin + performance.now();
      });
      observer.observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const pageToPage = [];
    const warmup = 5;
    for (let i = 0; i < samples + warmup; i++) {
      const title = `edit ${i} from the browser`;
      const card = a.page.getByTestId('task-launch-1');
      await card.getByTestId('edit').click();
      await card.getByTestId('title-input').fill(title);
      await card.getByTestId('title-input').press('Enter');
      const seenAt = await b.page.waitForFunction((t) => window.__seen[t], title, { timeout: 15_000, polling: 20 }).then((h) => h.jsonValue());
      const sentAt = await a.page.evaluate(() => window.__sentAt);
      if (i >= warmup) pageToPage.push(seenAt - sentAt);
    }
    emit({ case: 'page_to_page', unit: 'ms', ...stats(pageToPage) });

    // sdk_node: the same edit between two SDK clients in this process.
    progress(`sdk in node × ${samples}`);
    const na = Ablo({ schema, apiKey, baseURL: engine.url, participant: { kind: 'user', id: 'node-a' }, syncGroups: ['board:launch'] });
    const nb = Ablo({ schema, apiKey, baseURL: engine.url, participant: { kind: 'user', id: 'node-b' }, syncGroups: ['board:launch'] });
    cleanup.push(() => na.dispose(), () => nb.dispose());
    await Promise.all([na.ready(), nb.ready()]);
    const sdkNode = [];
    for (let i = 0; i < samples + warmup; i++) {
      const title = `edit ${i} from node`;
      const seen = new Promise((resolve) => {
        const off = nb.subscribe(
          (c) => c.tasks.get('launch-2')?.title,
          (t) => {
            if (t === title) {
              off();
              resolve(performance.now());
            }
          },
        );
      });
      const sentAt = performance.now();
      await na.tasks.update({ id: 'launch-2', data: { title }, readAt: na.snapshot().stamp, onStale: 'notify' });
      const seenAt = await seen;
      if (i >= warmup) sdkNode.push(seenAt - sentAt);
    }
    const node = stats(sdkNode);
    emit({ case: 'sdk_node', unit: 'ms', ...node });
    const browserStats = stats(pageToPage);
    emit({ case: 'ratio', p50: round(browserStats.p50 / node.p50), p99: round(browserStats.p99 / node.p99), note: 'page_to_page ÷ sdk_node' });
    return 0;
  } finally {
    for (const fn of cleanup.reverse()) await Promise.resolve().then(fn).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}
