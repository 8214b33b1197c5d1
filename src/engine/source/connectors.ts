/**
 * The engine's end of the reverse channel: a source inside a private network
 * dials out (`createSourceConnector` in `ablo/source`) to
 * `GET /v1/source/connect?source=<name>` with subprotocol `ablo.source.v1`
 * and a secret key; the engine then sends that source's signed requests down
 * the socket (the same bytes as over HTTP) and reads the answers.
 *
 * Only a source configured without a `url` takes connectors. The newest
 * socket of a source serves it. A request sent on a socket that closes
 * before it answers fails at once, and the client retries it (same
 * `webhook-id`) on the next socket; with no socket, a request waits for one
 * up to its timeout. Revoking the key closes its sockets (code 4003).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { AbloError, abloError, AbloServerError } from '../../errors.js';
import { connectorResponseFrameSchema, SOURCE_SUBPROTOCOL, type ConnectorRequestFrame } from '../../protocol/source.js';
import type { Guard } from '../auth/guard.js';
import { refuseUpgrade } from '../http.js';
import type { SourceAnswer, SourceTransport } from './client.js';

interface Pending {
  resolve(answer: SourceAnswer): void;
  reject(err: Error): void;
}

interface Link {
  ws: WebSocket;
  credentialId: string;
  pending: Map<string, Pending>;
  /** Answered the last ping (a connection that died without closing stops answering). */
  alive: boolean;
}

/** How often connector sockets are pinged; one without a pong by the next ping is ended. */
const PING_MS = 15_000;

export class ConnectorHub {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has(SOURCE_SUBPROTOCOL) ? SOURCE_SUBPROTOCOL : false),
  });
  private readonly links = new Map<string, Link>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private seq = 0;
  private closed = false;
  private readonly pinger: NodeJS.Timeout;

  constructor(
    /** Sources that take connectors (configured without a url). */
    private readonly names: ReadonlySet<string>,
    private readonly guard: Guard,
    private readonly log: (line: string) => void,
  ) {
    this.pinger = setInterval(() => {
      for (const [name, link] of this.links) {
        if (!link.alive) {
          link.ws.terminate();
          this.drop(name, link);
          continue;
        }
        link.alive = false;
        link.ws.ping();
      }
    }, PING_MS);
    this.pinger.unref?.();
    guard.onRevoked((e) => {
      for (const [name, link] of this.links) {
        if (link.credentialId === e.credentialId) {
          link.ws.close(4003, 'credential revoked');
          this.drop(name, link);
        }
      }
    });
  }

  /** Is a connector serving `source` now? */
  connected(source: string): boolean {
    return this.links.has(source);
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://engine.local');
    const asked = url.searchParams.get('source') ?? (this.names.size === 1 ? [...this.names][0]! : '');
    if (!this.names.has(asked)) {
      refuseUpgrade(socket, abloError('source_not_found', { name: asked || '(none given: add ?source=<name>)' }));
      return;
    }
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!offered.includes(SOURCE_SUBPROTOCOL)) {
      refuseUpgrade(socket, abloError('invalid_request', { reason: `the connector must offer the ${SOURCE_SUBPROTOCOL} subprotocol` }));
      return;
    }
    const auth = req.headers.authorization;
    const key = auth ? (/^Bearer\s+(.+)$/i.exec(auth.trim())?.[1] ?? '').trim() : '';
    this.guard.authenticate(key || undefined).then(
      (principal) => {
        if (principal.kind !== 'secret') {
          refuseUpgrade(socket, abloError('secret_key_required'));
          return;
        }
        this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(asked, ws, principal.credentialId));
      },
      (err: unknown) => refuseUpgrade(socket, err instanceof AbloError ? err : new AbloServerError()),
    );
  }

  private attach(source: string, ws: WebSocket, credentialId: string): void {
    if (this.closed) {
      ws.close(1001, 'engine closing');
      return;
    }
    const link: Link = { ws, credentialId, pending: new Map(), alive: true };
    ws.on('pong', () => {
      link.alive = true;
    });
    const previous = this.links.get(source);
    this.links.set(source, link);
    if (previous) previous.ws.close(4000, 'replaced by a newer connector');
    this.log(`source ${source}: connector attached`);
    ws.send(JSON.stringify({ type: 'ready', source }));
    ws.on('message', (data) => {
      let frame;
      try {
        frame = connectorResponseFrameSchema.parse(JSON.parse(String(data)));
      } catch {
        ws.close(4400, 'malformed frame');
        return;
      }
      const pending = link.pending.get(frame.id);
      if (!pending) return;
      link.pending.delete(frame.id);
      pending.resolve({ status: frame.status, body: frame.body });
    });
    ws.on('close', () => this.drop(source, link));
    ws.on('error', () => this.drop(source, link));
    for (const wake of this.waiters.get(source) ?? []) wake();
  }

  private drop(source: string, link: Link): void {
    if (this.links.get(source) === link) this.links.delete(source);
    for (const p of link.pending.values()) p.reject(new Error('the connector disconnected before answering'));
    link.pending.clear();
  }

  /** The transport for `source`'s client. */
  transport(source: string): SourceTransport {
    return {
      describe: `the reverse channel of "${source}"`,
      send: (headers, body, timeoutMs) => this.send(source, headers, body, timeoutMs),
    };
  }

  private async send(source: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<SourceAnswer> {
    const deadline = Date.now() + timeoutMs;
    const link = this.links.get(source) ?? (await this.waitForLink(source, timeoutMs));
    if (!link) throw new Error('no connector is attached');
    const id = `req_${++this.seq}`;
    return new Promise<SourceAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        link.pending.delete(id);
        const e = new Error('timed out');
        e.name = 'TimeoutError';
        reject(e);
      }, Math.max(1, deadline - Date.now()));
      link.pending.set(id, {
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      const frame: ConnectorRequestFrame = { type: 'request', id, headers, body };
      link.ws.send(JSON.stringify(frame), (err) => {
        if (!err) return;
        link.pending.delete(id);
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  private waitForLink(source: string, timeoutMs: number): Promise<Link | null> {
    return new Promise((resolve) => {
      let set = this.waiters.get(source);
      if (!set) this.waiters.set(source, (set = new Set()));
      const wake = (): void => {
        clearTimeout(timer);
        set!.delete(wake);
        resolve(this.links.get(source) ?? null);
      };
      const timer = setTimeout(wake, timeoutMs);
      set.add(wake);
    });
  }

  close(): void {
    this.closed = true;
    clearInterval(this.pinger);
    for (const [source, link] of this.links) {
      link.ws.close(1001, 'engine closing');
      this.drop(source, link);
    }
    for (const set of this.waiters.values()) for (const wake of [...set]) wake();
    this.wss.close();
  }
}
