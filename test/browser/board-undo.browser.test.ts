/**
 * examples/board in Chromium: undo and redo of a person's own edits.
 */
import { describe, expect, it } from 'vitest';
import { boardBrowser, eventually, type BoardPage, type BoardStack } from '../helpers/browser.js';

const { stack } = boardBrowser();

async function editTitle(p: BoardPage, id: string, title: string): Promise<void> {
  await p.card(id).getByTestId('edit').click();
  await p.card(id).getByTestId('title-input').fill(title);
  await p.card(id).getByTestId('title-input').press('Enter');
}

const engineTitle = async (s: BoardStack, id: string) => (await s.agent.tasks.retrieve({ id })).title;

describe('undo in the browser', () => {
  it('undo on A reverts A’s edit (button, then Ctrl+Z for a move), redo re-applies it; B sees each', async () => {
    const s = await stack();
    const a = await s.open('ana');
    const b = await s.open('ben');
    expect(await a.page.getByTestId('undo').isDisabled()).toBe(true);

    await editTitle(a, 'launch-1', 'Draft the announcement, v2');
    await eventually(() => engineTitle(s, 'launch-1'), 'Draft the announcement, v2');
    await eventually(() => a.page.getByTestId('undo').isEnabled(), true);

    await a.page.getByTestId('undo').click();
    await eventually(() => engineTitle(s, 'launch-1'), 'Draft the announcement');
    await eventually(() => b.card('launch-1').getByTestId('task-title').textContent(), 'Draft the announcement');
    await eventually(() => a.page.getByTestId('redo').isEnabled(), true);

    await a.page.getByTestId('redo').click();
    await eventually(() => engineTitle(s, 'launch-1'), 'Draft the announcement, v2');
    await eventually(() => b.card('launch-1').getByTestId('task-title').textContent(), 'Draft the announcement, v2');

    // A move, undone from the keyboard (focus on the card's button, not a text field).
    await a.card('launch-2').getByTestId('move-right').click();
    await eventually(async () => (await s.agent.tasks.retrieve({ id: 'launch-2' })).status, 'doing');
    await a.page.keyboard.press('Control+z');
    await eventually(async () => (await s.agent.tasks.retrieve({ id: 'launch-2' })).status, 'todo');
    await eventually(() => b.card('launch-2').getAttribute('data-status'), 'todo');
    expect(await a.page.getByTestId('conflict-banner').count()).toBe(0);
  });

  it('an undo on A of a title B changed since is held, not applied: B’s title stays and A’s banner shows both', async () => {
    const s = await stack();
    const a = await s.open('ana');
    const b = await s.open('ben');
    const id = 'launch-3';

    await editTitle(a, id, 'Changelog, by Ana');
    await eventually(() => engineTitle(s, id), 'Changelog, by Ana');
    await eventually(() => b.card(id).getByTestId('task-title').textContent(), 'Changelog, by Ana');
    await editTitle(b, id, 'Changelog, by Ben');
    await eventually(() => engineTitle(s, id), 'Changelog, by Ben');
    await eventually(() => a.card(id).getByTestId('task-title').textContent(), 'Changelog, by Ben');

    await a.page.getByTestId('undo').click();
    await eventually(() => a.page.getByTestId('undo-notice').textContent(), 'Undo not applied: someone changed it since (see above).');
    await eventually(() => a.page.getByTestId('conflict-theirs').textContent(), 'Changelog, by Ben');
    expect(await a.page.getByTestId('conflict-mine').textContent()).toBe('Check the changelog');
    expect(await engineTitle(s, id)).toBe('Changelog, by Ben');
    expect(await b.card(id).getByTestId('task-title').textContent()).toBe('Changelog, by Ben');

    // Keeping theirs ends it; the title is still B's.
    await a.page.getByTestId('keep-theirs').click();
    await eventually(() => a.page.getByTestId('conflict-banner').count(), 0);
    expect(await engineTitle(s, id)).toBe('Changelog, by Ben');
  });
});
