/**
 * The engine's route table, one module per resource:
 *
 *   health.ts    GET  /v1/health · GET /v1/ready          (no key)
 *   openapi.ts   GET  /v1/openapi.json                    (no key)
 *   schema.ts    GET  POST /v1/schema
 *   commits.ts   POST /v1/commits
 *   changes.ts   GET  /v1/changes
 *   models.ts    GET  POST /v1/models/:model · GET PATCH DELETE /v1/models/:model/:id
 *   claims.ts    GET  POST /v1/models/:model/:id/claim · DELETE /v1/claims/:claimId · POST /v1/claims/:claimId/renew
 *   keys.ts      GET  POST /v1/keys · DELETE /v1/keys/:id
 *   sessions.ts  POST /v1/sessions · DELETE /v1/sessions/:id
 *   me.ts        GET  /v1/me                              (any valid credential)
 *   presence.ts  GET  /v1/presence?group=<group>
 *
 * Extra routes (`createEngine({ routes })`) are mounted after these with
 * `mountRoutes`; a mount gets a `RouteHost`, never the engine's internals.
 */
import type { ClaimStore } from '../claims/store.js';
import type { PresenceService } from '../presence/service.js';
import { changesRoutes } from './changes.js';
import { claimRoutes } from './claims.js';
import { commitsRoutes } from './commits.js';
import { healthRoutes } from './health.js';
import { keysRoutes } from './keys.js';
import { meRoutes } from './me.js';
import { modelsRoutes } from './models.js';
import { openapiRoutes } from './openapi.js';
import { presenceRoutes } from './presence.js';
import { schemaRoutes } from './schema.js';
import { sessionsRoutes } from './sessions.js';
import type { EngineRoute, Route, RouteHost } from './types.js';

export type { EngineRoute, HttpMethod, KeyRoute, OpenRoute, OpenRouteRequest, Route, RouteHost, RouteMount, RouteMounter, RouteRequest, SchemaChanged } from './types.js';

export function engineRoutes(claims: ClaimStore, presence: PresenceService): Route[] {
  return [
    ...healthRoutes,
    ...openapiRoutes,
    ...schemaRoutes,
    ...commitsRoutes,
    ...changesRoutes,
    ...modelsRoutes,
    ...claimRoutes(claims),
    ...keysRoutes,
    ...sessionsRoutes,
    ...meRoutes,
    ...presenceRoutes(presence),
  ];
}

/** Mount the extra routes: plain routes as they are, mounts with the host; `close` closes every mount (first, when the engine closes). */
export function mountRoutes(extra: readonly EngineRoute[], host: RouteHost): { routes: Route[]; close(): Promise<void> } {
  const routes: Route[] = [];
  const closers: Array<() => Promise<void>> = [];
  for (const entry of extra) {
    if (typeof entry !== 'function') {
      routes.push(entry);
      continue;
    }
    const mount = entry(host);
    routes.push(...mount.routes);
    if (mount.close) closers.push(() => mount.close!());
  }
  return {
    routes,
    async close() {
      for (const close of closers) {
        await close().catch((err: unknown) => host.log(`closing mounted routes failed: ${(err as Error)?.message ?? String(err)}`));
      }
    },
  };
}
