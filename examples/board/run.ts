/**
 * `npm run example:board`: the board app with a person's browser and an agent
 * on one board. Starts, in this process:
 *
 *  - an engine on a temp SQLite file (port 4100, or --engine-port N; 0 = any free port),
 *    allowing browser pages from 127.0.0.1/localhost;
 *  - the app server (port 5180, or --port N): the built app and POST /api/ablo-token;
 *  - the agent `triage-bot`, working the "launch" board's tasks.
 *
 * Builds the app with Vite first (the repository's dist/ must exist: `npm run build`).
 * Ctrl+C stops everything and deletes the temp database (--keep keeps it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ablo from 'ablo';
import { createEngine } from 'ablo/engine';
import { generateApiKey } from 'ablo/engine';
import { runBoardAgent, seedBoard } from './agent.js';
import { schema } from './ablo.schema.js';
import { boardDir, buildBoardApp } from './build.js';
import { startBoardServer } from './server.js';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    process.stderr.write(`error: --${name} needs a port number (got ${process.argv[i + 1]})\n`);
    process.exit(2);
  }
  return n;
}

const boardId = 'launch';
const keep = process.argv.includes('--keep');
const dir = mkdtempSync(join(tmpdir(), 'ablo-board-'));
const apiKey = generateApiKey('test');

process.stdout.write('building the app (vite)…\n');
const staticDir = await buildBoardApp(join(boardDir, 'dist'));

const engine = await createEngine({
  file: join(dir, 'board.db'),
  port: option('engine-port', 4100),
  schema,
  devKey: apiKey,
  cors: { origins: ['http://127.0.0.1:*', 'http://localhost:*'] },
  log: () => {},
});
const app = await startBoardServer({ engineUrl: engine.url, apiKey, staticDir, port: option('port', 5180), boardId });

const agentName = 'triage-bot';
const agent = Ablo({ schema, apiKey, baseURL: engine.url, participant: { kind: 'agent', id: agentName }, syncGroups: [`board:${boardId}`] });
await agent.ready();
await seedBoard(agent, boardId);
const stop = new AbortController();
const agentDone = runBoardAgent(agent, { boardId, name: agentName, thinkMs: 4000, signal: stop.signal, log: (l) => process.stdout.write(`[${agentName}] ${l}\n`) });

process.stdout.write(
  [
    '',
    `engine   ${engine.url}`,
    `app      ${app.url}`,
    '',
    `Open ${app.url}/?user=ana and, in a second window, ${app.url}/?user=ben.`,
    `Add a task: ${agentName} claims it, thinks, and moves it to Done. Ctrl+C stops.`,
    '',
  ].join('\n'),
);

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  stop.abort();
  await agentDone.catch(() => {});
  await agent.dispose();
  await app.close();
  await engine.close();
  if (keep) process.stdout.write(`database kept in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
