/**
 * A secret API key (`sk_test_…`, `sk_live_…`) can do anything the engine
 * allows: in a web page, whoever opens the page can read it. The SDK warns
 * (once per client) when it is given one in a browser; on Node (servers,
 * scripts, agents) secret keys are what it is for and nothing is said.
 */

const SECRET_KEY = /^sk_(test|live)_/;

/** True in a page or a web worker (a `window` with a `document`, or a worker global); false on Node, Deno, Bun. */
export function isBrowserScope(scope: Record<string, unknown>): boolean {
  const win = scope.window as { document?: unknown } | undefined;
  if (win && typeof win === 'object' && win.document !== undefined) return true;
  return typeof scope.importScripts === 'function' && typeof scope.navigator === 'object';
}

/** The warning for `apiKey` used from `scope`, or undefined when there is nothing to say. */
export function secretKeyWarning(apiKey: string, scope: Record<string, unknown>): string | undefined {
  if (!SECRET_KEY.test(apiKey) || !isBrowserScope(scope)) return undefined;
  const kind = apiKey.startsWith('sk_live_') ? 'a live secret key' : 'a secret key';
  return (
    `Ablo was given ${kind} (${apiKey.slice(0, 12)}…) in a browser: anyone who opens this page can read it and do anything with it. ` +
    'In a browser use a short-lived session your server mints for the signed-in user (see docs/react.md), and keep secret keys on servers.'
  );
}
