/**
 *   GET /v1/changes?after=N&limit=M   → { object: 'list', data: changes, hasMore, lastSyncId }
 */
import { AbloValidationError } from '../../errors.js';
import type { ChangesPage } from '../../protocol/api.js';
import { sendJson } from '../http.js';
import type { Route } from './types.js';

export const changesRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/changes',
    async handler(r, ctx) {
      const after = Number(r.url.searchParams.get('after') ?? '0');
      const limit = Number(r.url.searchParams.get('limit') ?? '1000');
      if (!Number.isInteger(after) || after < 0) throw new AbloValidationError('`after` must be a sync id (a whole number ≥ 0).', { code: 'invalid_query', field: 'after' });
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
        throw new AbloValidationError('`limit` must be a whole number from 1 to 10000.', { code: 'invalid_query', field: 'limit' });
      }
      // Only changes of the groups the principal may see (every change for an API key).
      const { changes, hasMore } = await ctx.guard.changes(r.principal, after, limit, (a, l) => ctx.storage.changesAfter(a, l));
      const data = changes.map(({ commitId: _c, ...c }) => c);
      const page: ChangesPage = { object: 'list', data, hasMore, lastSyncId: ctx.pipeline.currentSyncId };
      sendJson(r.res, 200, page);
    },
  },
];
