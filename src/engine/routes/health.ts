/**
 *   GET /v1/health   → { ok, version, schemaHash, schemaVersion, lastSyncId, connections, changeLogFloor, retention }   (no key)
 *                      200 while the process runs (liveness), draining or not.
 *   GET /v1/ready    → 200 { ready: true } when the storage is open and the engine takes work;
 *                      503 { ready: false, reason: 'starting' | 'draining' | 'closed' } otherwise   (no key)
 *                      (what a load balancer's health check asks).
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
  {
    method: 'GET',
    path: '/v1/ready',
    auth: 'none',
    async handler(r, ctx) {
      const readiness = ctx.drain?.readiness() ?? { ready: true };
      sendJson(r.res, readiness.ready ? 200 : 503, readiness);
    },
  },
];
