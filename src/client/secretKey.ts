/**
 * A secret API key (`sk_test_…`, `sk_live_…`) can do anything the engine
 * allows, and a restricted key (`rk_…`) what it was made for, until revoked:
 * in a web page, whoever opens the page can read it. The SDK warns (once per
 * client) when it is given one in a browser; on Node (servers, scripts,
 * agents) keys are what it is for and nothing is said.
 */

const SERVER_KEY = /^(sk|rk)_(test|live)_/;

/** True in a page or a web worker (a `window` with a `document`, or a worker global); false on Node, Deno, Bun. */
export function isBrowserScope(scope: Record<string, unknown>): boolean {
  const win = scope.window as { document?: unknown } | undefined;
  if (win && typeof win === 'object' && win.document !== undefined) return true;
  return typeof scope.importScripts === 'function' && typeof scope.navigator === 'object';
}

/** The warning for `apiKey` used from `scope`, or undefined when there is nothing to say. */
export function secretKeyWarning(apiKey: string, scope: Record<string, unknown>): string | undefined {
  if (!SERVER_KEY.test(apiKey) || !isBrowserScope(scope)) return undefined;
  const restricted = apiKey.startsWith('rk_');
  const kind = `${apiKey.slice(3, 7) === 'live' ? 'a live ' : 'a '}${restricted ? 'restricted key' : 'secret key'}`;
  // A restricted key never expires and is not bound to the person using the page: it is as shareable as the page.
  const what = restricted ? 'use it for as long as the key lives, as whoever it acts for' : 'do anything with it';
  return (
    `Ablo was given ${kind} (${apiKey.slice(0, 12)}…) in a browser: anyone who opens this page can read it and ${what}. ` +
    'In a browser use a short-lived session your server mints for the signed-in user (see docs/react.md), and keep secret keys on servers.'
  );
}
