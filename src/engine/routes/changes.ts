/**
 *   GET /v1/changes?after=N&limit=M[&participant=kind:id][&model=m][&id=x]
 *     → { object: 'list', data: changes, hasMore, lastSyncId }
 *
 * The change log, and its audit filters: `participant` (changes it wrote or
 * that were written on its behalf), `model`, `id` (a row id: of `model` when
 * given, else of any model). Filtered in the storage (`changesWhere`); a
 * scoped principal still gets only the changes of groups it may see.
 */
import { AbloValidationError } from '../../errors.js';
import type { ChangesPage } from '../../protocol/api.js';
import { participantSchema, rowIdSchema } from '../../protocol/commit.js';
import { sendJson } from '../http.js';
import type { ChangeFilter } from '../storage/types.js';
import type { Route } from './types.js';

/** A model name as schemas spell them (the log keeps models that were dropped since, so any such name may be asked for). */
const MODEL_NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

function invalid(field: string, message: string): AbloValidationError {
  return new AbloValidationError(message, { code: 'invalid_query', field });
}

/** The audit filters of a `GET /v1/changes` query; 400 `invalid_query` (with `field`) for a bad one. */
export function changeFilterFrom(params: URLSearchParams): ChangeFilter {
  const filter: ChangeFilter = {};
  const participant = params.get('participant');
  if (participant !== null) {
    const at = participant.indexOf(':');
    const parsed = at > 0 ? participantSchema.safeParse({ kind: participant.slice(0, at), id: participant.slice(at + 1) }) : null;
    if (!parsed?.success) {
      throw invalid('participant', '`participant` must look like kind:id, kind one of user, agent, system (e.g. user:ana).');
    }
    filter.participant = parsed.data;
  }
  const model = params.get('model');
  if (model !== null) {
    if (!MODEL_NAME.test(model)) throw invalid('model', '`model` must be a model name (a letter, then letters, digits or _; at most 63).');
    filter.model = model;
  }
  const id = params.get('id');
  if (id !== null) {
    if (!rowIdSchema.safeParse(id).success) throw invalid('id', '`id` must be a row id (1 to 128 of letters, digits and _ - : .).');
    filter.id = id;
  }
  return filter;
}

export const changesRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/changes',
    async handler(r, ctx) {
      const after = Number(r.url.searchParams.get('after') ?? '0');
      const limit = Number(r.url.searchParams.get('limit') ?? '1000');
      if (!Number.isInteger(after) || after < 0) throw invalid('after', '`after` must be a sync id (a whole number ≥ 0).');
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw invalid('limit', '`limit` must be a whole number from 1 to 10000.');
      const filter = changeFilterFrom(r.url.searchParams);
      // Only changes of the groups the principal may see (every change for an API key).
      const { changes, hasMore } = await ctx.guard.changes(r.principal, after, limit, (a, l) => ctx.storage.changesWhere(filter, a, l));
      const data = changes.map(({ commitId: _c, ...c }) => c);
      const page: ChangesPage = { object: 'list', data, hasMore, lastSyncId: ctx.pipeline.currentSyncId };
      sendJson(r.res, 200, page);
    },
  },
];
