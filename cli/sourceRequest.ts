/**
 * One signed Data Source request from the CLI (`ablo source test`): a JSON
 * POST to the app's endpoint, signed per Standard Webhooks with every secret
 * of the source (as the engine signs), and what came back — or why nothing
 * did. Uses `node:http` / `node:https` (the CLI calls `fetch` only through the
 * engine API client, and this is not the engine).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { signAbloSourceRequest } from '../src/source/signature.js';

/** At most this much of an answer is read (a source answer to `limit: 1` is small). */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

export type SourceAnswer =
  | { kind: 'answer'; status: number; body: string; ms: number }
  | { kind: 'unreachable'; reason: string; errno?: string; ms: number }
  | { kind: 'timeout'; ms: number };

/** POST `payload` (as JSON) to `url`, signed with `secrets`; never throws. */
export function postSigned(url: string, payload: unknown, secrets: readonly string[], timeoutMs: number): Promise<SourceAnswer> {
  const body = JSON.stringify(payload);
  const headers = { ...signAbloSourceRequest(body, secrets), 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (answer: SourceAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      finish({ kind: 'unreachable', reason: 'not a URL', ms: 0 });
      return;
    }
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { method: 'POST', headers }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
      });
      res.on('end', () => finish({ kind: 'answer', status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: elapsed() }));
      res.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'unreachable', reason: err.message, ...(err.code ? { errno: err.code } : {}), ms: elapsed() }));
    });
    const timer = setTimeout(() => {
      finish({ kind: 'timeout', ms: elapsed() });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'unreachable', reason: err.message, ...(err.code ? { errno: err.code } : {}), ms: elapsed() }));
    req.end(body);
  });
}
