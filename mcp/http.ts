/**
 * The engine's `/mcp` endpoint: MCP over Streamable HTTP, one stateful
 * session per `mcp-session-id`, behind the engine's bearer keys.
 *
 * - Every request needs `Authorization: Bearer <key>`, checked once per
 *   request by the engine's authenticator; without a valid credential the
 *   answer is 401 with the usual JSON error envelope.
 * - A session's tools call the engine's own HTTP API with the caller's
 *   credential (an API key or a session token), so they see exactly what it
 *   may see (the HTTP guard checks each call's operation and groups), and
 *   only the tools it may use are listed (`GET /v1/me`, ./credential.ts). A
 *   session is bound to the credential that opened it.
 * - `Ablo-Participant: kind:id` on the initialize request names who the
 *   session's writes are attributed to (default `agent:mcp`; a secret key
 *   only: a restricted key or session token acts as its own participant).
 * - A session ends on DELETE, when its transport closes, after `idleMs`
 *   without a request or an open stream, when its key is revoked
 *   (`revokeKey`), or when the engine closes; its claims are released then.
 * - Sessions are capped per key (`maxSessionsPerKey`, default 32) and in
 *   total (`maxSessions`, default 256). A new session over a cap evicts the
 *   key's least-recently-used idle session (no request or tool call running,
 *   e.g. a claim waiting its turn; sessions holding no claim and no place in line go first); when
 *   the key has none, the answer is 429 `mcp_session_limit` with
 *   `Retry-After`. A request to an evicted session gets 404, like any unknown
 *   session, so the client starts a new one.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { AbloAuthenticationError, AbloError, abloError, AbloNotFoundError, AbloRateLimitError, AbloValidationError, toErrorEnvelope } from '../src/errors.js';
import { bearer, readBody } from '../src/http/server.js';
import { sessionLimits } from './route.js';
import { createMcpServer, parseParticipant, type AbloMcpServer, type CreateMcpServerOptions } from './server.js';

export interface McpHttpHostOptions {
  /** Base URL of the engine's HTTP API that sessions call (the engine's own URL). */
  engineUrl: () => string;
  /**
   * The engine's authenticator: the caller's principal (its `credentialId`
   * binds the session and is what `revokeKey` matches); throws
   * `AbloAuthenticationError` when the credential is missing, unknown, revoked or expired.
   */
  authenticate: (key: string | undefined) => Promise<{ credentialId: string }>;
  /** Largest request body (default 4 MiB). */
  maxBodyBytes?: number;
  /** End a session after this long without a request or an open stream (default 10 minutes). */
  idleMs?: number;
  /** Most sessions one API key may have open (default 32). */
  maxSessionsPerKey?: number;
  /** Most sessions open in total, over every key (default 256). */
  maxSessions?: number;
  /** Options passed to `createMcpServer` for every session (tokenBudget, readOnly, models, ...). */
  server?: Omit<CreateMcpServerOptions, 'engineUrl' | 'apiKey' | 'participant' | 'session'>;
  log?: (line: string) => void;
}

export interface McpHttpHost {
  /** Answer one request to `/mcp`. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Open sessions (of one key, by key id or sha256 hex of the key, when given). */
  sessionCount(key?: string): number;
  /**
   * Close every session opened with this key — by key id (`key_…`) or by the
   * sha256 hex of the key — releasing their claims. Resolves with how many
   * were closed. Call it when the key is revoked.
   */
  revokeKey(key: string): Promise<number>;
  /** Close every session and transport (claims are dropped with the engine, not released one by one). */
  close(): Promise<void>;
}

interface Session {
  id: string | undefined;
  keyHash: string;
  /** The credential's id (`Principal.credentialId`; `key_…` for API keys). */
  keyId: string;
  /** Null while the server is being made (the initialize request is running). */
  mcp: AbloMcpServer | null;
  transport: StreamableHTTPServerTransport | null;
  /** Requests and streams open on this session (the idle sweep waits for 0). */
  open: number;
  /** POST/DELETE requests running (a standalone GET stream does not count): eviction waits for 0. */
  requests: number;
  lastSeen: number;
  closed: boolean;
}

const SESSION_HEADER = 'mcp-session-id';
/** Seconds a client refused for the session cap should wait before trying again. */
const LIMIT_RETRY_AFTER_SECONDS = 5;

const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

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

/**
 * Long on purpose (~215 lines): it is a module in closure form. Its body is
 * the host's private state (sessions, caps, the idle sweeper) and a handful
 * of small inner functions over that state (end, track, evictable, admit,
 * open, handle), none of them long; splitting it would pass that state around.
 */
export function createMcpHttpHost(options: McpHttpHostOptions): McpHttpHost {
  const log = options.log ?? ((line: string) => void process.stderr.write(`[ablo mcp] ${line}\n`));
  const maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const idleMs = options.idleMs ?? 10 * 60_000;
  const { perKey: perKeyCap, total: totalCap } = sessionLimits(options);
  const sessions = new Map<string, Session>();
  const pending = new Set<Session>();
  /** Every live session (made or being made) by key hash: what the caps count. */
  const byKey = new Map<string, Set<Session>>();
  let live = 0;
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

  /** Forget the session (synchronously, so the caps see it gone at once), then close its server and transport. */
  async function end(s: Session, releaseClaims: boolean): Promise<void> {
    if (s.closed) return;
    s.closed = true;
    if (s.id) sessions.delete(s.id);
    pending.delete(s);
    const mine = byKey.get(s.keyHash);
    if (mine?.delete(s)) {
      live--;
      if (mine.size === 0) byKey.delete(s.keyHash);
    }
    await s.mcp?.close({ releaseClaims }).catch((err: Error) => log(`closing MCP session ${s.id}: ${err.message}`));
    await s.transport?.close().catch(() => undefined);
  }

  function track(s: Session, req: IncomingMessage, res: ServerResponse): void {
    const request = req.method !== 'GET';
    s.open++;
    if (request) s.requests++;
    s.lastSeen = Date.now();
    res.once('close', () => {
      s.open--;
      if (request) s.requests--;
      s.lastSeen = Date.now();
    });
  }

  /** The session of these to evict: idle (nothing running), holding no claim or place in line if any such, least recently used. */
  function evictable(candidates: Iterable<Session>): Session | undefined {
    let best: Session | undefined;
    let bestClaims = false;
    for (const s of candidates) {
      if (s.closed || !s.id || !s.mcp || s.requests > 0 || s.mcp.callsInFlight() > 0) continue;
      // A place kept in line is worth as much as a claim: evicting the session would give it up.
      const claims = s.mcp.claims().length > 0 || s.mcp.places().length > 0;
      if (!best || (bestClaims && !claims) || (bestClaims === claims && s.lastSeen < best.lastSeen)) {
        best = s;
        bestClaims = claims;
      }
    }
    return best;
  }

  /**
   * Make room for one more session of this key, synchronously (so concurrent
   * initialize requests cannot all pass): evict the key's LRU idle session
   * when a cap is reached; the refusal when there is none.
   */
  function admit(keyHash: string): AbloRateLimitError | null {
    const mine = byKey.get(keyHash);
    for (const [scope, count, cap] of [
      ['key', () => mine?.size ?? 0, perKeyCap],
      ['total', () => live, totalCap],
    ] as const) {
      if (count() < cap) continue;
      const victim = mine ? evictable(mine) : undefined;
      if (!victim) {
        const what = scope === 'key' ? `This API key has ${cap} MCP sessions open (the most one key may have)` : `The engine has ${cap} MCP sessions open (the most it keeps)`;
        return new AbloRateLimitError(
          `${what}, and ${scope === 'key' ? 'every one is busy' : 'none of them is an idle one of this key'}. End a session you no longer use (DELETE /mcp with its mcp-session-id) or retry after ${LIMIT_RETRY_AFTER_SECONDS} s.`,
          { code: 'mcp_session_limit', scope, limit: cap, retryAfterSeconds: LIMIT_RETRY_AFTER_SECONDS },
        );
      }
      log(`MCP session ${victim.id} evicted (idle ${Math.round((Date.now() - victim.lastSeen) / 1000)} s): ${scope === 'key' ? 'its key' : 'the engine'} reached ${cap} sessions`);
      void end(victim, true);
    }
    return null;
  }

  async function open(req: IncomingMessage, res: ServerResponse, key: string, keyId: string, body: unknown): Promise<void> {
    const header = req.headers['ablo-participant'];
    const participant = typeof header === 'string' && header.length > 0 ? parseParticipant(header) : undefined;
    const keyHash = hashKey(key);
    const refused = admit(keyHash);
    if (refused) {
      sendEnvelope(res, refused, { 'retry-after': String(LIMIT_RETRY_AFTER_SECONDS) });
      return;
    }
    const session: Session = { id: undefined, keyHash, keyId, mcp: null, transport: null, open: 0, requests: 0, lastSeen: Date.now(), closed: false };
    // Counted from now on (busy, so never evicted while it is being made).
    pending.add(session);
    let mine = byKey.get(keyHash);
    if (!mine) byKey.set(keyHash, (mine = new Set()));
    mine.add(session);
    live++;
    track(session, req, res);
    let mcp: AbloMcpServer;
    try {
      mcp = await createMcpServer({
        ...(options.server ?? {}),
        engineUrl: options.engineUrl(),
        apiKey: key,
        ...(participant ? { participant } : {}),
        log,
      });
    } catch (err) {
      await end(session, false);
      throw err;
    }
    session.mcp = mcp;
    if (session.closed) {
      // The engine closed (or the key was revoked) while the server was being made.
      await mcp.close({ releaseClaims: false });
      sendEnvelope(res, abloError('mcp_session_closed'));
      return;
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        session.id = id;
        pending.delete(session);
        // Evicted or revoked while the initialize request ran: it is already forgotten.
        if (session.closed) return;
        if (closing) void end(session, false);
        else sessions.set(id, session);
      },
      onsessionclosed: () => void end(session, true),
    });
    session.transport = transport;
    transport.onclose = () => void end(session, true);
    await mcp.server.connect(transport);
    await transport.handleRequest(req, res, body);
    // The initialize request failed (bad protocol version, ...): no session was made.
    if (!session.id) await end(session, false);
  }

  return {
    async handle(req, res) {
      res.setHeader('access-control-expose-headers', 'mcp-session-id, mcp-protocol-version, www-authenticate');
      if (closing) {
        sendEnvelope(res, abloError('shutting_down'));
        return;
      }
      const method = req.method ?? 'GET';
      if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') {
        sendEnvelope(res, new AbloValidationError(`/mcp takes POST, GET and DELETE, not ${method}.`, { code: 'method_not_allowed' }), { allow: 'GET, POST, DELETE' });
        return;
      }
      const key = bearer(req);
      let keyId: string;
      try {
        // Once per request: the principal's credential id binds (and, on revocation, ends) the session.
        keyId = (await options.authenticate(key)).credentialId;
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
        if (hashKey(key!) !== s.keyHash) {
          sendEnvelope(res, abloError('mcp_session_key_mismatch'));
          return;
        }
        track(s, req, res);
        await s.transport!.handleRequest(req, res, body);
        return;
      }
      if (method === 'POST' && isInitialize(body)) {
        await open(req, res, key!, keyId, body);
        return;
      }
      sendEnvelope(
        res,
        new AbloValidationError(`Missing ${SESSION_HEADER} header. Start a session with an initialize request (POST /mcp), then send its ${SESSION_HEADER} on every request.`, {
          code: 'mcp_session_required',
        }),
      );
    },
    sessionCount: (key) => (key === undefined ? sessions.size : [...sessions.values()].filter((s) => s.keyId === key || s.keyHash === key).length),
    async revokeKey(key) {
      const mine = [...pending, ...sessions.values()].filter((s) => s.keyId === key || s.keyHash === key);
      if (mine.length > 0) log(`closing ${mine.length} MCP session(s) of a revoked key`);
      await Promise.all(mine.map((s) => end(s, true)));
      return mine.length;
    },
    async close() {
      closing = true;
      clearInterval(sweeper);
      const all = [...sessions.values(), ...pending];
      await Promise.all(all.map((s) => end(s, false)));
    },
  };
}
