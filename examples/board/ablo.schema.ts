import { belongsTo, defineSchema, hasMany, model, z } from 'ablo/schema';

/**
 * The board example's data: boards, and tasks on them. A board and its tasks
 * are the sync group `board:<id>`, so a page (or an agent) receives one board.
 * The same shape as the `ablo init --template agents` schema, plus `position`
 * (the order of the cards inside a column).
 */
export const schema = defineSchema({
  boards: model(
    {
      name: z.string().min(1).describe('What the board is for'),
    },
    { tasks: hasMany('tasks', 'boardId') },
    { syncGroupFormat: 'board:{id}' },
  ),
  tasks: model(
    {
      title: z.string().min(1).max(200).describe('One line saying what to do'),
      status: z.enum(['todo', 'doing', 'done']).default('todo'),
      /** Order inside the column: cards sort by it, ascending. */
      position: z.number().default(0),
      boardId: z.string(),
      assignee: z.string().nullable().default(null).describe('Who works on it (a person or an agent); null when nobody does'),
      result: z.string().nullable().default(null).describe('What came out of the work'),
    },
    { board: belongsTo('boards', 'boardId') },
    { syncGroupFormat: 'board:{boardId}' },
  ),
});

export type Schema = typeof schema;
export const STATUSES = ['todo', 'doing', 'done'] as const;
export type Status = (typeof STATUSES)[number];
