/**
 * `ablo mcp`: one MCP session over stdin/stdout. stdout carries only
 * protocol messages; every log line goes to stderr. The session ends when
 * stdin closes, on SIGINT/SIGTERM/SIGHUP, or when the transport closes; its
 * claims are released before the promise resolves.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createMcpServer, type AbloMcpServer, type CreateMcpServerOptions } from './server.js';

export interface StdioSession {
  mcp: AbloMcpServer;
  /** Resolves when the session has ended and its claims are released. */
  done: Promise<void>;
  /** End the session now. */
  stop(): Promise<void>;
}

/**
 * Start the server on this process's stdio. Rejects (before anything is
 * written to stdout) when the engine cannot be reached, refuses the key, or a
 * model / tool name is unknown.
 */
export async function serveStdio(
  options: CreateMcpServerOptions,
  io: { stdin?: NodeJS.ReadableStream; stdout?: NodeJS.WritableStream } = {},
): Promise<StdioSession> {
  const stdin = io.stdin ?? process.stdin;
  const stdout = io.stdout ?? process.stdout;
  const log = options.log ?? ((line: string) => void process.stderr.write(`[ablo mcp] ${line}\n`));
  const mcp = await createMcpServer({ ...options, log });

  // Anything that would print to stdout (a stray console.log) goes to stderr instead.
  const restoreConsole = guardConsole();
  const transport = new StdioServerTransport(stdin as never, stdout as never);

  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      stdin.off('end', onEnd);
      stdin.off('close', onEnd);
      for (const sig of SIGNALS) process.off(sig, onSignal);
      stdout.off?.('error', onStdoutError);
      await mcp.close();
      restoreConsole();
      finish();
    })();
    return stopping;
  };
  const onEnd = (): void => void stop();
  const onSignal = (): void => void stop();
  // The client went away mid-write: end the session rather than crash.
  const onStdoutError = (): void => void stop();

  stdin.on('end', onEnd);
  stdin.on('close', onEnd);
  for (const sig of SIGNALS) process.on(sig, onSignal);
  stdout.on?.('error', onStdoutError);
  await mcp.server.connect(transport);
  // Closing the transport (or the server) ends the session.
  const chained = transport.onclose;
  transport.onclose = () => {
    chained?.();
    void stop();
  };
  log(`serving ${mcp.tools.length} tools for ${mcp.models.length} model(s) on stdio (engine ${options.engineUrl}${options.readOnly ? ', read-only' : ''}; ${describeCredential(mcp)})`);
  return { mcp, done, stop };
}

/** `secret key acting as agent:mcp`, `session acting as user:ana; groups user:ana; may read` */
function describeCredential(mcp: AbloMcpServer): string {
  const p = mcp.principal;
  const who = `${mcp.participant.kind}:${mcp.participant.id}`;
  if (!p) return `acting as ${who}`;
  const kind = mcp.session() ? 'own session' : p.kind === 'secret' ? 'secret key' : p.kind === 'restricted' ? 'restricted key' : p.kind;
  const groups = p.groups === 'all' ? '' : `; groups ${p.groups.join(', ') || 'none'}`;
  const withheld = Object.keys(mcp.withheld).length;
  return `${kind} acting as ${who}${groups}; may ${p.operations.join(', ')}${withheld ? `; ${withheld} tool(s) withheld` : ''}`;
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function guardConsole(): () => void {
  const saved = { log: console.log, info: console.info, debug: console.debug };
  const toStderr = (...args: unknown[]): void => console.error(...args);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
  return () => {
    console.log = saved.log;
    console.info = saved.info;
    console.debug = saved.debug;
  };
}
