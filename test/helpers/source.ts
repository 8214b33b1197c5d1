/**
 * A small Data Source app for the `ablo/source` tests: a schema of tasks and
 * projects, handlers backed by in-memory maps (the app's "database"), an
 * outbox of external changes, and signed requests as the engine sends them.
 */
import { defineSchema, model, z } from '../../src/schema/index.js';
import {
  dataSource,
  generateSigningSecret,
  signAbloSourceRequest,
  SourceError,
  type SourceCommitRequest,
  type SourceEvent,
  type SourceRequest,
} from '../../src/source/index.js';

export const sourceSchema = defineSchema({
  tasks: model({ title: z.string().min(1), done: z.boolean().default(false), note: z.string().optional() }),
  projects: model({ name: z.string() }),
});

type Row = { id: string; [field: string]: unknown };

/** The app: its tables, its outbox, and how often each handler ran. */
export interface TaskApp {
  secret: string;
  tasks: Map<string, Row>;
  projects: Map<string, Row>;
  outbox: SourceEvent[];
  calls: { commit: number; authorize: number };
  handler: (request: Request) => Promise<Response>;
}

/**
 * The app's `dataSource()`: `authorize` takes the `x-app-tenant` header as the
 * auth context (refusing a request without one), `commit` applies operations
 * to the maps (refusing a stale update as `stale_context`), and a task titled
 * `BROKEN` comes back without its title (the app's bug, for the row check).
 */
export function createTaskApp(overrides: Partial<Parameters<typeof dataSource<typeof sourceSchema, { tenant: string }>>[0]> = {}): TaskApp {
  const secret = generateSigningSecret();
  const tables = { tasks: new Map<string, Row>(), projects: new Map<string, Row>() };
  const app: Omit<TaskApp, 'handler'> = { secret, ...tables, outbox: [], calls: { commit: 0, authorize: 0 } };
  const handler = dataSource({
    schema: sourceSchema,
    signingSecret: secret,
    authorize({ request }) {
      app.calls.authorize++;
      const tenant = request.headers.get('x-app-tenant');
      if (!tenant) throw new SourceError('permission_denied', 'No tenant on this request.', { status: 403 });
      return { tenant };
    },
    async commit({ operations }) {
      app.calls.commit++;
      const rows: Array<Row & { model: 'tasks' | 'projects' }> = [];
      for (const op of operations) {
        const table = tables[op.model as 'tasks' | 'projects'];
        const current = table.get(op.id);
        if (op.op === 'delete') {
          table.delete(op.id);
          continue;
        }
        if (op.op === 'update' && op.current && current && JSON.stringify(op.current.title) !== JSON.stringify(current.title)) {
          throw new SourceError('stale_context', `Task ${op.id} changed in the app since the engine read it.`, { fields: ['title'] });
        }
        const next: Row = { ...(op.op === 'create' ? { done: false } : current), ...op.data, id: op.id };
        table.set(op.id, next);
        const answer = next.title === 'BROKEN' ? { ...next, title: undefined } : next;
        rows.push({ ...answer, model: op.model as 'tasks' | 'projects' });
      }
      return { rows };
    },
    async events({ cursor, limit }) {
      const start = cursor ? Number(cursor) : 0;
      const page = app.outbox.slice(start, start + limit);
      return { events: page, nextCursor: page.length > 0 ? String(start + page.length) : cursor };
    },
    tasks: {
      load: ({ id }) => (tables.tasks.get(id) as never) ?? null,
      list: ({ cursor, limit }) => {
        const all = [...tables.tasks.values()].sort((a, b) => a.id.localeCompare(b.id));
        const start = cursor ? all.findIndex((r) => r.id > cursor) : 0;
        const rows = start < 0 ? [] : all.slice(start, start + limit);
        const last = rows.at(-1);
        return { rows: rows as never[], nextCursor: rows.length === limit && last ? last.id : null };
      },
    },
    ...overrides,
  });
  return { ...app, handler };
}

/** A commit request as the engine sends it. */
export function commitBody(clientTxId: string, operations: SourceCommitRequest['operations']): SourceCommitRequest {
  return {
    type: 'commit',
    source: 'app',
    clientTxId,
    operations,
    scope: { participant: { kind: 'user', id: 'u1' }, groups: '*', requiredGroups: ['default'] },
  };
}

/** Headers of a signed request: the three Standard Webhooks headers, JSON, and the app's tenant header. */
export function signedHeaders(text: string, secret: string, extra: Record<string, string> = { 'x-app-tenant': 'acme' }): Record<string, string> {
  return { 'content-type': 'application/json', ...signAbloSourceRequest(text, secret), ...extra };
}

/** A signed POST of `body` to `url`, as a web `Request`. */
export function signedRequest(body: SourceRequest | unknown, secret: string, url = 'http://app.test/api/ablo', extra?: Record<string, string>): Request {
  const text = JSON.stringify(body);
  return new Request(url, { method: 'POST', headers: signedHeaders(text, secret, extra), body: text });
}
