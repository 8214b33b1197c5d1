/**
 * examples/board in Chromium: page A's socket cut by a proxy between page
 * and engine (a browser's "offline" mode does not close open WebSockets).
 */
import { describe, expect, it } from 'vitest';
import { boardBrowser, changeCount, eventually } from '../helpers/browser.js';
import { relay } from '../helpers/relay.js';

const { stack } = boardBrowser();

describe('offline in the browser', () => {
  it('A goes offline when its socket is cut, edits, and the edit arrives exactly once when the connection is back', async () => {
    const s = await stack();
    const proxy = await relay(Number(new URL(s.engine.url).port));
    try {
      const a = await s.open('ana', { engineUrl: proxy.url });
      const b = await s.open('ben');
      const id = 'launch-3';
      const before = await changeCount(s, id);
      expect(before).toBe(1); // its create

      await proxy.cut();
      await eventually(() => a.page.getByTestId('connection').getAttribute('data-status'), 'offline');
      expect(await b.page.getByTestId('connection').getAttribute('data-status')).toBe('live');

      await a.card(id).getByTestId('edit').click();
      await a.card(id).getByTestId('title-input').fill('Check the changelog (offline edit)');
      await a.card(id).getByTestId('title-input').press('Enter');
      // Shown on A at once; not on B, not in the engine.
      expect(await a.card(id).getByTestId('task-title').textContent()).toBe('Check the changelog (offline edit)');
      await new Promise((r) => setTimeout(r, 500));
      expect(await b.card(id).getByTestId('task-title').textContent()).toBe('Check the changelog');
      expect(await changeCount(s, id)).toBe(before);
      // The badge says an edit waits.
      await eventually(() => a.page.getByTestId('connection').getAttribute('data-pending'), '1');

      await proxy.restore();
      await eventually(() => a.page.getByTestId('connection').getAttribute('data-status'), 'live', 20_000);
      await eventually(() => a.page.getByTestId('connection').getAttribute('data-pending'), '0');
      await eventually(() => b.card(id).getByTestId('task-title').textContent(), 'Check the changelog (offline edit)');
      expect((await s.agent.tasks.retrieve({ id })).title).toBe('Check the changelog (offline edit)');
      // Exactly once: one more change, also a moment later (no resend applied twice).
      expect(await changeCount(s, id)).toBe(before + 1);
      await new Promise((r) => setTimeout(r, 1000));
      expect(await changeCount(s, id)).toBe(before + 1);
      expect(await a.page.getByTestId('conflict-banner').count()).toBe(0);
    } finally {
      await proxy.cut();
    }
  });

  it('a page whose engine does not answer shows the error state (with Try again), then the board once the engine answers', async () => {
    const s = await stack();
    const proxy = await relay(Number(new URL(s.engine.url).port));
    try {
      await proxy.cut();
      const a = await s.open('ana', { engineUrl: proxy.url, waitReady: false });
      expect(await a.page.getByTestId('loading').textContent()).toBe('Loading the board…');
      // ready() gives up after the SDK's readyTimeoutMs (10 s); the provider shows errorFallback.
      await eventually(() => a.page.getByTestId('connect-error').locator('p').textContent(), `Could not open the board: Cannot reach the Ablo engine at ${proxy.url} — is it running (npx ablo dev)? (closed 1006)`, 30_000);
      expect(await a.page.getByTestId('connect-error').getByRole('button').textContent()).toBe('Try again');
      // The SDK keeps trying: when the engine answers, the board shows without a reload.
      await proxy.restore();
      await eventually(() => a.page.getByTestId('board').getAttribute('data-ready'), 'true', 30_000);
      await eventually(() => a.page.getByTestId('connection').getAttribute('data-status'), 'live');
    } finally {
      await proxy.cut();
    }
  });
});
