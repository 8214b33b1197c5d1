/**
 * The HTTP plumbing of the engine (SPEC §3): CORS, the URL, authentication,
 * JSON bodies and answers, the error envelope `{ error: { type, code,
 * message, ...details } }`, and dispatch over the route table. The routes
 * themselves are one module per resource in ./routes/ (see routes/index.ts);
 * extra routes come from `createEngine({ routes })`.
 *
 * Dispatch: open routes (health, the OpenAPI document, `/mcp`) are matched
 * first, on the path as sent; every other request needs
 * `Authorization: Bearer <key>` (checked in one place, `authenticate` below)
 * before its route is looked up, so an unknown path without a key is a 401.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { AbloError, abloError, AbloNotFoundError, AbloServerError, AbloValidationError, toErrorEnvelope } from '../errors.js';
import { readBody } from '../http/server.js';
import { participantSchema, type ParticipantRef } from '../protocol/commit.js';
import { parseWire } from '../protocol/parse.js';
import { JSON_ENVELOPE, MAX_JSON_DEPTH, parseJson, stringifyJson } from '../protocol/json.js';
import type { CompiledSchema } from '../schema/compile.js';
import { httpOperation, type Guard } from './auth/guard.js';
import { actingAs, type Actor, type Principal } from './auth/principal.js';
import { isCommitRequest, retryAfterSeconds, type RateLimiter } from './auth/rateLimits.js';
import type { SessionAuthenticator } from './auth/sessions.js';
import type { CommitPipeline } from './commit.js';
import type { DrainState } from './drain.js';
import type { JsonBodyOptions, OpenRouteRequest, Route, RouteRequest } from './routes/types.js';
import type { RetentionSettings } from './retention.js';
import type { SchemaService } from './schemaService.js';
import type { SchemaWaits } from './schemaWaits.js';
import type { ApiKeyRecord, Storage } from './storage/types.js';
import type { OriginPolicy } from '../http/origins.js';

export { bearer, readBody } from '../http/server.js';
import { bearer } from '../http/server.js';

export interface HttpContext {
  storage: Storage;
  pipeline: CommitPipeline;
  schema: SchemaService;
  version: string;
  maxBodyBytes: number;
  /** Retention in force (`GET /v1/health` shows it). */
  retention: RetentionSettings;
  connections: () => number;
  openapi: (schema: CompiledSchema | null, serverUrl: string) => Record<string, unknown>;
  /** Authenticates every request once and checks its operation and groups (./auth/guard.ts). */
  guard: Guard;
  /** Claim check for writes made over HTTP; `headers` carry `Ablo-Claim` (the claims the writer holds). */
  claimCheck?: (participant: ParticipantRef, headers: IncomingHttpHeaders) => ((model: string, id: string) => void | Promise<void>) | undefined;
  /** Mints, verifies and revokes session tokens (`/v1/sessions`); absent when the engine runs with its own authenticator. */
  sessions?: SessionAuthenticator;
  /** Called when a key is revoked (DELETE /v1/keys/:id): sockets, claims and sessions of that key end. */
  onKeyRevoked?: (key: ApiKeyRecord) => void;
  /** Readiness and draining (./drain.ts): while draining, keyed requests are refused with 503 `draining`. */
  drain?: DrainState;
  /** Long-polls on the schema (`GET /v1/schema?changedFrom=…`); absent: such a request answers at once. */
  schemaWaits?: SchemaWaits;
  /** The route table: the engine's routes (routes/index.ts) and the mounted ones. */
  routes: readonly Route[];
  log?: (line: string) => void;
  /** Browser origins allowed (EngineOptions.cors); absent = none. */
  cors?: OriginPolicy;
  /** Commits per second per credential (./auth/rateLimits.ts); absent: no limits. */
  rateLimits?: RateLimiter;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = stringifyJson(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown, log?: (line: string) => void): void {
  if (!(err instanceof AbloError)) log?.(`internal error: ${(err as Error)?.stack ?? String(err)}`);
  const e = err instanceof AbloError ? err : new AbloServerError();
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // Rate limits say when to come back (seconds), as the error's `retryAfterMs` does.
  const retryAfterMs = e.code === 'rate_limited' ? e.details.retryAfterMs : undefined;
  sendJson(res, e.status, toErrorEnvelope(e), typeof retryAfterMs === 'number' ? { 'retry-after': String(retryAfterSeconds(retryAfterMs)) } : {});
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/**
 * Requests Node's HTTP parser refuses before any route sees them (request line
 * and headers over the 16 KB limit, malformed HTTP) get the typed envelope too.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  // The status comes from the registry: these codes name their own (431, 408).
  const e =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? abloError('headers_too_large')
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? abloError('request_timeout')
        : abloError('malformed_request');
  const status = `${e.status} ${STATUS_TEXT[e.status] ?? 'Bad Request'}`;
  const body = JSON.stringify(toErrorEnvelope(e));
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** Refuse a WebSocket upgrade before the socket opens: the error's status and the typed envelope. */
export function refuseUpgrade(socket: Duplex, e: AbloError): void {
  const body = JSON.stringify(toErrorEnvelope(e));
  const text = e.status === 403 ? 'Forbidden' : e.status === 401 ? 'Unauthorized' : e.status === 503 ? 'Service Unavailable' : 'Error';
  socket.end(
    `HTTP/1.1 ${e.status} ${text}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * The body as JSON, checked once (src/protocol/json.ts): nesting within the
 * limit, no lone surrogates. Every JSON body the engine reads comes through here.
 */
async function readJson(req: IncomingMessage, limit: number, required: boolean, options: JsonBodyOptions = {}): Promise<unknown> {
  const body = await readBody(req, limit);
  if (body.length === 0) {
    if (required) throw new AbloValidationError('Request body is empty; send a JSON object.', { code: 'invalid_json' });
    return {};
  }
  return parseJson(body.toString('utf8'), {
    what: 'Request body',
    envelope: options.envelope ?? JSON_ENVELOPE.commit,
    maxDepth: options.maxDepth ?? MAX_JSON_DEPTH,
  });
}

/**
 * `Ablo-Participant: agent:summarizer` names whom the credential acts for (the guard says whether it may);
 * without it the principal acts as its own participant.
 */
function actorOf(ctx: HttpContext, req: IncomingMessage, principal: Principal): Actor {
  const h = req.headers['ablo-participant'];
  if (typeof h !== 'string' || h.length === 0) return ctx.guard.actor(principal);
  const idx = h.indexOf(':');
  const named = parseWire(participantSchema, { kind: h.slice(0, idx), id: h.slice(idx + 1) }, 'Ablo-Participant header (use kind:id, kind one of user, agent, system)');
  return ctx.guard.actor(principal, named);
}

/** Who made the request: the one place the HTTP API authenticates (the guard asks the engine's authenticator). */
function authenticate(ctx: HttpContext, req: IncomingMessage): Promise<Principal> {
  return ctx.guard.authenticate(bearer(req));
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new AbloValidationError('Malformed URL encoding in the path.', { code: 'invalid_path' });
  }
}

/** A route with its path split once: literal segments, and `:name` parameters as `{ param }`. */
interface CompiledRoute<R extends Route = Route> {
  route: R;
  parts: Array<string | { param: string }>;
}

function compile<R extends Route>(route: R): CompiledRoute<R> {
  const parts = route.path
    .split('/')
    .filter(Boolean)
    .map((p) => (p.startsWith(':') ? { param: p.slice(1) } : p));
  return { route, parts };
}

/** The first route of `table` for this method and these segments, with its parameters (raw). */
function match<R extends Route>(table: readonly CompiledRoute<R>[], method: string, segments: readonly string[]): { route: R; params: Record<string, string> } | null {
  for (const c of table) {
    if (c.parts.length !== segments.length || (c.route.method !== '*' && c.route.method !== method)) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < c.parts.length && ok; i++) {
      const part = c.parts[i]!;
      if (typeof part === 'string') ok = part === segments[i];
      else params[part.param] = segments[i]!;
    }
    if (ok) return { route: c.route, params };
  }
  return null;
}

// `mcp-*` and `last-event-id`: browser MCP clients of `/mcp`.
const ALLOW_HEADERS = 'authorization, content-type, idempotency-key, ablo-participant, ablo-claim, ablo-restore, mcp-session-id, mcp-protocol-version, last-event-id';

export function createHttpHandler(ctx: HttpContext): (req: IncomingMessage, res: ServerResponse) => void {
  const open: CompiledRoute<Extract<Route, { auth: 'none' }>>[] = [];
  const keyed: CompiledRoute<Exclude<Route, { auth: 'none' }>>[] = [];
  for (const route of ctx.routes) {
    if (route.auth === 'none') open.push(compile(route));
    else keyed.push(compile(route));
  }
  return (req, res) => {
    void handle(ctx, open, keyed, req, res).catch((err) => sendError(res, err, ctx.log));
  };
}

async function handle(
  ctx: HttpContext,
  open: readonly CompiledRoute<Extract<Route, { auth: 'none' }>>[],
  keyed: readonly CompiledRoute<Exclude<Route, { auth: 'none' }>>[],
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const origin = req.headers.origin;
  const allowed = ctx.cors?.allows(origin) ?? origin === undefined;
  if (ctx.cors?.any) res.setHeader('access-control-allow-origin', '*');
  else {
    // The answer depends on the Origin header: caches must keep one per origin.
    res.setHeader('vary', 'origin');
    if (origin !== undefined && allowed) res.setHeader('access-control-allow-origin', origin);
  }
  if (req.method === 'OPTIONS') {
    // A preflight from an origin not allowed: refused (the browser then sends nothing).
    if (!allowed) throw abloError('origin_not_allowed');
    res.writeHead(204, {
      'access-control-allow-methods': 'GET, POST, PATCH, DELETE, OPTIONS',
      'access-control-allow-headers': ALLOW_HEADERS,
      'access-control-max-age': '600',
    });
    res.end();
    return;
  }
  let url: URL;
  try {
    url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
  } catch {
    throw abloError('invalid_path');
  }
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  const raw = path.split('/').filter(Boolean);
  const base = (params: Record<string, string>): OpenRouteRequest => ({
    req,
    res,
    url,
    method,
    params,
    json: (required, options) => readJson(req, ctx.maxBodyBytes, required, options),
  });

  // Open routes: on the path as sent, before authentication.
  const free = match(open, method, raw);
  if (free) {
    const params = Object.fromEntries(Object.entries(free.params).map(([k, v]) => [k, decodeSegment(v)]));
    await free.route.handler(base(params), ctx);
    return;
  }

  // A draining engine takes no new work (health and readiness above still answer); what it answers already, it finishes.
  if (ctx.drain?.draining) throw abloError('draining');
  const leave = ctx.drain?.enter();
  try {
    await handleKeyed(ctx, keyed, req, base, raw, method, path);
  } finally {
    leave?.();
  }
}

async function handleKeyed(
  ctx: HttpContext,
  keyed: readonly CompiledRoute<Exclude<Route, { auth: 'none' }>>[],
  req: IncomingMessage,
  base: (params: Record<string, string>) => OpenRouteRequest,
  raw: string[],
  method: string,
  path: string,
): Promise<void> {
  // Once per request: who asks, which route, and may it do what that route does (one guard).
  const principal = await authenticate(ctx, req);
  const segments = raw.map(decodeSegment);
  const found = match(keyed, method, segments);
  if (!found) throw new AbloNotFoundError(`No route ${method} ${path}.`, { code: 'route_not_found' });
  const operation = httpOperation(method, segments);
  // A commit's operations are each checked when it is read (submitCommit); here, that it may write at all.
  if (operation === 'commit') ctx.guard.assertSomeWrite(principal);
  else if (operation === 'self') ctx.guard.assertActive(principal);
  else ctx.guard.assertOperation(principal, operation);
  // Rate limits (a Set lookup for a credential that is not limited): commits only.
  if (ctx.rateLimits?.limits(principal) && isCommitRequest(method, segments)) ctx.rateLimits.commit(principal);
  const actor = (): Actor => actorOf(ctx, req, principal);
  const r: RouteRequest = { ...base(found.params), principal, actor, participant: () => actingAs(actor()) };
  await found.route.handler(r, ctx);
}
