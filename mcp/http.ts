/**
 * The engine's `/mcp` endpoint: MCP over Streamable HTTP, one stateful
 * session per `mcp-session-id`, behind the engine's bearer keys.
 *
 * - Every request needs `Authorization: Bearer <key>`; without a valid key the
 *   answer is 401 with the usual JSON error envelope.
 * - A session's tools call the engine's own HTTP API with the caller's key,
 *   so they see exactly what that key may see. A session is bound to the key
 *   that opened it.
 * - `Ablo-Participant: kind:id` on the initialize request names who the
 *   session's writes are attributed to (default `agent:mcp`).
 * - A session ends on DELETE, when its transport closes, after `idleMs`
 *   without a request or an open stream, or when the engine closes; its
 *   claims are released then.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import {
  AbloAuthenticationError,
  AbloError,
  AbloNotFoundError,
  AbloPermissionError,
  AbloServerError,
  AbloTooLargeError,
  AbloValidationError,
  toErrorEnvelope,
} from '../src/errors.js';
import { bearer, readBody } from '../src/engine/http.js';
import { createMcpServer, parseParticipant, type AbloMcpServer, type CreateMcpServerOptions } from './server.js';

export interface McpHttpHostOptions {
  /** Base URL of the engine's HTTP API that sessions call (the engine's own URL). */
  engineUrl: () => string;
  /** Check a bearer key; throws `AbloAuthenticationError` when it is missing, unknown or revoked. */
  authenticate: (key: string | undefined) => Promise<unknown>;
  /** Largest request body (default 4 MiB). */
  maxBodyBytes?: number;
  /** End a session after this long without a request or an open stream (default 10 minutes). */
  idleMs?: number;
  /** Options passed to `createMcpServer` for every session (tokenBudget, readOnly, models, ...). */
  server?: Omit<CreateMcpServerOptions, 'engineUrl' | 'apiKey' | 'participant'>;
  log?: (line: string) => void;
}

export interface McpHttpHost {
  /** Answer one request to `/mcp`. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Open sessions. */
  sessionCount(): number;
  /** Close every session and transport (claims are dropped with the engine, not released one by one). */
  close(): Promise<void>;
}

interface Session {
  id: string | undefined;
  keyHash: string;
  mcp: AbloMcpServer;
  transport: StreamableHTTPServerTransport;
  open: number;
  lastSeen: number;
  closed: boolean;
}

const SESSION_HEADER = 'mcp-session-id';

function sendEnvelope(res: ServerResponse, err: AbloError, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(toErrorEnvelope(err));
  res.writeHead(err.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBody(req, limit);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new AbloValidationError(`Request body is not valid JSON: ${(err as Error).message}`, { code: 'invalid_json' });
  }
}

function isInitialize(body: unknown): boolean {
  return Array.isArray(body) ? body.some((m) => isInitializeRequest(m)) : isInitializeRequest(body);
}

export function createMcpHttpHost(options: McpHttpHostOptions): McpHttpHost {
  const log = options.log ?? ((line: string) => void process.stderr.write(`[ablo mcp] ${line}\n`));
  const maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const idleMs = options.idleMs ?? 10 * 60_000;
  const sessions = new Map<string, Session>();
  const pending = new Set<Session>();
  let closing = false;

  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const s of sessions.values()) {
      if (s.open === 0 && now - s.lastSeen > idleMs) {
        log(`MCP session ${s.id} idle for ${Math.round((now - s.lastSeen) / 1000)} s; closing it`);
        void end(s, true);
      }
    }
  }, Math.min(30_000, Math.max(1000, Math.floor(idleMs / 4))));
  sweeper.unref();

  async function end(s: Session, releaseClaims: boolean): Promise<void> {
    if (s.closed) return;
    s.closed = true;
    if (s.id) sessions.delete(s.id);
    pending.delete(s);
    await s.mcp.close({ releaseClaims }).catch((err: Error) => log(`closing MCP session ${s.id}: ${err.message}`));
    await s.transport.close().catch(() => undefined);
  }

  function track(s: Session, res: ServerResponse): void {
    s.open++;
    s.lastSeen = Date.now();
    res.once('close', () => {
      s.open--;
      s.lastSeen = Date.now();
    });
  }

  async function open(req: IncomingMessage, res: ServerResponse, key: string, body: unknown): Promise<void> {
    const header = req.headers['ablo-participant'];
    const participant = typeof header === 'string' && header.length > 0 ? parseParticipant(header) : undefined;
    const mcp = await createMcpServer({
      ...(options.server ?? {}),
      engineUrl: options.engineUrl(),
      apiKey: key,
      ...(participant ? { participant } : {}),
      log,
    });
    const session: Session = {
      id: undefined,
      keyHash: createHash('sha256').update(key).digest('hex'),
      mcp,
      transport: undefined as never,
      open: 0,
      lastSeen: Date.now(),
      closed: false,
    };
    session.transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        session.id = id;
        pending.delete(session);
        if (closing) void end(session, false);
        else sessions.set(id, session);
      },
      onsessionclosed: () => void end(session, true),
    });
    session.transport.onclose = () => void end(session, true);
    pending.add(session);
    await mcp.server.connect(session.transport);
    track(session, res);
    await session.transport.handleRequest(req, res, body);
    // The initialize request failed (bad protocol version, ...): no session was made.
    if (!session.id) await end(session, false);
  }

  return {
    async handle(req, res) {
      res.setHeader('access-control-expose-headers', 'mcp-session-id, mcp-protocol-version, www-authenticate');
      if (closing) {
        sendEnvelope(res, new AbloServerError('The engine is shutting down.', { code: 'shutting_down' }));
        return;
      }
      const method = req.method ?? 'GET';
      if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') {
        sendEnvelope(res, new AbloValidationError(`/mcp takes POST, GET and DELETE, not ${method}.`, { code: 'method_not_allowed' }), { allow: 'GET, POST, DELETE' });
        return;
      }
      const key = bearer(req);
      try {
        await options.authenticate(key);
      } catch (err) {
        const e = err instanceof AbloError ? err : new AbloAuthenticationError();
        sendEnvelope(res, e, e.status === 401 ? { 'www-authenticate': 'Bearer realm="ablo"' } : {});
        return;
      }
      const sid = req.headers[SESSION_HEADER];
      const body = method === 'POST' ? await readJsonBody(req, maxBody) : undefined;
      if (typeof sid === 'string' && sid.length > 0) {
        const s = sessions.get(sid);
        if (!s) {
          sendEnvelope(
            res,
            new AbloNotFoundError(`No MCP session ${sid} (it ended or the engine restarted). Start a new one with an initialize request.`, { code: 'mcp_session_not_found' }),
          );
          return;
        }
        if (createHash('sha256').update(key!).digest('hex') !== s.keyHash) {
          sendEnvelope(res, new AbloPermissionError('This MCP session was opened with another API key.', { code: 'mcp_session_key_mismatch' }));
          return;
        }
        track(s, res);
        await s.transport.handleRequest(req, res, body);
        return;
      }
      if (method === 'POST' && isInitialize(body)) {
        await open(req, res, key!, body);
        return;
      }
      sendEnvelope(
        res,
        new AbloValidationError(`Missing ${SESSION_HEADER} header. Start a session with an initialize request (POST /mcp), then send its ${SESSION_HEADER} on every request.`, {
          code: 'mcp_session_required',
        }),
      );
    },
    sessionCount: () => sessions.size,
    async close() {
      closing = true;
      clearInterval(sweeper);
      const all = [...sessions.values(), ...pending];
      await Promise.all(all.map((s) => end(s, false)));
    },
  };
}
