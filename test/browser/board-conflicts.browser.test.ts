/**
 * examples/board in Chromium: a person's edit that another person made stale.
 */
import { describe, expect, it } from 'vitest';
import { boardBrowser, eventually, type BoardPage } from '../helpers/browser.js';

const { stack } = boardBrowser();

async function editTitle(p: BoardPage, id: string, title: string): Promise<void> {
  await p.card(id).getByTestId('edit').click();
  await p.card(id).getByTestId('title-input').fill(title);
  await p.card(id).getByTestId('title-input').press('Enter');
}

describe('stale edits in the browser', () => {
  it('A’s title edit begun before B changed the title is held: the banner shows B’s value and A’s; “keep theirs” leaves B’s, “keep mine” writes A’s', async () => {
    const s = await stack();
    const a = await s.open('ana');
    const b = await s.open('ben');
    const id = 'launch-1';

    // A opens the editor (reads the title now), then B changes the title.
    await a.card(id).getByTestId('edit').click();
    await editTitle(b, id, 'Announcement, by Ben');
    await eventually(async () => (await s.agent.tasks.retrieve({ id })).title, 'Announcement, by Ben');
    await a.card(id).getByTestId('title-input').fill('Announcement, by Ana');
    await a.card(id).getByTestId('title-input').press('Enter');

    const banner = a.page.getByTestId('conflict-banner');
    await eventually(() => banner.getByTestId('conflict-theirs').textContent(), 'Announcement, by Ben');
    expect(await banner.getByTestId('conflict-mine').textContent()).toBe('Announcement, by Ana');
    expect(await banner.getByTestId('conflict').getAttribute('data-row-id')).toBe(id);
    // Held, not applied: the engine and both pages keep B's title.
    expect((await s.agent.tasks.retrieve({ id })).title).toBe('Announcement, by Ben');
    await eventually(() => a.card(id).getByTestId('task-title').textContent(), 'Announcement, by Ben');

    await banner.getByTestId('keep-theirs').click();
    await eventually(() => a.page.getByTestId('conflict-banner').count(), 0);
    expect((await s.agent.tasks.retrieve({ id })).title).toBe('Announcement, by Ben');

    // Once more, and this time A keeps its own value.
    await a.card(id).getByTestId('edit').click();
    await editTitle(b, id, 'Announcement v3, by Ben');
    await eventually(async () => (await s.agent.tasks.retrieve({ id })).title, 'Announcement v3, by Ben');
    await a.card(id).getByTestId('title-input').fill('Announcement v3, by Ana');
    await a.card(id).getByTestId('title-input').press('Enter');
    await eventually(() => a.page.getByTestId('conflict-theirs').textContent(), 'Announcement v3, by Ben');
    await a.page.getByTestId('keep-mine').click();
    await eventually(async () => (await s.agent.tasks.retrieve({ id })).title, 'Announcement v3, by Ana');
    await eventually(() => b.card(id).getByTestId('task-title').textContent(), 'Announcement v3, by Ana');
    await eventually(() => a.page.getByTestId('conflict-banner').count(), 0);
  });

  it('A’s title edit begun before B moved the task (another field) goes through, with no banner', async () => {
    const s = await stack();
    const a = await s.open('ana');
    const b = await s.open('ben');
    const id = 'launch-2';

    await a.card(id).getByTestId('edit').click();
    await b.card(id).getByTestId('move-right').click();
    await eventually(async () => (await s.agent.tasks.retrieve({ id })).status, 'doing');
    await eventually(() => a.card(id).getAttribute('data-status'), 'doing');
    await a.card(id).getByTestId('title-input').fill('Summarize the feedback, by Ana');
    await a.card(id).getByTestId('title-input').press('Enter');

    await eventually(async () => {
      const row = await s.agent.tasks.retrieve({ id });
      return { title: row.title, status: row.status };
    }, { title: 'Summarize the feedback, by Ana', status: 'doing' });
    await eventually(() => b.card(id).getByTestId('task-title').textContent(), 'Summarize the feedback, by Ana');
    expect(await a.page.getByTestId('conflict-banner').count()).toBe(0);
  });
});
