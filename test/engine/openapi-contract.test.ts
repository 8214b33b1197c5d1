/**
 * The engine's real answers conform to the OpenAPI document it serves:
 * every response below is matched to its path, method and status in
 * /v1/openapi.json and validated against that schema — a `$ref` or an inline
 * one alike; a documented response without a JSON schema fails.
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

/** JSON Pointer escaping of one path segment. */
const pointer = (segment: string): string => segment.replace(/~/g, '~0').replace(/\//g, '~1');

const checked: string[] = [];
async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<any> {
  const res = await t.http(method, path, body, headers);
  const { template, op } = operationFor(method, path);
  const status = op.responses[String(res.status)] ? String(res.status) : 'default';
  let response = op.responses[status];
  // Where the response's schema sits in the document: inline under the operation, or in components.responses.
  let at = `#/paths/${pointer(template)}/${method.toLowerCase()}/responses/${status}`;
  if (response?.$ref) {
    at = String(response.$ref);
    response = doc.components.responses[at.split('/').pop()!];
  }
  expect(response, `${method} ${template} documents status ${res.status}`).toBeDefined();
  const schema = response.content?.['application/json']?.schema;
  expect(schema, `${method} ${template} ${res.status} has a JSON schema`).toBeDefined();
  expect(Object.keys(schema), `${method} ${template} ${res.status} has a non-empty schema`).not.toHaveLength(0);
  // Validate against the schema in place (inline or a $ref), so refs inside it resolve against the document.
  const ok = ajv.validate({ $ref: `https://ablo.test/openapi.json${at}/content/application~1json/schema` }, res.body);
  expect(ok, `${method} ${template} ${res.status}: ${JSON.stringify(ajv.errors)}\n${JSON.stringify(res.body)}`).toBe(true);
  checked.push(`${method} ${template} ${res.status}`);
  return res;
}

test('real responses validate against the served OpenAPI document', async () => {
  await call('GET', '/v1/health');
  await call('GET', '/v1/openapi.json'); // an inline response schema
  const current = (await call('GET', '/v1/schema')).body;
  // The long-poll: another hash answers at once; a bad wait is a documented 400.
  expect((await call('GET', '/v1/schema?changedFrom=&waitSeconds=30')).body.hash).toBe(current.hash);
  expect((await call('GET', '/v1/schema?changedFrom=x&waitSeconds=999')).status).toBe(400);
  await call('POST', '/v1/schema', { schema: current.schema, dryRun: true });
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
  await call('POST', `/v1/claims/${claim.id}/renew`, {}); // 404
  await call('DELETE', `/v1/claims/${claim.id}`); // 404
  await call('DELETE', `/v1/models/tasks/${task.id}`);
  const key = (await call('POST', '/v1/keys', { name: 'ci' })).body;
  await call('GET', '/v1/keys');
  await call('DELETE', `/v1/keys/${key.id}`);
  const session = (await call('POST', '/v1/sessions', { participant: { kind: 'user', id: 'ana' }, syncGroups: ['project:a'], operations: ['read'] })).body;
  await call('DELETE', `/v1/sessions/${session.sessionId}`);
  await call('POST', '/v1/sessions', { participant: { kind: 'user', id: 'ana' }, syncGroups: [], operations: ['read'], ttlSeconds: 0 });
  // Errors use the documented envelope.
  await call('GET', `/v1/models/tasks/${task.id}`); // 404
  await call('POST', '/v1/models/tasks', { data: { title: '' } }); // 400
  await call('GET', '/v1/models/tasks', undefined, { authorization: 'Bearer sk_test_' + 'z'.repeat(32) }); // 401
  await call('GET', '/v1/changes?after=-1'); // 400
  await call('GET', '/v1/models/projects?limit=2');
  await call('GET', '/v1/presence?group=project:a');
  await call('GET', '/v1/presence?group=project:*'); // 400
  expect(checked).toContain('POST /v1/models/tasks 201');
  expect(checked).toContain('PATCH /v1/models/tasks/{id} 409');
  expect(checked).toContain('GET /v1/models/tasks/{id} 404');
  expect(checked).toContain('GET /v1/openapi.json 200');
  expect(checked).toContain('GET /v1/presence 200');
  expect(checked).toContain('POST /v1/claims/{claimId}/renew 404');
});
