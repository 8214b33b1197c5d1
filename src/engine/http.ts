/**
 * The HTTP API (SPEC §3). JSON in and out; every route but health and the
 * OpenAPI document needs `Authorization: Bearer <key>`. Errors use the
 * envelope `{ error: { type, code, message, ...details } }`.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { z } from 'zod';
import {
  AbloError,
  AbloNotFoundError,
  AbloServerError,
  AbloTooLargeError,
  AbloValidationError,
  toErrorEnvelope,
} from '../errors.js';
import { commitRequestSchema, onStaleSchema, participantSchema, type CommitRequest, type ParticipantRef } from '../protocol/commit.js';
import { parseWire } from '../protocol/parse.js';
import {
  JSON_ENVELOPE,
  MAX_JSON_DEPTH,
  RESTORE_DEEP_JSON,
  RESTORE_HEADER,
  RESTORE_JSON_DEPTH,
  parseJson,
  stringifyJson,
} from '../protocol/json.js';
import type { CompiledSchema } from '../schema/compile.js';
import { httpOperation, type Guard } from './auth/guard.js';
import type { Principal } from './auth/principal.js';
import type { CommitOutcome, CommitPipeline } from './commit.js';
import { listQueryFromSearchParams } from '../protocol/listQuery.js';
import type { SchemaService } from './schemaService.js';
import type { ApiKeyRecord, Storage } from './storage/types.js';

export interface HttpContext {
  storage: Storage;
  pipeline: CommitPipeline;
  schema: SchemaService;
  version: string;
  maxBodyBytes: number;
  connections: () => number;
  openapi: (schema: CompiledSchema | null, serverUrl: string) => Record<string, unknown>;
  /** Authenticates every request once and checks its operation and groups (./auth/guard.ts). */
  guard: Guard;
  /** Claim check for writes made over HTTP; `headers` carry `Ablo-Claim` (the claims the writer holds). */
  claimCheck?: (participant: ParticipantRef, headers: IncomingHttpHeaders) => ((model: string, id: string) => void) | undefined;
  /** Called when a key is revoked (DELETE /v1/keys/:id): sockets, claims and sessions of that key end. */
  onKeyRevoked?: (key: ApiKeyRecord) => void;
  /** Routes that take no API key (e.g. `/mcp`, which checks its own bearer); return true when handled. */
  openRoutes?: Array<(req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>>;
  /** Authenticated routes (claims, keys, sessions…), tried before the built-in ones; return true when handled. */
  routes?: RouteHandler[];
  log?: (line: string) => void;
}

/** What an authenticated route module gets for one request. */
export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  method: string;
  /** Decoded path segments, e.g. ['v1', 'models', 'tasks', 't1', 'claim']. */
  segments: string[];
  /** Who asks, as the authenticator answered (the operation was checked already). */
  principal: Principal;
  /** Who acts: the `Ablo-Participant` header (checked by the guard), or the principal's participant. */
  participant: () => ParticipantRef;
  /** The request body as JSON (`required`: an empty body is an error). */
  json: (required: boolean) => Promise<unknown>;
}
export type RouteHandler = (r: RouteRequest, ctx: HttpContext) => Promise<boolean>;

const pushBodySchema = z.strictObject({
  schema: z.unknown(),
  dryRun: z.boolean().optional(),
  allowDestructive: z.boolean().optional(),
  renames: z.record(z.string(), z.string()).optional(),
});
const createBodySchema = z.strictObject({ data: z.record(z.string(), z.unknown()), id: z.string().optional() });
const updateBodySchema = z.strictObject({
  data: z.record(z.string(), z.unknown()),
  readAt: z.number().int().nonnegative().optional(),
  onStale: onStaleSchema.optional(),
});
const deleteBodySchema = z.strictObject({
  readAt: z.number().int().nonnegative().optional(),
  onStale: onStaleSchema.optional(),
});

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
  sendJson(res, e.status, toErrorEnvelope(e));
}

/**
 * Requests Node's HTTP parser refuses before any route sees them (request line
 * and headers over the 16 KB limit, malformed HTTP) get the typed envelope too.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [status, e] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [
          '431 Request Header Fields Too Large',
          new AbloTooLargeError('The request line and headers are over the 16 KB limit. Shorten the URL (fewer `where` values per request) or the headers.', {
            code: 'headers_too_large',
          }),
        ]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['408 Request Timeout', new AbloValidationError('The request did not arrive in time.', { code: 'request_timeout' })]
        : ['400 Bad Request', new AbloValidationError('Malformed HTTP request.', { code: 'malformed_request' })];
  const body = JSON.stringify(toErrorEnvelope(e));
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** Read the body up to `limit` bytes; a larger body fails with 413 without buffering it. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(new AbloTooLargeError(`Request body is ${declared} bytes; the limit is ${limit}. Split the write into smaller commits.`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(new AbloTooLargeError(`Request body is over the ${limit}-byte limit. Split the write into smaller commits.`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
    });
  });
}

interface ReadJsonOptions {
  /** Levels of the body around a field value (see src/protocol/json.ts); default: a commit's. */
  envelope?: number;
  /** Levels a field value may nest; default `MAX_JSON_DEPTH`. */
  maxDepth?: number;
}

/**
 * The body as JSON, checked once (src/protocol/json.ts): nesting within the
 * limit, no lone surrogates. Every JSON body the engine reads comes through here.
 */
async function readJson(req: IncomingMessage, limit: number, required: boolean, options: ReadJsonOptions = {}): Promise<unknown> {
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
 * `Ablo-Restore: deep-json` on `POST /v1/commits` (sent by `ablo data import
 * --allow-deep`) raises the nesting limit to `RESTORE_JSON_DEPTH`, so rows
 * stored before the limit existed can be restored.
 */
function restoreDepth(req: IncomingMessage): number {
  const h = req.headers[RESTORE_HEADER];
  if (h === undefined) return MAX_JSON_DEPTH;
  if (h === RESTORE_DEEP_JSON) return RESTORE_JSON_DEPTH;
  throw new AbloValidationError(`Unknown ${'Ablo-Restore'} header value ${JSON.stringify(h)}; the only one is "${RESTORE_DEEP_JSON}".`, {
    code: 'invalid_header',
    field: 'Ablo-Restore',
  });
}

/** The bearer token of a request (`Authorization: Bearer <key>`; a bare value is accepted too). */
export function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m ? m[1]!.trim() : h.trim();
}

/** `Ablo-Participant: agent:summarizer` names who acts (the guard says whether it may); defaults to the principal's participant. */
function participantOf(ctx: HttpContext, req: IncomingMessage, principal: Principal): ParticipantRef {
  const h = req.headers['ablo-participant'];
  if (typeof h !== 'string' || h.length === 0) return principal.participant;
  const idx = h.indexOf(':');
  const named = parseWire(participantSchema, { kind: h.slice(0, idx), id: h.slice(idx + 1) }, 'Ablo-Participant header (use kind:id, kind one of user, agent, system)');
  return ctx.guard.participant(principal, named);
}

function requireSchema(ctx: HttpContext): CompiledSchema {
  const schema = ctx.schema.current();
  if (!schema) {
    throw new AbloValidationError('The engine has no schema yet. Push one with `ablo push` (or POST /v1/schema).', { code: 'no_schema' });
  }
  return schema;
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new AbloValidationError('Malformed URL encoding in the path.', { code: 'invalid_path' });
  }
}

// `mcp-*` and `last-event-id`: browser MCP clients of `/mcp`.
const ALLOW_HEADERS = 'authorization, content-type, idempotency-key, ablo-participant, ablo-claim, ablo-restore, mcp-session-id, mcp-protocol-version, last-event-id';

export function createHttpHandler(ctx: HttpContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void handle(ctx, req, res).catch((err) => sendError(res, err, ctx.log));
  };
}

async function handle(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  res.setHeader('access-control-allow-origin', '*');
  if (req.method === 'OPTIONS') {
    res.writeHead(204, {
      'access-control-allow-methods': 'GET, POST, PATCH, DELETE, OPTIONS',
      'access-control-allow-headers': ALLOW_HEADERS,
      'access-control-max-age': '600',
    });
    res.end();
    return;
  }
  const host = req.headers.host ?? 'localhost';
  let url: URL;
  try {
    url = new URL(req.url ?? '/', `http://${host}`);
  } catch {
    throw new AbloValidationError('Malformed request URL.', { code: 'invalid_path' });
  }
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';

  if (path === '/v1/health' && method === 'GET') {
    const schema = ctx.schema.current();
    sendJson(res, 200, {
      ok: true,
      version: ctx.version,
      schemaHash: schema?.hash ?? null,
      schemaVersion: ctx.schema.currentVersion(),
      lastSyncId: ctx.pipeline.currentSyncId,
      connections: ctx.connections(),
    });
    return;
  }
  if (path === '/v1/openapi.json' && method === 'GET') {
    sendJson(res, 200, ctx.openapi(ctx.schema.current(), `http://${host}`));
    return;
  }
  for (const route of ctx.openRoutes ?? []) if (await route(req, res, url)) return;

  // Once per request: who asks, and may it do what this route does.
  const principal = await ctx.guard.authenticate(bearer(req));
  const segments = path.split('/').filter(Boolean).map(decodeSegment);
  if (segments[0] !== 'v1') throw new AbloNotFoundError(`No route ${method} ${path}.`, { code: 'route_not_found' });
  ctx.guard.assertOperation(principal, httpOperation(method, segments));
  if (ctx.routes) {
    const r: RouteRequest = {
      req,
      res,
      url,
      method,
      segments,
      principal,
      participant: () => participantOf(ctx, req, principal),
      json: (required) => readJson(req, ctx.maxBodyBytes, required),
    };
    for (const route of ctx.routes) if (await route(r, ctx)) return;
  }

  // /v1/schema
  if (segments.length === 2 && segments[1] === 'schema') {
    if (method === 'GET') {
      sendJson(res, 200, { object: 'schema', version: ctx.schema.currentVersion(), hash: ctx.schema.current()?.hash ?? null, schema: ctx.schema.serialized() });
      return;
    }
    if (method === 'POST') {
      const body = parseWire(pushBodySchema, await readJson(req, ctx.maxBodyBytes, true), 'schema push');
      const result = await ctx.schema.push(body.schema, {
        ...(body.dryRun !== undefined ? { dryRun: body.dryRun } : {}),
        ...(body.allowDestructive !== undefined ? { allowDestructive: body.allowDestructive } : {}),
        ...(body.renames ? { renames: body.renames } : {}),
      });
      sendJson(res, 200, { object: 'schema_push', ...result });
      return;
    }
  }

  // /v1/commits
  if (segments.length === 2 && segments[1] === 'commits' && method === 'POST') {
    const body = await readJson(req, ctx.maxBodyBytes, true, { envelope: JSON_ENVELOPE.commit, maxDepth: restoreDepth(req) });
    const request = parseWire(commitRequestSchema, withHeaderKey(body, req), 'commit');
    requireSchema(ctx);
    const outcome = await commit(ctx, request, participantOf(ctx, req, principal), principal, req.headers);
    sendJson(res, 200, outcome.receipt, outcome.replayed ? { 'idempotent-replayed': 'true' } : {});
    return;
  }

  // /v1/changes
  if (segments.length === 2 && segments[1] === 'changes' && method === 'GET') {
    const after = Number(url.searchParams.get('after') ?? '0');
    const limit = Number(url.searchParams.get('limit') ?? '1000');
    if (!Number.isInteger(after) || after < 0) throw new AbloValidationError('`after` must be a sync id (a whole number ≥ 0).', { code: 'invalid_query', field: 'after' });
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new AbloValidationError('`limit` must be a whole number from 1 to 10000.', { code: 'invalid_query', field: 'limit' });
    }
    const { changes, hasMore } = await ctx.guard.changes(principal, after, limit, (a, l) => ctx.storage.changesAfter(a, l));
    const data = changes.map(({ commitId: _c, ...c }) => c);
    sendJson(res, 200, { object: 'list', data, hasMore, lastSyncId: ctx.pipeline.currentSyncId });
    return;
  }

  // /v1/models/:model[/:id]
  if (segments[1] === 'models' && (segments.length === 3 || segments.length === 4)) {
    const schema = requireSchema(ctx);
    const model = schema.model(segments[2]!);
    const participant = participantOf(ctx, req, principal);
    if (segments.length === 3) {
      if (method === 'GET') {
        const query = listQueryFromSearchParams(model, url.searchParams);
        const result = await ctx.guard.listRows(principal, model, query, (q) => ctx.storage.listRows(model.name, q));
        sendJson(res, 200, { object: 'list', data: result.rows, hasMore: result.hasMore });
        return;
      }
      if (method === 'POST') {
        const body = parseWire(createBodySchema, await readJson(req, ctx.maxBodyBytes, true, { envelope: JSON_ENVELOPE.write }), `${model.name} create`);
        const idem = req.headers['idempotency-key'];
        const request = parseWire(
          commitRequestSchema,
          {
            operations: [{ op: 'create', model: model.name, data: body.data, ...(body.id !== undefined ? { id: body.id } : {}) }],
            ...(typeof idem === 'string' ? { idempotencyKey: idem } : {}),
          },
          `${model.name} create`,
        );
        const outcome = await commit(ctx, request, participant, principal, req.headers);
        const id = outcome.receipt.results[0]!.id;
        const row = await rowAfter(ctx, outcome, model.name, id);
        sendJson(res, outcome.replayed ? 200 : 201, row, { 'ablo-sync-id': String(outcome.receipt.lastSyncId) });
        return;
      }
    } else {
      const id = segments[3]!;
      if (method === 'GET') {
        const row = ctx.guard.visibleRow(principal, model, await ctx.storage.getRow(model.name, id));
        if (!row) throw new AbloNotFoundError(`No ${model.name} row with id "${id}".`, { code: 'row_not_found', model: model.name, id });
        sendJson(res, 200, row);
        return;
      }
      if (method === 'PATCH' || method === 'DELETE') {
        const isUpdate = method === 'PATCH';
        const raw = await readJson(req, ctx.maxBodyBytes, isUpdate, { envelope: JSON_ENVELOPE.write });
        const body = isUpdate
          ? parseWire(updateBodySchema, raw, `${model.name} update`)
          : parseWire(deleteBodySchema, raw, `${model.name} delete`);
        const op = {
          op: isUpdate ? 'update' : 'delete',
          model: model.name,
          id,
          ...('data' in body ? { data: body.data } : {}),
          ...(body.readAt !== undefined ? { readAt: body.readAt } : {}),
          ...(body.onStale !== undefined ? { onStale: body.onStale } : {}),
        };
        const idem = req.headers['idempotency-key'];
        const request = parseWire(
          commitRequestSchema,
          { operations: [op], ...(typeof idem === 'string' ? { idempotencyKey: idem } : {}) },
          `${model.name} ${op.op}`,
        );
        const outcome = await commit(ctx, request, participant, principal, req.headers);
        if (outcome.receipt.status === 'held') {
          sendJson(res, 200, outcome.receipt);
          return;
        }
        if (isUpdate) {
          sendJson(res, 200, await rowAfter(ctx, outcome, model.name, id), { 'ablo-sync-id': String(outcome.receipt.lastSyncId) });
        } else {
          sendJson(res, 200, { object: 'deleted', model: model.name, id, deleted: true, syncId: outcome.receipt.lastSyncId });
        }
        return;
      }
    }
  }
  throw new AbloNotFoundError(`No route ${method} ${path}.`, { code: 'route_not_found' });
}

/** Let an `Idempotency-Key` header stand in for `idempotencyKey` in the body. */
function withHeaderKey(body: unknown, req: IncomingMessage): unknown {
  const idem = req.headers['idempotency-key'];
  if (typeof idem !== 'string' || !body || typeof body !== 'object' || Array.isArray(body)) return body;
  const b = body as Record<string, unknown>;
  if (b.idempotencyKey !== undefined && b.idempotencyKey !== idem) {
    throw new AbloValidationError('The Idempotency-Key header and body idempotencyKey differ; send one.', { code: 'invalid_request', field: 'idempotencyKey' });
  }
  return { ...b, idempotencyKey: idem };
}

async function commit(
  ctx: HttpContext,
  request: CommitRequest,
  participant: ParticipantRef,
  principal: Principal,
  headers: IncomingHttpHeaders,
): Promise<CommitOutcome> {
  const claimCheck = ctx.claimCheck?.(participant, headers);
  // Checked again when the commit's turn comes: a credential revoked (or expired) while it waited writes nothing.
  const authorized = (): void => ctx.guard.assertActive(principal);
  return ctx.pipeline.submit({ request, participant, ...(claimCheck ? { claimCheck } : {}), authorized });
}

/** The row a write produced: from the change (exact), or for a replay the current row. */
async function rowAfter(ctx: HttpContext, outcome: CommitOutcome, model: string, id: string): Promise<unknown> {
  const change = outcome.changes.find((c) => c.model === model && c.id === id);
  if (change?.data) return change.data;
  const row = await ctx.storage.getRow(model, id);
  if (!row) throw new AbloNotFoundError(`No ${model} row with id "${id}".`, { code: 'row_not_found', model, id });
  return row;
}
