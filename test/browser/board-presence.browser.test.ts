/**
 * examples/board in Chromium: who is on the board, and which card each has focused.
 */
import { describe, expect, it } from 'vitest';
import { boardBrowser, eventually, type BoardPage } from '../helpers/browser.js';

const { stack } = boardBrowser();

/** The members page `p` shows in its header, sorted. */
async function avatarKeys(p: BoardPage): Promise<string[]> {
  const keys = await p.page.getByTestId('presence').getByTestId('avatar').evaluateAll((els) => els.map((e) => e.getAttribute('data-key') ?? ''));
  return keys.sort();
}

describe('presence in the browser', () => {
  it('B sees A join, move its focus from card to card, and leave after A’s page closes (reconnecting, then gone within the short TTL); the agent is a member too', async () => {
    const ttlMs = 3000;
    const s = await stack({ presence: { ttlMs } });
    const b = await s.open('ben');
    expect(await avatarKeys(b)).toEqual([]);

    const a = await s.open('ana');
    await eventually(() => avatarKeys(b), ['user:ana']);
    // B does not list itself; A lists B.
    await eventually(() => avatarKeys(a), ['user:ben']);

    const anaOnB = b.page.locator('[data-testid=presence] [data-key="user:ana"]');
    await a.card('launch-2').focus();
    await eventually(() => anaOnB.getAttribute('data-focus'), 'launch-2');
    await eventually(() => b.card('launch-2').getByTestId('card-avatar').getAttribute('data-key'), 'user:ana');
    await a.card('launch-3').focus();
    await eventually(() => anaOnB.getAttribute('data-focus'), 'launch-3');
    await eventually(() => b.card('launch-3').getByTestId('card-avatar').getAttribute('data-key'), 'user:ana');
    expect(await b.card('launch-2').getByTestId('card-avatar').count()).toBe(0);

    // The agent announces what it works on, beside its claim.
    s.agent.presence.set(`board:${s.boardId}`, { focus: 'launch-1', activity: 'thinking' });
    await eventually(() => avatarKeys(b), ['agent:triage-bot', 'user:ana']);
    await eventually(() => b.card('launch-1').getByTestId('card-avatar').getAttribute('data-key'), 'agent:triage-bot');

    // A's page closes: its socket drops; A is "reconnecting" for the TTL, then leaves.
    await a.close();
    await eventually(() => anaOnB.getAttribute('data-status'), 'reconnecting', ttlMs);
    await eventually(() => avatarKeys(b), ['agent:triage-bot'], 15_000);
  });
});
