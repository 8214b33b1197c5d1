import { belongsTo, defineSchema, hasMany, model, z } from 'ablo/schema';

/** A task board that people and agents work on together. Each board is a sync group. */
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
      boardId: z.string(),
      assignee: z.string().nullable().default(null).describe('Who works on it (a person or an agent); null when nobody does'),
      result: z.string().nullable().default(null).describe('What came out of the work'),
    },
    { board: belongsTo('boards', 'boardId') },
    { syncGroupFormat: 'board:{boardId}' },
  ),
});
