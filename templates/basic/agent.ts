/**
 * An example script against your local engine: creates a project with two
 * tasks, then lists the open ones from the engine.
 *
 *   npx ablo dev        # in one terminal
 *   npm run agent       # in another
 *
 * ABLO_URL and ABLO_API_KEY come from .env.local: the `agent` script loads it
 * into the environment, and Ablo() reads both from there (or pass `apiKey`
 * and `baseURL` yourself).
 */
import Ablo from 'ablo';
import { schema } from './ablo.schema.js';

const ablo = Ablo({ schema });
await ablo.ready();

const project = await ablo.projects.create({ data: { name: 'Launch' } });
await ablo.tasks.create({ data: { title: 'Write the announcement', projectId: project.id } });
await ablo.tasks.create({ data: { title: 'Record a demo', projectId: project.id, estimate: 2 } });

const open = await ablo.tasks.list({ where: { projectId: project.id, status: ['todo', 'doing'] }, orderBy: { title: 'asc' } });
console.log(`Project "${project.name}" (${project.id}) has ${open.data.length} open tasks:`);
for (const task of open.data) console.log(`  [${task.status}] ${task.title}`);

await ablo.dispose();
