/**
 * Which browser origins may call the engine (CORS on HTTP, the `Origin`
 * check on WebSocket upgrades). One list of patterns:
 *
 * - an exact origin: `https://app.example.com`, `http://localhost:5173`
 *   (scheme, host and port; no path, query or credentials);
 * - a port wildcard for local development: `http://localhost:*` (that scheme
 *   and host on any port, or none);
 * - `*`: every origin, only when given explicitly.
 *
 * An empty list allows no cross-origin browser access. Requests without an
 * `Origin` header (servers, the CLI, the SDK on Node) are not affected.
 * Pure: used by the engine and by the CLI's config checks.
 */

/** `ablo dev`'s default: loopback on any port (Vite, Next.js and friends on localhost). */
export const LOCAL_DEV_ORIGINS: readonly string[] = Object.freeze([
  'http://localhost:*',
  'http://127.0.0.1:*',
  'http://[::1]:*',
  'https://localhost:*',
  'https://127.0.0.1:*',
  'https://[::1]:*',
]);

interface Pattern {
  protocol: string;
  hostname: string;
  /** Exact port ('' = the scheme's default), or null for any port. */
  port: string | null;
}

type Parsed = { pattern: Pattern } | { problem: string };

function parsePattern(text: string): Parsed {
  const trimmed = text.trim();
  if (trimmed !== text || text === '') return { problem: 'it is empty or has spaces around it' };
  const wildcard = text.endsWith(':*');
  const base = wildcard ? text.slice(0, -2) : text;
  let u: URL;
  try {
    u = new URL(base);
  } catch {
    return { problem: 'it is not an origin like https://app.example.com' };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return { problem: `the scheme must be http or https, not ${u.protocol.slice(0, -1)}` };
  if (u.username || u.password) return { problem: 'an origin has no user name or password' };
  if (u.search || u.hash || u.pathname !== '/' || base.endsWith('/') || base.includes('?') || base.includes('#')) {
    return { problem: 'an origin has no path, query or fragment (scheme://host[:port] only)' };
  }
  if (u.hostname.includes('*')) return { problem: 'only the port may be a wildcard (http://localhost:*), not the host' };
  if (wildcard && u.port !== '') return { problem: 'give either a port or :*, not both' };
  return { pattern: { protocol: u.protocol, hostname: u.hostname, port: wildcard ? null : u.port } };
}

/** Why `text` is not a usable origin pattern, or undefined when it is one. */
export function originPatternProblem(text: unknown): string | undefined {
  if (typeof text !== 'string') return `it must be a string, got ${JSON.stringify(text)}`;
  if (text === '*') return undefined;
  const parsed = parsePattern(text);
  return 'problem' in parsed ? parsed.problem : undefined;
}

/** An example of each accepted form, for error messages. */
export const ORIGIN_PATTERN_EXAMPLES = '"https://app.example.com", "http://localhost:*" (any port) or "*" (every origin)';

export interface OriginPolicy {
  /** True when `*` was configured: every origin is allowed and CORS answers `*`. */
  readonly any: boolean;
  /** Whether a request with this `Origin` header value may proceed (a missing header always may). */
  allows(origin: string | undefined): boolean;
}

/** The policy for `origins` (default none); a bad pattern throws an Error naming it and why. */
export function originPolicy(origins: readonly string[] = []): OriginPolicy {
  const any = origins.includes('*');
  const patterns: Pattern[] = [];
  for (const o of origins) {
    if (o === '*') continue;
    const parsed = parsePattern(o);
    if ('problem' in parsed) throw new Error(`CORS origin ${JSON.stringify(o)} is not usable: ${parsed.problem}. Use ${ORIGIN_PATTERN_EXAMPLES}.`);
    patterns.push(parsed.pattern);
  }
  return {
    any,
    allows(origin) {
      if (origin === undefined) return true;
      if (any) return true;
      let u: URL;
      try {
        u = new URL(origin);
      } catch {
        return false; // `null` (sandboxed frames, file://) and anything malformed
      }
      if (`${u.protocol}//${u.host}` !== origin.toLowerCase()) return false;
      return patterns.some((p) => p.protocol === u.protocol && p.hostname === u.hostname && (p.port === null || p.port === u.port));
    },
  };
}
