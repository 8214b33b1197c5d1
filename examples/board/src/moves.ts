import type { Status } from '../ablo.schema.js';
import type { BoardClient } from './client.js';

/** Put a task at the end of `status`'s column. */
export function moveTask(ablo: BoardClient, boardId: string, id: string, status: Status): void {
  const task = ablo.tasks.get(id);
  if (!task || task.status === status) return;
  const position = ablo.tasks.getAll({ where: { boardId, status } }).reduce((m, t) => Math.max(m, t.position), 0) + 1;
  ablo.tasks.update({ id, data: { status, position } }).catch((err: Error) => console.warn(`move failed: ${err.message}`));
}
