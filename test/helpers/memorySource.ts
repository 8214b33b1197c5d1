/**
 * A Data Source for engine tests: a real HTTP server on port 0 that verifies
 * every request's signature and keeps rows in memory, with an outbox. It
 * checks versions itself (a commit whose `current` differs from its row on a
 * written field is `stale_context`), dedupes commits by clientTxId, and can
 * be told to fail (`failNext`: answers 500 that many times; `down`: closes
 * connections). `external()` writes a row as the app would, outside Ablo.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SourceEvent, SourceRequest } from '../../src/protocol/source.js';
import { generateSigningSecret, ReplayGuard, verifyAbloSourceRequest } from '../../src/source/signature.js';

type Row = Record<string, unknown> & { id: string };

export interface MemorySource {
  url: string;
  secret: string;
  rows: Map<string, Map<string, Row>>;
  outbox: SourceEvent[];
  /** Requests received, by type (retries included). */
  received: Record<string, number>;
  /** Commits applied (dedupe hits not counted). */
  applied: number;
  failNext: number;
  down: boolean;
  /** When set, a commit is applied and then answered with this body instead (200): a broken app. */
  garbleCommit: string | null;
  /** Runs before a commit is answered (after it is applied): tests crash the engine here. */
  onCommitApplied: ((clientTxId: string) => Promise<void> | void) | null;
  external(model: string, id: string, data: Record<string, unknown> | null): void;
  table(model: string): Map<string, Row>;
  close(): Promise<void>;
}

export async function startMemorySource(options: { secret?: string; handlers?: { events?: boolean; list?: boolean } } = {}): Promise<MemorySource> {
  const secret = options.secret ?? generateSigningSecret();
  const replay = new ReplayGuard();
  const dedupe = new Map<string, unknown>();
  let seq = 0;
  const src: MemorySource = {
    url: '',
    secret,
    rows: new Map(),
    outbox: [],
    received: {},
    applied: 0,
    failNext: 0,
    down: false,
    onCommitApplied: null,
    garbleCommit: null,
    table(model) {
      let t = src.rows.get(model);
      if (!t) src.rows.set(model, (t = new Map()));
      return t;
    },
    external(model, id, data) {
      const t = src.table(model);
      const existed = t.has(id);
      if (data) t.set(id, { ...(t.get(id) ?? {}), ...data, id });
      else t.delete(id);
      src.outbox.push({ id: `ev_${++seq}`, model, entityId: id, type: data ? (existed ? 'update' : 'create') : 'delete', data: data ? t.get(id)! : null, clientTxId: null });
    },
    close: async () => {},
  };

  const answer = async (body: SourceRequest): Promise<[number, unknown]> => {
    switch (body.type) {
      case 'commit': {
        if (dedupe.has(body.clientTxId)) return [200, dedupe.get(body.clientTxId)];
        for (const op of body.operations) {
          const row = src.table(op.model).get(op.id) ?? null;
          if (op.op === 'create' && row) return [409, { error: { code: 'id_exists', message: `${op.id} exists` } }];
          if (op.op !== 'create' && !row) return [404, { error: { code: 'row_not_found', message: `${op.id} is gone` } }];
          if (op.op !== 'create' && op.onStale !== 'overwrite' && op.current && row) {
            const fields = op.op === 'update' ? Object.keys(op.data ?? {}) : Object.keys(op.current);
            const moved = fields.filter((f) => f !== 'id' && JSON.stringify(row[f] ?? null) !== JSON.stringify(op.current![f] ?? null));
            if (moved.length > 0) return [409, { error: { code: 'stale_context', message: `${moved.join(', ')} changed in the app`, fields: moved } }];
          }
        }
        const rows: Row[] = [];
        for (const op of body.operations) {
          const t = src.table(op.model);
          if (op.op === 'delete') t.delete(op.id);
          else t.set(op.id, { ...(t.get(op.id) ?? {}), ...op.data, id: op.id });
          if (op.op !== 'delete') rows.push({ ...t.get(op.id)!, model: op.model });
          src.outbox.push({
            id: `ev_${++seq}`,
            model: op.model,
            entityId: op.id,
            type: op.op,
            data: op.op === 'delete' ? null : t.get(op.id)!,
            clientTxId: body.clientTxId,
          });
        }
        src.applied++;
        const res = { rows };
        dedupe.set(body.clientTxId, res);
        await src.onCommitApplied?.(body.clientTxId);
        return [200, res];
      }
      case 'load':
        return [200, { rows: body.ids.map((id) => src.table(body.model).get(id)).filter(Boolean) }];
      case 'list': {
        if (options.handlers?.list === false) return [404, { error: { code: 'not_supported' } }];
        const all = [...src.table(body.model).values()].sort((a, b) => (a.id < b.id ? -1 : 1));
        const start = body.cursor ? all.findIndex((r) => r.id > body.cursor!) : 0;
        const page = start < 0 ? [] : all.slice(start, start + body.limit);
        return [200, { rows: page, nextCursor: page.length === body.limit ? page[page.length - 1]!.id : null }];
      }
      case 'events': {
        if (options.handlers?.events === false) return [404, { error: { code: 'not_supported' } }];
        const from = body.cursor ? Number(body.cursor) : 0;
        const events = src.outbox.slice(from, from + body.limit);
        return [200, { events, nextCursor: String(from + events.length) }];
      }
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        if (src.down) {
          req.socket.destroy();
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        try {
          verifyAbloSourceRequest({ headers: req.headers, body: raw }, secret, { replay });
        } catch (err) {
          res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'invalid_signature', message: (err as Error).message } }));
          return;
        }
        const body = JSON.parse(raw) as SourceRequest;
        src.received[body.type] = (src.received[body.type] ?? 0) + 1;
        if (src.failNext > 0 && body.type === 'commit') {
          src.failNext--;
          res.writeHead(500).end('boom');
          return;
        }
        const [status, out] = await answer(body);
        if (res.destroyed) return;
        if (body.type === 'commit' && src.garbleCommit !== null) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(src.garbleCommit);
          return;
        }
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(out));
      })().catch((err) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  src.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ablo`;
  src.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return src;
}
