/**
 *   GET /v1/health   → { ok, version, schemaHash, schemaVersion, lastSyncId, connections, changeLogFloor, retention }   (no key)
 */
import type { Health } from '../../protocol/api.js';
import { sendJson } from '../http.js';
import type { Route } from './types.js';

export const healthRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/health',
    auth: 'none',
    async handler(r, ctx) {
      const schema = ctx.schema.current();
      const body: Health = {
        ok: true,
        version: ctx.version,
        schemaHash: schema?.hash ?? null,
        schemaVersion: ctx.schema.currentVersion(),
        lastSyncId: ctx.pipeline.currentSyncId,
        connections: ctx.connections(),
        changeLogFloor: await ctx.storage.changeLogFloor(),
        retention: { changeLogMs: ctx.retention.changeLogMs, idempotencyMs: ctx.retention.idempotencyMs },
      };
      sendJson(r.res, 200, body);
    },
  },
];
