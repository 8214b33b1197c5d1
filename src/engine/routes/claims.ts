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
 *
 * A request made with `keepPlaceSeconds` keeps its place in line when its
 * long-poll ends without the row: the `claim_wait_timeout` error carries a
 * `ticket`, and asking again with `{ ticket }` (same credential) resumes it
 * at that place, with the options it was made with. A client that goes away
 * mid-poll withdraws its request.
 *
 * The guard checked the operation (`claim`, or `read` for the state) before
 * these run; a principal scoped to some sync groups gets 404 for a row
 * outside them, as for a missing row.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { abloError } from '../../errors.js';
import {
  CLAIM_HEADER,
  CLAIM_WAIT_DEFAULT_SECONDS,
  claimRenewBodySchema,
  claimRequestBodySchema,
} from '../../protocol/claims.js';
import { parseWire } from '../../protocol/parse.js';
import type { CompiledModel } from '../../schema/compile.js';
import type { ClaimStore } from '../claims/store.js';
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
export function httpClaimCheck(claims: ClaimStore, headers: IncomingHttpHeaders): (model: string, id: string) => void | Promise<void> {
  const ids = claimHeaderIds(headers);
  return (model, id) => claims.check(model, id, ids);
}

export function claimRoutes(claims: ClaimStore): Route[] {
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
        sendJson(r.res, 200, await claims.renew(r.params.claimId!, r.params.claimId!, body.leaseSeconds));
      },
    },
  ];
}

function requireModel(ctx: HttpContext, name: string): CompiledModel {
  return requireSchema(ctx).model(name);
}

async function acquire(r: RouteRequest, ctx: HttpContext, claims: ClaimStore, modelName: string, id: string): Promise<void> {
  const compiled = requireModel(ctx, modelName);
  const model = compiled.name;
  const body = parseWire(claimRequestBodySchema, await r.json(false), `${model} claim`);
  const participant = r.participant();
  await ctx.guard.assertRow(r.principal, compiled, id, (m, rowId) => ctx.storage.getRow(m, rowId));
  // Asking again with the claim you hold (in Ablo-Claim) renews it instead of queueing behind yourself.
  const held = (await claims.state(model, id)).claim;
  const owner = held && claimHeaderIds(r.req.headers).includes(held.id) ? held.id : undefined;

  // The long-poll's client going away leaves the queue.
  const abort = new AbortController();
  const onClose = (): void => {
    if (!r.res.writableFinished) abort.abort();
  };
  r.res.once('close', onClose);
  const waitMs = (body.waitSeconds ?? CLAIM_WAIT_DEFAULT_SECONDS) * 1000;
  // Revoking the credential ends the wait with 401 and releases what it holds.
  const credentialId = r.principal.credentialId;
  try {
    const grant =
      body.ticket !== undefined
        ? await claims.resume({
            ticket: body.ticket,
            model,
            id,
            credentialId,
            waitMs,
            signal: abort.signal,
            ...(body.keepPlaceSeconds !== undefined ? { keepPlaceMs: body.keepPlaceSeconds * 1000 } : {}),
          })
        : await claims.acquire({
            model,
            id,
            participant,
            ...(owner !== undefined ? { owner } : {}),
            ...(body.wait !== undefined ? { wait: body.wait } : {}),
            ...(body.leaseSeconds !== undefined ? { leaseSeconds: body.leaseSeconds } : {}),
            ...(body.action !== undefined ? { action: body.action } : {}),
            ...(body.maxQueueDepth !== undefined ? { maxQueueDepth: body.maxQueueDepth } : {}),
            ...(body.keepPlaceSeconds !== undefined ? { keepPlaceMs: body.keepPlaceSeconds * 1000 } : {}),
            waitMs,
            signal: abort.signal,
            credentialId,
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

async function state(ctx: HttpContext, r: RouteRequest, claims: ClaimStore, modelName: string, id: string): Promise<void> {
  const compiled = requireModel(ctx, modelName);
  const model = compiled.name;
  await ctx.guard.assertRow(r.principal, compiled, id, (m, rowId) => ctx.storage.getRow(m, rowId));
  const current = await claims.state(model, id);
  if (!current.claim && current.queue.length === 0 && !(await ctx.storage.getRow(model, id))) {
    throw abloError('row_not_found', { model, id });
  }
  sendJson(r.res, 200, current);
}
