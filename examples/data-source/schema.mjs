/**
 * The schema the engine and the app's backend share. `tasks` lives in the
 * app's Postgres (the `tasks` table, db.mjs); the engine only caches it.
 */
import { defineSchema, model, z } from 'ablo/schema';

export const schema = defineSchema({
  tasks: model({
    title: z.string().min(1),
    done: z.boolean().default(false),
    assignee: z.string().nullable().default(null),
    /** A number agents add to (the guarded counter of the walkthrough). */
    points: z.number().int().default(0),
  }),
});

/** The fields of a task, in the order of the table's columns. */
export const TASK_FIELDS = ['title', 'done', 'assignee', 'points'];
