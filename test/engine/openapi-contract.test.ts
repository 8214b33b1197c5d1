/**
 * The engine's real answers conform to the OpenAPI document it serves:
 * every response below is matched to its path, method and status in
 * /v1/openapi.json and validated against that schema.
 */
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof Ajv2020Module.default;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as typeof addFormatsModule.default;

const schema = defineSchema({
  projects: model({ name: z.string().min(1) }),
  tasks: model(
    {
      title: z.string().min(1),
      status: z.enum(['todo', 'doing', 'done']).default('todo'),
      estimate: z.number().int().optional(),
      meta: z.json().optional(),
      projectId: z.string(),
    },
    {},
    { syncGroupFormat: 'project:{projectId}' },
  ),
});

let t: TestEngine;
let doc: any;
let ajv: InstanceType<typeof Ajv2020>;
beforeAll(async () => {
  t = await startTestEngine(schema);
  doc = await (await fetch(`${t.url}/v1/openapi.json`)).json();
  ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ ...doc, $id: 'https://ablo.test/openapi.json' });
});
afterAll(async () => {
  await t.stop();
});

function operationFor(method: string, path: string): { template: string; op: any } {
  const clean = path.split('?')[0]!;
  for (const [template, item] of Object.entries<any>(doc.paths)) {
    const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    if (re.test(clean) && item[method.toLowerCase()]) return { template, op: item[method.toLowerCase()] };
  }
  throw new Error(`OpenAPI has no ${method} ${clean}`);
}

const checked: string[] = [];
async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<any> {
  const res = await t.http(method, path, body, headers);
  const { template, op } = operationFor(method, path);
  let response = op.responses[String(res.status)] ?? op.responses.default;
  if (response?.$ref) response = doc.components.responses[String(response.$ref).split('/').pop()!];
  expect(response, `${method} ${template} documents status ${res.status}`).toBeDefined();
  const schemaRef = response.content?.['application/json']?.schema;
  expect(schemaRef, `${method} ${template} ${res.status} has a JSON schema`).toBeDefined();
  const ok = ajv.validate({ $ref: `https://ablo.test/openapi.json${'$ref' in schemaRef ? schemaRef.$ref : ''}` }, res.body);
  if ('$ref' in schemaRef) expect(ok, `${method} ${template} ${res.status}: ${JSON.stringify(ajv.errors)}\n${JSON.stringify(res.body)}`).toBe(true);
  checked.push(`${method} ${template} ${res.status}`);
  return res;
}

test('real responses validate against the served OpenAPI document', async () => {
  await call('GET', '/v1/health');
  await call('GET', '/v1/schema');
  const p = (await call('POST', '/v1/models/projects', { data: { name: 'Apollo' } })).body;
  const task = (await call('POST', '/v1/models/tasks', { data: { title: 'Ship', projectId: p.id, meta: { a: [1] } } })).body;
  await call('GET', `/v1/models/tasks/${task.id}`);
  await call('GET', '/v1/models/tasks?where[status]=todo&orderBy[title]=asc&limit=5');
  await call('PATCH', `/v1/models/tasks/${task.id}`, { data: { status: 'doing', estimate: 2 } });
  await call('POST', '/v1/commits', {
    operations: [
      { op: 'update', model: 'tasks', id: task.id, data: { title: 'Ship it' }, readAt: 0, onStale: 'notify' },
      { op: 'create', model: 'projects', data: { name: 'Gemini' } },
    ],
  });
  await call('GET', '/v1/changes?after=0&limit=10');
  const claim = (await call('POST', `/v1/models/tasks/${task.id}/claim`, { action: 'summarizing', leaseSeconds: 30 })).body;
  await call('GET', `/v1/models/tasks/${task.id}/claim`);
  await call('POST', `/v1/claims/${claim.id}/renew`, { leaseSeconds: 60 });
  await call('PATCH', `/v1/models/tasks/${task.id}`, { data: { title: 'nope' } }); // 409 claimed
  await call('DELETE', `/v1/claims/${claim.id}`);
  await call('DELETE', `/v1/models/tasks/${task.id}`);
  const key = (await call('POST', '/v1/keys', { name: 'ci' })).body;
  await call('GET', '/v1/keys');
  await call('DELETE', `/v1/keys/${key.id}`);
  // Errors use the documented envelope.
  await call('GET', `/v1/models/tasks/${task.id}`); // 404
  await call('POST', '/v1/models/tasks', { data: { title: '' } }); // 400
  await call('GET', '/v1/models/tasks', undefined, { authorization: 'Bearer sk_test_' + 'z'.repeat(32) }); // 401
  expect(checked).toContain('POST /v1/models/tasks 201');
  expect(checked).toContain('PATCH /v1/models/tasks/{id} 409');
  expect(checked).toContain('GET /v1/models/tasks/{id} 404');
});
