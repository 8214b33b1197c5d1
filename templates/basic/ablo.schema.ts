import { belongsTo, defineSchema, hasMany, model, z } from 'ablo/schema';

export const schema = defineSchema({
  projects: model(
    {
      name: z.string().min(1).describe('What the project is called'),
    },
    { tasks: hasMany('tasks', 'projectId') },
  ),
  tasks: model(
    {
      title: z.string().min(1).max(200).describe('One line saying what to do'),
      status: z.enum(['todo', 'doing', 'done']).default('todo'),
      assigneeId: z.string().nullable().default(null).describe('Who works on it; null when nobody does'),
      projectId: z.string(),
      estimate: z.number().int().min(0).optional().describe('Hours'),
    },
    { project: belongsTo('projects', 'projectId') },
    { syncGroupFormat: 'project:{projectId}' },
  ),
});
