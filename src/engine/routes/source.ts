/**
 *   POST /v1/source/:name/events   the app's outbox → the engine   (no key: signed with the source's secret)
 *     body { events?: SourceEvent[] }: the events are applied (each id once, echoes dropped), then the engine
 *     pulls the source's `events` at once. An empty body is "pull now".
 *     → 200 { applied, skipped }
 *   GET  /v1/sources                  → { sources: { <name>: { transport, models, connected?, ready, lastError } } }
 *
 * The push is verified like the engine's own requests to the source (Standard Webhooks: `webhook-id`,
 * `webhook-timestamp`, `webhook-signature`, 5-minute window, a replayed id + timestamp refused), on the raw
 * body before it is parsed. A wrong signature is 401 `invalid_signature`.
 */
import { abloError, AbloAuthenticationError } from '../../errors.js';
import { parseJson } from '../../protocol/json.js';
import { sourceEventsPushSchema } from '../../protocol/source.js';
import { ReplayGuard, SourceSignatureError, verifyAbloSourceRequest } from '../../source/signature.js';
import { readBody, sendJson } from '../http.js';
import type { SourceService } from '../source/service.js';
import type { Route } from './types.js';

export function sourceRoutes(sources: SourceService): Route[] {
  const replay = new ReplayGuard();
  return [
    {
      method: 'POST',
      path: '/v1/source/:name/events',
      auth: 'none',
      async handler(r, ctx) {
        const name = r.params.name!;
        if (!sources.has(name)) throw abloError('source_not_found', { name });
        const raw = await readBody(r.req, ctx.maxBodyBytes);
        try {
          verifyAbloSourceRequest({ headers: r.req.headers, body: raw }, sources.config(name).signingSecret, { replay });
        } catch (err) {
          if (!(err instanceof SourceSignatureError)) throw err;
          throw new AbloAuthenticationError(`Push to source "${name}" refused: ${err.message}`, { code: 'invalid_signature', reason: err.reason });
        }
        const text = raw.toString('utf8');
        const json = text.trim() === '' ? {} : parseJson(text, { envelope: 5 });
        const parsed = sourceEventsPushSchema.safeParse(json);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw abloError('invalid_request', { reason: `${issue?.path.join('.') || '(body)'}: ${issue?.message ?? 'wrong shape'}` });
        }
        const result = await sources.pushed(name, parsed.data.events ?? []);
        sendJson(r.res, 200, { applied: result.changes.length, skipped: result.skipped });
      },
    },
    {
      method: 'GET',
      path: '/v1/sources',
      async handler(r) {
        sendJson(r.res, 200, { sources: sources.health() });
      },
    },
  ];
}
