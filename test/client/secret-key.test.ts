/**
 * A secret API key in a browser gets a warning from the SDK; on Node (servers,
 * scripts, agents: what secret keys are for) nothing is said. The browser
 * cases call the plain function the client uses with the global scope a page
 * and a worker have; the Node case is a real client against a real engine.
 */
import { afterEach, describe, expect, test } from 'vitest';
import Ablo from '../../src/index.js';
import { isBrowserScope, secretKeyWarning } from '../../src/client/secretKey.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine } from '../../src/testing/index.js';

const schema = defineSchema({ notes: model({ body: z.string() }) });
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const page = { window: { document: {} }, navigator: {} };
const worker = { importScripts: () => undefined, navigator: {} };

describe('secret keys in a browser', () => {
  test('a page or a worker is a browser; Node is not', () => {
    expect(isBrowserScope(page)).toBe(true);
    expect(isBrowserScope(worker)).toBe(true);
    expect(isBrowserScope(globalThis as unknown as Record<string, unknown>)).toBe(false);
  });

  test('sk_test_ and sk_live_ keys in a page are warned about, with the key prefix only and the fix', () => {
    const key = `sk_live_${'a'.repeat(32)}`;
    const w = secretKeyWarning(key, page)!;
    expect(w).toMatch(/live secret key \(sk_live_aaaa…\) in a browser/);
    expect(w).not.toContain(key);
    expect(w).toMatch(/session your server mints/);
    expect(secretKeyWarning(`sk_test_${'b'.repeat(32)}`, worker)).toMatch(/a secret key/);
    // A restricted key is a long-lived server credential too.
    expect(secretKeyWarning(`rk_test_${'c'.repeat(32)}`, page)).toMatch(/a restricted key \(rk_test_cccc…\) in a browser/);
    // Anything that is not a key (a session token) is fine in a browser.
    expect(secretKeyWarning('sess_abc', page)).toBeUndefined();
  });

  test('a real client on Node with a secret key says nothing', async () => {
    const e = await startTestEngine({ schema });
    cleanups.push(() => e.stop());
    expect(e.apiKey).toMatch(/^sk_test_/);
    const warnings: string[] = [];
    const c = Ablo({ schema, apiKey: e.apiKey, baseURL: e.url, logger: { warn: (m) => warnings.push(m) } });
    cleanups.push(() => c.dispose());
    await c.ready();
    expect(warnings).toEqual([]);
  });
});
