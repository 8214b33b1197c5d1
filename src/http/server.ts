/**
 * Node HTTP server helpers shared by the engine's routes and by `/mcp`
 * (mcp/http.ts): reading a body with a size limit, and the bearer token of a
 * request. Neither side owns them, so neither depends on the other.
 */
import type { IncomingMessage } from 'node:http';
import { AbloTooLargeError } from '../errors.js';

/** Read the body up to `limit` bytes; a larger body fails with 413 without buffering it. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(new AbloTooLargeError(`Request body is ${declared} bytes; the limit is ${limit}. Split the write into smaller commits.`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(new AbloTooLargeError(`Request body is over the ${limit}-byte limit. Split the write into smaller commits.`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
    });
  });
}

/** The bearer token of a request (`Authorization: Bearer <key>`; a bare value is accepted too). */
export function bearer(req: Pick<IncomingMessage, 'headers'>): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m ? m[1]!.trim() : h.trim();
}
