/**
 *   POST /v1/commits   { operations, reads?, idempotencyKey?, label? } → commit receipt
 *
 * `Idempotency-Key` may stand in for `idempotencyKey`; a replay answers with
 * `Idempotent-Replayed: true`. `Ablo-Restore: deep-json` (sent by `ablo data
 * import --allow-deep`) raises the nesting limit to `RESTORE_JSON_DEPTH`, so
 * rows stored before the limit existed can be restored.
 */
import type { IncomingMessage } from 'node:http';
import { AbloValidationError } from '../../errors.js';
import { commitRequestSchema } from '../../protocol/commit.js';
import { JSON_ENVELOPE, MAX_JSON_DEPTH, RESTORE_DEEP_JSON, RESTORE_HEADER, RESTORE_JSON_DEPTH } from '../../protocol/json.js';
import { parseWire } from '../../protocol/parse.js';
import { sendJson } from '../http.js';
import { requireSchema, submitCommit } from './shared.js';
import type { Route } from './types.js';

function restoreDepth(req: IncomingMessage): number {
  const h = req.headers[RESTORE_HEADER];
  if (h === undefined) return MAX_JSON_DEPTH;
  if (h === RESTORE_DEEP_JSON) return RESTORE_JSON_DEPTH;
  throw new AbloValidationError(`Unknown ${'Ablo-Restore'} header value ${JSON.stringify(h)}; the only one is "${RESTORE_DEEP_JSON}".`, {
    code: 'invalid_header',
    field: 'Ablo-Restore',
  });
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

export const commitsRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/commits',
    async handler(r, ctx) {
      const body = await r.json(true, { envelope: JSON_ENVELOPE.commit, maxDepth: restoreDepth(r.req) });
      const request = parseWire(commitRequestSchema, withHeaderKey(body, r.req), 'commit');
      requireSchema(ctx);
      const outcome = await submitCommit(ctx, request, r.actor(), r.principal, r.req.headers);
      sendJson(r.res, 200, outcome.receipt, outcome.replayed ? { 'idempotent-replayed': 'true' } : {});
    },
  },
];
