/**
 * docs/mcp.md names tools that the real server registers.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { allToolNames } from '../../mcp/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { inProcessSession, startTestEngine, type TestEngine } from './helpers.js';

const doc = readFileSync(new URL('../../docs/mcp.md', import.meta.url), 'utf8');
/** The models of the agents template (templates/agents/ablo.schema.ts), the schema the docs use; tool names depend only on them. */
const schema = defineSchema({ boards: model({ name: z.string() }), tasks: model({ title: z.string(), boardId: z.string() }) });
let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine({ schema });
});
afterAll(async () => {
  await engine.stop();
});

test('the tool list in docs/mcp.md is what the server registers for the example schema', async () => {
  const block = /<!-- tools:example-schema -->\s*```text\n([\s\S]*?)```/.exec(doc);
  expect(block, 'docs/mcp.md has the tools:example-schema block').not.toBeNull();
  const documented = block![1]!.trim().split('\n');
  const s = await inProcessSession({ engineUrl: engine.url, apiKey: engine.apiKey });
  const registered = (await s.client.listTools()).tools.map((t) => t.name);
  await s.close();
  expect(documented).toEqual(registered);
});

test('every concrete tool name in docs/mcp.md exists, and the setup commands are there', () => {
  const valid = new Set(allToolNames(['boards', 'tasks']));
  const mentioned = new Set([...doc.matchAll(/\b((?:boards|tasks|ablo)_[a-z]+)\b/g)].map((m) => m[1]!));
  for (const name of mentioned) expect(valid.has(name), `${name} in docs/mcp.md`).toBe(true);
  expect(doc).toContain('claude mcp add ablo-sync -- npx ablo mcp');
  expect(doc).toContain('.cursor/mcp.json');
  expect(doc).toContain('~/.codeium/windsurf/mcp_config.json');
});
