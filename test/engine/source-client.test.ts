/**
 * The engine's source client signs every request with the current time: many
 * requests in a burst stay inside the receiver's 5-minute window (a client
 * that dated each request a second after the previous one ran 300 s ahead
 * after 300 requests, and the source refused them all as from the future).
 */
import { afterEach, expect, test } from 'vitest';
import { HttpSourceTransport, SourceClient } from '../../src/engine/source/client.js';
import { sourceLoadResponseSchema } from '../../src/protocol/source.js';
import { startMemorySource, type MemorySource } from '../helpers/memorySource.js';

let src: MemorySource | null = null;
afterEach(async () => {
  await src?.close();
  src = null;
});

test('400 requests in a burst are all dated now and all verified by the source', async () => {
  src = await startMemorySource();
  const sent: number[] = [];
  const http = new HttpSourceTransport(src.url);
  const client = new SourceClient('app', { signingSecret: src.secret }, {
    describe: http.describe,
    send(headers, body, timeoutMs) {
      sent.push(Number(headers['webhook-timestamp']));
      return http.send(headers, body, timeoutMs);
    },
  });
  src.table('tasks').set('t1', { id: 't1', title: 'a' });
  const started = Math.floor(Date.now() / 1000);
  for (let i = 0; i < 400; i++) {
    const answer = await client.call({ type: 'load', source: 'app', model: 'tasks', ids: ['t1'] }, sourceLoadResponseSchema);
    expect(answer.rows).toHaveLength(1);
  }
  const ended = Math.floor(Date.now() / 1000);
  expect(sent).toHaveLength(400);
  for (const ts of sent) {
    expect(ts).toBeGreaterThanOrEqual(started);
    expect(ts).toBeLessThanOrEqual(ended);
  }
});
