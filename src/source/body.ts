/**
 * Reading a request body as text with a size limit. The signature covers the
 * exact bytes, so the body is read raw, once, before anything parses it; the
 * limit stops a client from making the handler buffer an unbounded body.
 */

/** Largest body a source accepts (a commit of many rows fits well within it). */
export const MAX_SOURCE_BODY_BYTES = 8 * 1024 * 1024;

/** The body was over the limit. */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`The request body is over ${limit} bytes.`);
    this.name = 'BodyTooLargeError';
  }
}

/** Concatenate chunks and decode them as UTF-8 (a multi-byte character may span chunks). */
export function decodeChunks(chunks: readonly Uint8Array[], total: number): string {
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

/**
 * The body of a web `Request` as text; `BodyTooLargeError` past `limit`
 * bytes, checked on `content-length` first and then while streaming (the
 * header may be absent or wrong).
 */
export async function readBodyText(request: Request, limit = MAX_SOURCE_BODY_BYTES): Promise<string> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError(limit);
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLargeError(limit);
    }
    chunks.push(value);
  }
  return decodeChunks(chunks, total);
}
