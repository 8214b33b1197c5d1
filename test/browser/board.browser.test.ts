/**
 * examples/board in Chromium: two people's pages and the agent on one board.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBoardAgent } from '../../examples/board/agent.js';
import { boardBrowser, eventually, taskIdByTitle } from '../helpers/browser.js';

const { stack } = boardBrowser();

describe('board in the browser', () => {
  it('page A creates, edits and drags a task, page B shows each; the agent’s claim shows on both, blocks B’s edit with the holder, and release clears it', async () => {
    const s = await stack();
    const a = await s.open('ana');
    const b = await s.open('ben');

    // The seeded board is on both pages.
    for (const p of [a, b]) await eventually(() => p.page.getByTestId('column-todo').getByTestId('task-title').allTextContents(), ['Draft the announcement', 'Summarize the user feedback', 'Check the changelog']);

    await a.page.getByTestId('new-task-title').fill('Write the release notes');
    await a.page.getByTestId('add-task').click();
    const id = await taskIdByTitle(s, 'Write the release notes');
    await eventually(() => b.card(id).getByTestId('task-title').textContent(), 'Write the release notes');
    expect(await b.card(id).getAttribute('data-status')).toBe('todo');

    // Inline edit of the title.
    await a.card(id).getByTestId('edit').click();
    await a.card(id).getByTestId('title-input').fill('Write the release notes for 2.0');
    await a.card(id).getByTestId('title-input').press('Enter');
    await eventually(() => b.card(id).getByTestId('task-title').textContent(), 'Write the release notes for 2.0');
    expect((await s.agent.tasks.retrieve({ id })).title).toBe('Write the release notes for 2.0');

    // HTML5 drag and drop to "doing", then the keyboard/button path to "done".
    await a.card(id).dragTo(a.page.getByTestId('column-doing'));
    await eventually(() => b.card(id).getAttribute('data-status'), 'doing');
    await a.card(id).getByTestId('move-right').click();
    await eventually(() => b.card(id).getAttribute('data-status'), 'done');
    await a.card(id).focus();
    await a.page.keyboard.press('Alt+ArrowLeft');
    await eventually(() => b.card(id).getAttribute('data-status'), 'doing');
    expect((await s.agent.tasks.retrieve({ id })).status).toBe('doing');

    // The agent claims it: both pages show the holder.
    const claim = await s.agent.tasks.claim({ id, action: 'thinking' });
    for (const p of [a, b]) {
      await eventually(() => p.card(id).getByTestId('claim-badge').getAttribute('data-holder'), 'agent:triage-bot');
      expect(await p.card(id).getByTestId('claim-badge').textContent()).toBe('triage-bot · thinking');
    }
    // B tries to edit: no editor, a notice naming the holder.
    await b.card(id).getByTestId('edit').click();
    await eventually(() => b.card(id).getByTestId('claim-notice').textContent(), 'triage-bot is working on this (thinking); edit it when they release it.');
    expect(await b.card(id).getByTestId('title-input').count()).toBe(0);

    await claim.release();
    for (const p of [a, b]) await eventually(() => p.card(id).getByTestId('claim-badge').count(), 0);
    // Now B's edit goes through.
    await b.card(id).getByTestId('edit').click();
    await b.card(id).getByTestId('title-input').fill('Release notes, reviewed');
    await b.card(id).getByTestId('title-input').press('Enter');
    await eventually(() => a.card(id).getByTestId('task-title').textContent(), 'Release notes, reviewed');
  });

  it('a person claims a task on page A: page B sees the person as holder and cannot edit it until A releases', async () => {
    const s = await stack();
    const a = await s.open('ana');
    const b = await s.open('ben');
    const id = 'launch-2';
    await a.card(id).getByTestId('claim').click();
    await eventually(() => b.card(id).getByTestId('claim-badge').getAttribute('data-holder'), 'user:ana');
    expect(await a.card(id).getByTestId('claim-badge').textContent()).toBe('you · editing');
    expect((await s.agent.tasks.claim.state({ id }))?.holder).toEqual({ kind: 'user', id: 'ana' });
    await b.card(id).getByTestId('edit').click();
    await eventually(() => b.card(id).getByTestId('claim-notice').textContent(), 'ana is working on this (editing); edit it when they release it.');
    await a.card(id).getByTestId('release').click();
    await eventually(() => b.card(id).getByTestId('claim-badge').count(), 0);
  });

  it('the agent works a task a person created: claims it (shown on the page), moves it to doing, then done with its result', async () => {
    const s = await stack();
    const a = await s.open('ana');
    // The seeded tasks first: move them out of the agent's way.
    for (const id of ['launch-1', 'launch-2', 'launch-3']) await s.agent.tasks.update({ id, data: { status: 'done' } });
    const stop = new AbortController();
    const working = runBoardAgent(s.agent, { boardId: s.boardId, name: 'triage-bot', thinkMs: 1500, signal: stop.signal });
    try {
      await a.page.getByTestId('new-task-title').fill('Triage the new issues');
      await a.page.getByTestId('add-task').click();
      const id = await taskIdByTitle(s, 'Triage the new issues');
      await eventually(() => a.card(id).getByTestId('claim-badge').getAttribute('data-holder'), 'agent:triage-bot', 20_000);
      expect(await a.card(id).getAttribute('data-status')).toBe('doing');
      await eventually(() => a.card(id).getAttribute('data-status'), 'done', 20_000);
      await eventually(() => a.card(id).locator('.result').textContent(), 'Notes on "Triage the new issues" by triage-bot');
      await eventually(() => a.card(id).getByTestId('claim-badge').count(), 0);
    } finally {
      stop.abort();
      await working;
    }
  });

  it('writes a screenshot of the board with two people, the agent’s claim and presence, and a held edit (test-artifacts/board.png)', async () => {
    const s = await stack();
    const a = await s.open('ana');
    const b = await s.open('ben');
    await s.agent.tasks.update({ id: 'launch-1', data: { status: 'doing', assignee: 'triage-bot' } });
    await s.agent.tasks.claim({ id: 'launch-1', action: 'drafting' });
    s.agent.presence.set(`board:${s.boardId}`, { focus: 'launch-1', activity: 'drafting' });
    // A held edit on A: the banner.
    await a.card('launch-2').getByTestId('edit').click();
    await b.card('launch-2').getByTestId('edit').click();
    await b.card('launch-2').getByTestId('title-input').fill('Summarize the feedback (Ben)');
    await b.card('launch-2').getByTestId('title-input').press('Enter');
    await eventually(async () => (await s.agent.tasks.retrieve({ id: 'launch-2' })).title, 'Summarize the feedback (Ben)');
    await a.card('launch-2').getByTestId('title-input').fill('Summarize the feedback (Ana)');
    await a.card('launch-2').getByTestId('title-input').press('Enter');
    await eventually(() => a.page.getByTestId('conflict').count(), 1);
    await b.card('launch-3').focus();
    await eventually(() => a.card('launch-1').getByTestId('claim-badge').count(), 1);
    await eventually(() => a.card('launch-3').getByTestId('card-avatar').getAttribute('data-key'), 'user:ben');
    await eventually(() => a.card('launch-1').getByTestId('card-avatar').getAttribute('data-key'), 'agent:triage-bot');

    const dir = join(process.cwd(), 'test-artifacts');
    mkdirSync(dir, { recursive: true });
    const png = await a.page.screenshot({ path: join(dir, 'board.png'), fullPage: true });
    // A PNG of the page (signature), not an empty file.
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.length).toBeGreaterThan(10_000);
  });
});
