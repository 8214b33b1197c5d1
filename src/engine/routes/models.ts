/**
 * Rows of a model (SPEC §3):
 *
 *   GET    /v1/models/:model       where, orderBy, limit, startingAfter → { object: 'list', data, hasMore }
 *   POST   /v1/models/:model       { data, id? }                         → 201 the row (200 on an idempotent replay)
 *   GET    /v1/models/:model/:id                                        → the row
 *   PATCH  /v1/models/:model/:id   { data, readAt?, onStale? }           → the row (or the receipt when held)
 *   DELETE /v1/models/:model/:id   { readAt?, onStale? }                 → { object: 'deleted', … } (or the receipt when held)
 *
 * Every one checks the schema, the model and the `Ablo-Participant` header
 * (reads too) first; writes are commits of one operation, honouring
 * `Idempotency-Key` and `Ablo-Claim`.
 */
import { z } from 'zod';
import { abloError } from '../../errors.js';
import type { Deleted, RowPage } from '../../protocol/api.js';
import { commitRequestSchema, onStaleSchema, type Operation } from '../../protocol/commit.js';
import { JSON_ENVELOPE } from '../../protocol/json.js';
import { listQueryFromSearchParams } from '../../protocol/listQuery.js';
import { parseWire } from '../../protocol/parse.js';
import type { CompiledModel } from '../../schema/compile.js';
import type { Actor } from '../auth/principal.js';
import type { CommitOutcome } from '../commit.js';
import { sendJson, type HttpContext } from '../http.js';
import { requireSchema, submitCommit } from './shared.js';
import type { Route, RouteRequest } from './types.js';

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

/** The model named in the path, and who acts; the checks every model route makes first. */
function target(r: RouteRequest, ctx: HttpContext): { model: CompiledModel; actor: Actor } {
  const model = requireSchema(ctx).model(r.params.model!);
  return { model, actor: r.actor() };
}

/** A one-operation commit, with `Idempotency-Key` as its idempotency key. */
function oneOperation(r: RouteRequest, op: Operation, what: string) {
  const idem = r.req.headers['idempotency-key'];
  return parseWire(commitRequestSchema, { operations: [op], ...(typeof idem === 'string' ? { idempotencyKey: idem } : {}) }, what);
}

/** The row a write produced: from the change (exact), or for a replay the current row. */
async function rowAfter(ctx: HttpContext, outcome: CommitOutcome, model: string, id: string): Promise<unknown> {
  const change = outcome.changes.find((c) => c.model === model && c.id === id);
  if (change?.data) return change.data;
  const row = await ctx.storage.getRow(model, id);
  if (!row) throw abloError('row_not_found', { model, id });
  return row;
}

export const modelsRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/models/:model',
    async handler(r, ctx) {
      const { model } = target(r, ctx);
      const query = listQueryFromSearchParams(model, r.url.searchParams);
      const result = await ctx.guard.listRows(r.principal, model, query, (q) => ctx.storage.listRows(model.name, q));
      const page: RowPage = { object: 'list', data: result.rows, hasMore: result.hasMore };
      sendJson(r.res, 200, page);
    },
  },
  {
    method: 'POST',
    path: '/v1/models/:model',
    async handler(r, ctx) {
      const { model, actor } = target(r, ctx);
      const body = parseWire(createBodySchema, await r.json(true, { envelope: JSON_ENVELOPE.write }), `${model.name} create`);
      const request = oneOperation(r, { op: 'create', model: model.name, data: body.data, ...(body.id !== undefined ? { id: body.id } : {}) }, `${model.name} create`);
      const outcome = await submitCommit(ctx, request, actor, r.principal, r.req.headers);
      const id = outcome.receipt.results[0]!.id;
      const row = await rowAfter(ctx, outcome, model.name, id);
      sendJson(r.res, outcome.replayed ? 200 : 201, row, { 'ablo-sync-id': String(outcome.receipt.lastSyncId) });
    },
  },
  {
    method: 'GET',
    path: '/v1/models/:model/:id',
    async handler(r, ctx) {
      const { model } = target(r, ctx);
      const id = r.params.id!;
      const row = ctx.guard.visibleRow(r.principal, model, await ctx.storage.getRow(model.name, id));
      if (!row) throw abloError('row_not_found', { model: model.name, id });
      sendJson(r.res, 200, row);
    },
  },
  {
    method: 'PATCH',
    path: '/v1/models/:model/:id',
    async handler(r, ctx) {
      const { model, actor } = target(r, ctx);
      const id = r.params.id!;
      const body = parseWire(updateBodySchema, await r.json(true, { envelope: JSON_ENVELOPE.write }), `${model.name} update`);
      const op = {
        op: 'update' as const,
        model: model.name,
        id,
        data: body.data,
        ...(body.readAt !== undefined ? { readAt: body.readAt } : {}),
        ...(body.onStale !== undefined ? { onStale: body.onStale } : {}),
      };
      const outcome = await submitCommit(ctx, oneOperation(r, op, `${model.name} update`), actor, r.principal, r.req.headers);
      if (outcome.receipt.status === 'held') {
        sendJson(r.res, 200, outcome.receipt);
        return;
      }
      sendJson(r.res, 200, await rowAfter(ctx, outcome, model.name, id), { 'ablo-sync-id': String(outcome.receipt.lastSyncId) });
    },
  },
  {
    method: 'DELETE',
    path: '/v1/models/:model/:id',
    async handler(r, ctx) {
      const { model, actor } = target(r, ctx);
      const id = r.params.id!;
      const body = parseWire(deleteBodySchema, await r.json(false, { envelope: JSON_ENVELOPE.write }), `${model.name} delete`);
      const op = {
        op: 'delete' as const,
        model: model.name,
        id,
        ...(body.readAt !== undefined ? { readAt: body.readAt } : {}),
        ...(body.onStale !== undefined ? { onStale: body.onStale } : {}),
      };
      const outcome = await submitCommit(ctx, oneOperation(r, op, `${model.name} delete`), actor, r.principal, r.req.headers);
      if (outcome.receipt.status === 'held') {
        sendJson(r.res, 200, outcome.receipt);
        return;
      }
      const deleted: Deleted = { object: 'deleted', model: model.name, id, deleted: true, syncId: outcome.receipt.lastSyncId };
      sendJson(r.res, 200, deleted);
    },
  },
];
