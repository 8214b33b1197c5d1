/**
 *   GET /v1/openapi.json   → the OpenAPI 3.1 document for the current schema   (no key)
 */
import { sendJson } from '../http.js';
import type { Route } from './types.js';

export const openapiRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/openapi.json',
    auth: 'none',
    async handler(r, ctx) {
      sendJson(r.res, 200, ctx.openapi(ctx.schema.current(), `http://${r.req.headers.host ?? 'localhost'}`));
    },
  },
];
