/**
 * Output that fits an agent's context: lists page by an opaque cursor and
 * every page stays under the token budget (≈ characters / 4, counting the
 * text and the structured content together).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { schema } from '../fixtures/example.schema.js';
import { inProcessSession, resultChars, seed, startTestEngine, stdioSession, structured, textOf, type McpSession, type TestEngine } from './helpers.js';

const ROWS = 5000;
let engine: TestEngine;
const open: McpSession[] = [];

beforeAll(async () => {
  engine = await startTestEngine({ schema });
  await seed(engine.url, engine.apiKey, 'projects', 1, () => ({ id: 'p1', data: { name: 'Apollo' } }));
  await seed(engine.url, engine.apiKey, 'tasks', ROWS, (i) => ({
    id: `t${String(i).padStart(5, '0')}`,
    data: {
      // Every 97th title is long: cut in the text, whole in the structured content.
      title: i % 97 === 0 ? `Long ${i} ${'lorem ipsum '.repeat(300)}` : `Task number ${i} with a reasonably descriptive title`,
      status: ['todo', 'doing', 'done'][i % 3],
      projectId: 'p1',
      estimate: i % 13,
      assigneeId: i % 2 ? `user_${i % 7}` : null,
    },
  }));
}, 60_000);

afterAll(async () => {
  for (const s of open) await s.close().catch(() => undefined);
  await engine.stop();
});

/** Page through `tasks_list` to the end; returns every id and the size of every page. */
async function pageAll(s: McpSession, first: Record<string, unknown>, budgetTokens: number): Promise<{ ids: string[]; pages: number; maxChars: number }> {
  const ids: string[] = [];
  let args: Record<string, unknown> = first;
  let pages = 0;
  let maxChars = 0;
  for (;;) {
    const r = await s.call('tasks_list', args);
    expect(r.isError, textOf(r)).toBeFalsy();
    const page = structured(r);
    pages++;
    const chars = resultChars(r);
    maxChars = Math.max(maxChars, chars);
    expect(chars).toBeLessThanOrEqual(budgetTokens * 4);
    ids.push(...page.data.map((row: any) => row.id));
    if (!page.hasMore) {
      expect(page.nextCursor).toBeUndefined();
      expect(textOf(r)).not.toContain('Next page');
      break;
    }
    expect(textOf(r)).toContain(`Next page: call tasks_list with cursor="${page.nextCursor}"`);
    // The cursor alone carries the query (where, orderBy, limit) on.
    args = { cursor: page.nextCursor };
    if (pages > 2000) throw new Error('runaway paging');
  }
  return { ids, pages, maxChars };
}

describe('paging under a token budget', () => {
  test(`a list over ${ROWS} rows stays under the default budget (20k tokens) and pages to the end over stdio, each row once`, async () => {
    const s = await stdioSession(engine.url, engine.apiKey);
    open.push(s);
    const { ids, pages, maxChars } = await pageAll(s, { limit: 1000 }, 20_000);
    expect(ids).toHaveLength(ROWS);
    expect(new Set(ids).size).toBe(ROWS);
    expect(ids).toEqual([...ids].sort()); // id order, without gaps or repeats
    expect(pages).toBeGreaterThan(5); // the budget, not the limit, cut the pages
    expect(maxChars).toBeGreaterThan(20_000 * 4 * 0.8); // pages are filled close to the budget
  });

  test('a filtered, sorted list pages by cursor with a small budget, and long strings are cut in the text only', async () => {
    const s = await inProcessSession({ engineUrl: engine.url, apiKey: engine.apiKey, tokenBudget: 1500 });
    open.push(s);
    const where = { status: ['todo', 'doing'], estimate: [1, 2, 3] };
    const { ids, pages } = await pageAll(s, { where, orderBy: { estimate: 'desc', title: 'asc' }, limit: 1000 }, 1500);
    const expected: string[] = [];
    for (let i = 0; i < ROWS; i++) if (i % 3 !== 2 && [1, 2, 3].includes(i % 13)) expected.push(`t${String(i).padStart(5, '0')}`);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(expected.sort());
    expect(pages).toBeGreaterThan(10);

    const long = await s.call('tasks_list', { where: { id: 't00097' } });
    const row = structured(long).data[0];
    expect(row.title.length).toBeGreaterThan(3000);
    expect(textOf(long)).toMatch(/title="Long 97 lorem ipsum.*…\(\+\d+ chars\)/);
    expect(textOf(long).length).toBeLessThan(800);
  });

  test('a row bigger than the whole budget is returned cut, with a note', async () => {
    const s = await inProcessSession({ engineUrl: engine.url, apiKey: engine.apiKey, tokenBudget: 500 });
    open.push(s);
    await s.call('tasks_create', { id: 'huge', data: { title: 'x'.repeat(20_000), projectId: 'p1' } });
    const listed = await s.call('tasks_list', { where: { id: 'huge' } });
    expect(resultChars(listed)).toBeLessThanOrEqual(2000);
    expect(textOf(listed)).toContain('Cut to fit the output budget: title');
    const got = await s.call('tasks_get', { id: 'huge' });
    expect(resultChars(got)).toBeLessThanOrEqual(2000);
    expect(structured(got).clippedFields).toEqual(['title']);
    await s.call('tasks_delete', { id: 'huge' });
  });

  test('limit caps a page; an empty result says so', async () => {
    const s = await inProcessSession({ engineUrl: engine.url, apiKey: engine.apiKey });
    open.push(s);
    const r = await s.call('tasks_list', { limit: 3 });
    expect(structured(r)).toMatchObject({ count: 3, hasMore: true });
    expect(textOf(r).split('\n').filter((l) => l.startsWith('id='))).toHaveLength(3);
    // The next page keeps the limit it was asked with.
    const next = await s.call('tasks_list', { cursor: structured(r).nextCursor });
    expect(structured(next)).toMatchObject({ count: 3, hasMore: true });
    expect(structured(next).data[0].id > structured(r).data[2].id).toBe(true);
    const none = await s.call('tasks_list', { where: { title: 'no such title' } });
    expect(structured(none)).toMatchObject({ count: 0, hasMore: false, data: [] });
    expect(textOf(none)).toContain('No tasks rows');
  });
});
