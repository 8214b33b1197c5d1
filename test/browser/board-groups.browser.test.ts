/**
 * examples/board in Chromium: switching boards on the open connection
 * (`setSyncGroups` under `<SyncGroupProvider>`).
 */
import { describe, expect, it } from 'vitest';
import { boardBrowser, eventually, taskIdByTitle, type BoardPage } from '../helpers/browser.js';

const { stack } = boardBrowser();

const titles = (p: BoardPage) => p.page.getByTestId('task-title').allTextContents();
const avatarKeys = (p: BoardPage) => p.page.getByTestId('presence').getByTestId('avatar').evaluateAll((els) => els.map((e) => e.getAttribute('data-key') ?? ''));

describe('switching boards in the browser', () => {
  it('A switches to another board on the same socket: only that board’s tasks, presence moves with it, a new task lands there; B stays on its board', async () => {
    const s = await stack();
    await s.agent.commits.create({
      operations: [
        { op: 'create', model: 'boards', id: 'ops', data: { name: 'Ops' } },
        { op: 'create', model: 'tasks', id: 'ops-1', data: { title: 'Rotate the keys', boardId: 'ops', position: 1 } },
      ],
    });
    const a = await s.open('ana');
    let sockets = 0;
    a.page.on('websocket', () => sockets++);
    const b = await s.open('ben');
    await eventually(() => avatarKeys(b), ['user:ana']);
    expect((await titles(a)).sort()).toEqual(['Check the changelog', 'Draft the announcement', 'Summarize the user feedback']);

    await eventually(() => a.page.getByTestId('board-select').locator('option').allTextContents(), ['Launch', 'Ops']);
    await a.page.getByTestId('board-select').selectOption('ops');
    await eventually(() => a.page.getByTestId('board-name').textContent(), 'Ops');
    await eventually(() => titles(a), ['Rotate the keys']);
    expect(new URL(a.page.url()).searchParams.get('board')).toBe('ops');
    // A left launch's presence; B's board is unchanged.
    await eventually(() => avatarKeys(b), []);
    expect((await titles(b)).sort()).toEqual(['Check the changelog', 'Draft the announcement', 'Summarize the user feedback']);

    await a.page.getByTestId('new-task-title').fill('Renew the certificate');
    await a.page.getByTestId('add-task').click();
    const id = await taskIdByTitle(s, 'Renew the certificate');
    expect((await s.agent.tasks.retrieve({ id })).boardId).toBe('ops');
    await new Promise((r) => setTimeout(r, 300));
    expect(await titles(b)).not.toContain('Renew the certificate');

    // Back to launch: its rows again, and A is on B's board again.
    await a.page.getByTestId('board-select').selectOption('launch');
    await eventually(() => titles(a).then((t) => t.sort()), ['Check the changelog', 'Draft the announcement', 'Summarize the user feedback']);
    await eventually(() => avatarKeys(b), ['user:ana']);
    // All of it on the socket the page opened first.
    expect(sockets).toBe(0);
    expect(await a.page.getByTestId('connection').getAttribute('data-status')).toBe('live');
  });
});
