/**
 * The schema the engine bench runs against, and the built SDK with it
 * (`loadSdk`), for the bench's child processes (they load the built package).
 *
 * - `items`: one row per writer in the commit bench; its sync group is its
 *   lane, so each writer subscribes to its own row only.
 * - `tasks`: default group; fanout, bootstrap and phase a/b rows (the phases'
 *   rows are `rowId(i)`).
 * Both belong to `projects`, so their tables carry a foreign-key index.
 */
export async function benchSchema(dist) {
  const { defineSchema, model, belongsTo, z } = await dist('src/schema/index.js');
  return defineSchema({
    projects: model({ name: z.string() }),
    items: model(
      { lane: z.string(), projectId: z.string(), title: z.string(), n: z.number().int() },
      { project: belongsTo('projects', 'projectId') },
      { syncGroupFormat: 'lane:{lane}' },
    ),
    tasks: model(
      {
        title: z.string(),
        status: z.enum(['todo', 'doing', 'done']),
        projectId: z.string(),
        n: z.number().int(),
        sentAt: z.number(),
        done: z.boolean(),
      },
      { project: belongsTo('projects', 'projectId') },
    ),
  });
}

/** The id of the phases' seeded row `i` (`tasks`), shared by the parent that seeds and the clients that write. */
export const rowId = (i) => `row-${String(i).padStart(5, '0')}`;

/** Start of the error a phase-b subscriber process answers when the built SDK has no live queries. */
export const NO_LIVE = 'phase b needs live queries (ablo.<model>.live(), issue 12)';

let sdkLoaded = null;
/** The built SDK's `Ablo` and the bench schema, loaded once per process. */
export async function loadSdk(dist) {
  if (!sdkLoaded) {
    const mod = await dist('src/index.js');
    sdkLoaded = { Ablo: mod.default, schema: await benchSchema(dist) };
  }
  return sdkLoaded;
}
