/**
 * How an engine that does not answer is reported, the one way for every
 * caller: the engine client's requests (src/client/engineApi.ts), the SDK's
 * `ready()` timing out, the CLI (which words it as `cannot reach the engine
 * at …` from the same error's details).
 */
import { AbloConnectionError } from '../errors.js';

/**
 * The engine does not answer at `baseURL`: one message for server reads and
 * for `ready()` timing out, so both point at the same fix. `errno`
 * (`ECONNREFUSED`, …) and `timedOut` are in the details when known.
 */
export function unreachableError(
  baseURL: string,
  cause?: string | null,
  context: { err?: unknown; method?: string; path?: string } = {},
): AbloConnectionError {
  const errno = context.err !== undefined ? fetchErrno(context.err) : undefined;
  const timedOut = context.err !== undefined && isTimeout(context.err);
  return new AbloConnectionError(`Cannot reach the Ablo engine at ${baseURL} — is it running (npx ablo dev)?${cause ? ` (${cause})` : ''}`, {
    code: 'unreachable',
    url: baseURL,
    ...(cause ? { reason: cause } : {}),
    ...(errno ? { errno } : {}),
    ...(timedOut ? { timedOut: true } : {}),
    ...(context.path !== undefined ? { path: context.path.split('?')[0] } : {}),
  });
}

/** Node's fetch says only "fetch failed"; the reason (ECONNREFUSED...) is in `cause`. */
export function fetchFailure(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string; code?: string } };
  const cause = e?.cause;
  return (cause && (cause.message || cause.code)) || e?.message || String(err);
}

/** `ECONNREFUSED`, `ENOTFOUND`, … of a failed fetch, when the platform says. */
function fetchErrno(err: unknown): string | undefined {
  const code = (err as { cause?: { code?: unknown } })?.cause?.code ?? (err as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

function isTimeout(err: unknown): boolean {
  const name = (err as { name?: unknown })?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}
