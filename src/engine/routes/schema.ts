/**
 *   GET  /v1/schema   → { object: 'schema', version, hash, schema }
 *        ?changedFrom=<hash>&waitSeconds=N: a long-poll; answers at once when the schema's hash is not
 *        `changedFrom` (empty: no schema yet), else when it changes or after N seconds (at most 120), with the schema then
 *   POST /v1/schema   { schema, dryRun?, allowDestructive?, renames? } → { object: 'schema_push', plan, applied, reason?, version, hash }
 */
import { z } from 'zod';
import type { SchemaDocument, SchemaPushAnswer } from '../../protocol/api.js';
import { parseWire } from '../../protocol/parse.js';
import { AbloValidationError } from '../../errors.js';
import { sendJson, type HttpContext } from '../http.js';
import { MAX_SCHEMA_WAIT_SECONDS } from '../schemaWaits.js';
import type { Route, RouteRequest } from './types.js';

const pushBodySchema = z.strictObject({
  schema: z.unknown(),
  dryRun: z.boolean().optional(),
  allowDestructive: z.boolean().optional(),
  renames: z.record(z.string(), z.string()).optional(),
});

function invalid(field: string, message: string): AbloValidationError {
  return new AbloValidationError(message, { code: 'invalid_query', field });
}

/** `changedFrom` and `waitSeconds` of a long-poll; null for a plain read. 400 `invalid_query` for bad ones. */
function longPollOf(params: URLSearchParams): { changedFrom: string; waitMs: number } | null {
  const changedFrom = params.get('changedFrom');
  const wait = params.get('waitSeconds');
  if (changedFrom === null && wait === null) return null;
  if (changedFrom === null) throw invalid('changedFrom', '`waitSeconds` needs `changedFrom`: the schema hash you have (empty when you have none).');
  if (changedFrom.length > 128) throw invalid('changedFrom', '`changedFrom` must be a schema hash (at most 128 characters).');
  const seconds = wait === null ? 30 : Number(wait);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > MAX_SCHEMA_WAIT_SECONDS || wait?.trim() === '') {
    throw invalid('waitSeconds', `\`waitSeconds\` must be a number of seconds from 0 to ${MAX_SCHEMA_WAIT_SECONDS}.`);
  }
  return { changedFrom, waitMs: Math.round(seconds * 1000) };
}

const currentHash = (ctx: HttpContext): string => ctx.schema.current()?.hash ?? '';

/** A long-poll: wait while the schema's hash is still `changedFrom`; a client that leaves ends its wait. */
async function waitForChange(r: RouteRequest, ctx: HttpContext, poll: { changedFrom: string; waitMs: number }): Promise<void> {
  if (!ctx.schemaWaits || poll.waitMs === 0 || currentHash(ctx) !== poll.changedFrom) return;
  const abort = new AbortController();
  const onClose = (): void => {
    if (!r.res.writableFinished) abort.abort();
  };
  r.res.once('close', onClose);
  try {
    await ctx.schemaWaits.wait(poll.waitMs, abort.signal);
  } finally {
    r.res.off('close', onClose);
  }
}

export const schemaRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/schema',
    async handler(r, ctx) {
      const poll = longPollOf(r.url.searchParams);
      if (poll) await waitForChange(r, ctx, poll);
      if (r.res.destroyed) return; // the client went away while it waited
      const body: SchemaDocument = { object: 'schema', version: ctx.schema.currentVersion(), hash: ctx.schema.current()?.hash ?? null, schema: ctx.schema.serialized() };
      sendJson(r.res, 200, body);
    },
  },
  {
    method: 'POST',
    path: '/v1/schema',
    async handler(r, ctx) {
      const body = parseWire(pushBodySchema, await r.json(true), 'schema push');
      const result = await ctx.schema.push(body.schema, {
        ...(body.dryRun !== undefined ? { dryRun: body.dryRun } : {}),
        ...(body.allowDestructive !== undefined ? { allowDestructive: body.allowDestructive } : {}),
        ...(body.renames ? { renames: body.renames } : {}),
      });
      const answer: SchemaPushAnswer = { object: 'schema_push', ...result };
      sendJson(r.res, 200, answer);
    },
  },
];
