/**
 * A raw protocol client for benches: one `ws` socket speaking the sync
 * protocol's frames directly (no SDK), with request/answer matching by `ref`.
 * Every frame is parsed, as any real client must; frames without a pending
 * `ref` (changes, claims pushes) are counted and dropped.
 */
import { closeAll, hello, openSocket } from './ws-client.js';

let seq = 0;
/** A process-unique token for refs and idempotency keys. */
export const nextToken = (prefix) => `${prefix}_${process.pid}_${(++seq).toString(36)}`;

export class RawClient {
  /** Connect, say hello (`frame`: apiKey, groups, participant…) and wait for bootstrap_done. */
  static async connect(url, frame) {
    const ws = await openSocket(url);
    const client = new RawClient(ws);
    await hello(ws, frame, { after: (text) => client.onText(text) });
    return client;
  }

  constructor(ws) {
    this.ws = ws;
    this.pending = new Map();
    this.unmatched = 0;
  }

  onText(text) {
    const f = JSON.parse(text);
    const p = f.ref === undefined ? undefined : this.pending.get(f.ref);
    if (!p) {
      this.unmatched++;
      return;
    }
    this.pending.delete(f.ref);
    if (f.type === 'error') {
      const e = f.error ?? {};
      p.reject(Object.assign(new Error(`${e.type}/${e.code}: ${e.message}`), { type: e.type, code: e.code }));
    } else p.resolve(f);
  }

  /** Send `frame` with a fresh ref; resolves with the answer carrying that ref (rejects on an error frame). */
  request(frame) {
    const ref = nextToken('r');
    return new Promise((resolve, reject) => {
      this.pending.set(ref, { resolve, reject });
      this.ws.send(JSON.stringify({ ...frame, ref }));
    });
  }

  /** One commit with its own idempotency key; resolves with the receipt once the engine confirms it. */
  async commit(operations, extra = {}) {
    const f = await this.request({ type: 'commit', commit: { operations, idempotencyKey: nextToken('rawtx'), ...extra } });
    if (f.type !== 'receipt') throw new Error(`expected a receipt, got ${f.type}`);
    if (f.receipt.status !== 'committed') throw new Error(`commit ${f.receipt.status}`);
    return f.receipt;
  }

  close() {
    return closeAll([this.ws]);
  }
}
