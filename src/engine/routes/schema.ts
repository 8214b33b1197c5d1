/**
 *   GET  /v1/schema   → { object: 'schema', version, hash, schema }
 *   POST /v1/schema   { schema, dryRun?, allowDestructive?, renames? } → { object: 'schema_push', plan, applied, reason?, version, hash }
 */
import { z } from 'zod';
import type { SchemaDocument, SchemaPushAnswer } from '../../protocol/api.js';
import { parseWire } from '../../protocol/parse.js';
import { sendJson } from '../http.js';
import type { Route } from './types.js';

const pushBodySchema = z.strictObject({
  schema: z.unknown(),
  dryRun: z.boolean().optional(),
  allowDestructive: z.boolean().optional(),
  renames: z.record(z.string(), z.string()).optional(),
});

export const schemaRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/schema',
    async handler(r, ctx) {
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
