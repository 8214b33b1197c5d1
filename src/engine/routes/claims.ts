/**
 * Claim routes (SPEC §3):
 *
 *   POST   /v1/models/:model/:id/claim   acquire (long-polls while waiting) → claim with `data`
 *   GET    /v1/models/:model/:id/claim   → { claim, queue }
 *   DELETE /v1/claims/:claimId           → { object: 'claim', id, released: true }
 *   POST   /v1/claims/:claimId/renew     → claim
 *
 * An HTTP claim is owned by the claim itself: present its id on writes with
 * `Ablo-Claim: <claimId>` (several: comma-separated).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { AbloNotFoundError } from '../../errors.js';
import {
  CLAIM_HEADER,
  CLAIM_WAIT_DEFAULT_SECONDS,
  claimRenewBodySchema,
  claimRequestBodySchema,
} from '../../protocol/claims.js';
import { parseWire } from '../../protocol/parse.js';
import type { ClaimManager } from '../claims.js';
import { sendJson, type HttpContext } from '../http.js';
import { requireSchema } from './shared.js';
import type { Route, RouteRequest } from './types.js';

/** Claim ids presented with `Ablo-Claim` (comma-separated, or the header repeated). */
export function claimHeaderIds(headers: IncomingHttpHeaders): string[] {
  const raw = headers[CLAIM_HEADER];
  if (raw === undefined) return [];
  const values = Array.isArray(raw) ? raw : [raw];
  return values.flatMap((v) => v.split(',').map((s) => s.trim()).filter(Boolean));
}

/** The claim check for HTTP writes: the row must be free or held by a claim named in `Ablo-Claim`. */
export function httpClaimCheck(claims: ClaimManager, headers: IncomingHttpHeaders): (model: string, id: string) => void {
  const ids = claimHeaderIds(headers);
  return (model, id) => claims.check(model, id, ids);
}

export function claimRoutes(claims: ClaimManager): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/models/:model/:id/claim',
      handler: (r, ctx) => acquire(r, ctx, claims, r.params.model!, r.params.id!),
    },
    {
      method: 'GET',
      path: '/v1/models/:model/:id/claim',
      handler: (r, ctx) => state(ctx, r, claims, r.params.model!, r.params.id!),
    },
    {
      method: 'DELETE',
      path: '/v1/claims/:claimId',
      async handler(r) {
        sendJson(r.res, 200, await claims.release(r.params.claimId!, r.params.claimId!));
      },
    },
    {
      method: 'POST',
      path: '/v1/claims/:claimId/renew',
      async handler(r) {
        const body = parseWire(claimRenewBodySchema, await r.json(false), 'claim renew');
        sendJson(r.res, 200, claims.renew(r.params.claimId!, r.params.claimId!, body.leaseSeconds));
      },
    },
  ];
}

function requireModel(ctx: HttpContext, name: string): string {
  return requireSchema(ctx).model(name).name;
}

async function acquire(r: RouteRequest, ctx: HttpContext, claims: ClaimManager, modelName: string, id: string): Promise<void> {
  const model = requireModel(ctx, modelName);
  const body = parseWire(claimRequestBodySchema, await r.json(false), `${model} claim`);
  const participant = r.participant();
  // Asking again with the claim you hold (in Ablo-Claim) renews it instead of queueing behind yourself.
  const held = claims.state(model, id).claim;
  const owner = held && claimHeaderIds(r.req.headers).includes(held.id) ? held.id : undefined;

  // The long-poll's client going away leaves the queue.
  const abort = new AbortController();
  const onClose = (): void => {
    if (!r.res.writableFinished) abort.abort();
  };
  r.res.once('close', onClose);
  try {
    const grant = await claims.acquire({
      model,
      id,
      participant,
      ...(owner !== undefined ? { owner } : {}),
      ...(body.wait !== undefined ? { wait: body.wait } : {}),
      ...(body.leaseSeconds !== undefined ? { leaseSeconds: body.leaseSeconds } : {}),
      ...(body.action !== undefined ? { action: body.action } : {}),
      ...(body.maxQueueDepth !== undefined ? { maxQueueDepth: body.maxQueueDepth } : {}),
      waitMs: (body.waitSeconds ?? CLAIM_WAIT_DEFAULT_SECONDS) * 1000,
      signal: abort.signal,
      // Revoking the key ends the wait with 401 and releases what it holds.
      keyId: r.key.id,
    });
    if (abort.signal.aborted || r.res.destroyed) {
      // Granted just as the client left: nobody will use or release it.
      if (owner === undefined) await claims.release(grant.id, grant.id).catch(() => undefined);
      return;
    }
    sendJson(r.res, 200, grant);
  } finally {
    r.res.off('close', onClose);
  }
}

async function state(ctx: HttpContext, r: RouteRequest, claims: ClaimManager, modelName: string, id: string): Promise<void> {
  const model = requireModel(ctx, modelName);
  const current = claims.state(model, id);
  if (!current.claim && current.queue.length === 0 && !(await ctx.storage.getRow(model, id))) {
    throw new AbloNotFoundError(`No ${model} row with id "${id}".`, { code: 'row_not_found', model, id });
  }
  sendJson(r.res, 200, current);
}
