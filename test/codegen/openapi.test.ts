import { commitRequestSchema } from '../../src/protocol/commit.js';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { generateOpenApi } from '../../src/codegen/index.js';
import { schema as example } from '../fixtures/example.schema.js';
import { schema as kitchen } from './kitchen.schema.js';

const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof Ajv2020Module.default;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as typeof addFormatsModule.default;

type Doc = {
  openapi: string;
  info: Record<string, unknown>;
  servers: Array<{ url: string }>;
  security: unknown[];
  paths: Record<string, Record<string, any>>;
  components: { schemas: Record<string, any>; responses: Record<string, any>; securitySchemes: Record<string, any> };
};

async function validate(doc: unknown): Promise<void> {
  const validator = new Validator();
  const result = await validator.validate(doc as Record<string, unknown>);
  expect(result.errors, JSON.stringify(result.errors, null, 2)).toBeUndefined();
  expect(result.valid).toBe(true);
  expect(validator.version).toBe('3.1');
}

function operations(doc: Doc): Array<{ path: string; method: string; op: any }> {
  const out: Array<{ path: string; method: string; op: any }> = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of ['get', 'post', 'patch', 'put', 'delete']) {
      if (item[method]) out.push({ path, method, op: item[method] });
    }
  }
  return out;
}

describe('generateOpenApi', () => {
  it('is a valid OpenAPI 3.1 document for the example schema', async () => {
    const doc = generateOpenApi(example.serialized, { serverUrl: 'https://api.example.test', title: 'Example', version: '2.0.0' });
    await validate(doc);
    const d = doc as Doc;
    expect(d.openapi).toBe('3.1.0');
    expect(d.info).toMatchObject({ title: 'Example', version: '2.0.0', 'x-ablo-schema-hash': example.serialized.hash });
    expect(d.servers).toEqual([{ url: 'https://api.example.test' }]);
  });

  it('is a valid OpenAPI 3.1 document for a schema using every field kind', async () => {
    await validate(generateOpenApi(kitchen.serialized));
  });

  it('has the fixed endpoints and the per-model endpoints', () => {
    const d = generateOpenApi(example.serialized) as Doc;
    for (const path of [
      '/v1/health',
      '/v1/schema',
      '/v1/commits',
      '/v1/changes',
      '/v1/claims/{claimId}',
      '/v1/keys',
      '/v1/claims/{claimId}/renew',
      '/v1/keys/{keyId}',
      '/v1/sessions',
      '/v1/sessions/{sessionId}',
      '/v1/openapi.json',
    ]) {
      expect(d.paths[path], path).toBeDefined();
    }
    expect(Object.keys(d.paths['/v1/schema']!).sort()).toEqual(['get', 'post']);
    for (const model of ['projects', 'tasks']) {
      expect(Object.keys(d.paths[`/v1/models/${model}`]!).sort()).toEqual(['get', 'post']);
      expect(Object.keys(d.paths[`/v1/models/${model}/{id}`]!).sort()).toEqual(['delete', 'get', 'parameters', 'patch']);
      expect(Object.keys(d.paths[`/v1/models/${model}/{id}/claim`]!).sort()).toEqual(['get', 'parameters', 'post']);
    }
    const ids = operations(d).map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(
      expect.arrayContaining(['listTasks', 'createTask', 'retrieveTask', 'updateTask', 'deleteTask', 'claimTask', 'getTaskClaim', 'listProjects', 'createProject']),
    );
  });

  it('requires a credential except on health, readiness and the document itself; each kind is a scheme and operations name the kinds they accept', () => {
    const d = generateOpenApi(example.serialized) as Doc;
    for (const name of ['secretKey', 'restrictedKey', 'sessionToken']) {
      expect(d.components.securitySchemes[name], name).toMatchObject({ type: 'http', scheme: 'bearer', description: expect.any(String) });
    }
    expect(d.components.securitySchemes.secretKey.description).toContain('sk_');
    expect(d.components.securitySchemes.restrictedKey.description).toContain('rk_');
    expect(d.components.securitySchemes.sessionToken.description).toContain('ek_');
    expect(d.security).toEqual([{ secretKey: [] }, { restrictedKey: [] }, { sessionToken: [] }]);
    const narrowed: Record<string, unknown> = {
      'post /v1/keys': [{ secretKey: [] }, { restrictedKey: [] }],
      'get /v1/keys': [{ secretKey: [] }, { restrictedKey: [] }],
      'delete /v1/keys/{keyId}': [{ secretKey: [] }, { restrictedKey: [] }],
      'post /v1/schema': [{ secretKey: [] }, { restrictedKey: [] }],
      'post /v1/sessions': [{ secretKey: [] }],
      'delete /v1/sessions/{sessionId}': [{ secretKey: [] }],
    };
    for (const { path, method, op } of operations(d)) {
      if (path === '/v1/health' || path === '/v1/ready' || path === '/v1/openapi.json') {
        expect(op.security, path).toEqual([]);
        expect(op.responses['401'], path).toBeUndefined();
      } else {
        expect(op.security, `${method} ${path}`).toEqual(narrowed[`${method} ${path}`]);
        expect(op.responses['401'], path).toEqual({ $ref: '#/components/responses/Unauthorized' });
      }
    }
  });

  it('describes errors with the shared envelope', () => {
    const d = generateOpenApi(example.serialized) as Doc;
    const envelope = d.components.schemas.Error;
    expect(envelope.required).toEqual(['error']);
    expect(envelope.properties.error.required).toEqual(['type', 'code', 'message']);
    expect(envelope.properties.error.properties.type.enum).toEqual(expect.arrayContaining(['validation_error', 'stale_context', 'claimed']));
    const byStatus: Record<string, string> = {
      '400': 'BadRequest',
      '401': 'Unauthorized',
      '403': 'Forbidden',
      '404': 'NotFound',
      '409': 'Conflict',
      '413': 'PayloadTooLarge',
      '429': 'TooManyRequests',
      '500': 'InternalError',
    };
    for (const name of Object.values(byStatus)) {
      expect(d.components.responses[name].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
    }
    const patch = d.paths['/v1/models/tasks/{id}']!.patch;
    for (const status of ['400', '401', '403', '404', '409', '413', '429', '500']) {
      expect(patch.responses[status]).toEqual({ $ref: `#/components/responses/${byStatus[status]}` });
    }
    expect(d.components.responses.TooManyRequests.headers['Retry-After']).toBeDefined();
  });

  it('has row, create and update component schemas per model with the right required lists', () => {
    const s = (generateOpenApi(example.serialized) as Doc).components.schemas;
    expect(s.Task.required).toEqual(['id', 'createdAt', 'updatedAt', 'syncId', 'assigneeId', 'estimate', 'projectId', 'status', 'title']);
    expect(s.Task.properties.estimate.type).toEqual(['integer', 'null']);
    expect(s.TaskCreate.required).toEqual(['projectId', 'title']);
    expect(s.TaskCreate.additionalProperties).toBe(false);
    // Over HTTP the client id travels beside `data`, not inside it.
    expect(s.TaskCreate.properties.id).toBeUndefined();
    expect(s.TaskCreate.properties.status.default).toBe('todo');
    expect(s.TaskUpdate.required).toBeUndefined();
    expect(s.TaskUpdate.additionalProperties).toBe(false);
    expect(s.Project.properties.name.description).toBe('Display name');
    expect(s.Project.$schema).toBeUndefined();
    for (const name of Object.keys(s)) expect(name).toMatch(/^[a-zA-Z0-9._-]+$/);
  });

  it('wires request bodies, list parameters and the idempotency header', () => {
    const d = generateOpenApi(example.serialized) as Doc;
    const list = d.paths['/v1/models/tasks']!.get;
    const where = list.parameters.find((p: any) => p.name === 'where');
    expect(where).toMatchObject({ in: 'query', style: 'deepObject', explode: true });
    expect(where.schema.properties.status.anyOf[0]).toEqual({ type: 'string', enum: ['todo', 'doing', 'done'] });
    expect(list.parameters.map((p: any) => p.name)).toEqual(['where', 'orderBy', 'limit', 'startingAfter']);
    expect(list.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/TaskList' });

    const create = d.paths['/v1/models/tasks']!.post;
    expect(create.parameters).toEqual([expect.objectContaining({ name: 'Idempotency-Key', in: 'header' })]);
    const body = create.requestBody.content['application/json'].schema;
    expect(body.properties.data).toEqual({ $ref: '#/components/schemas/TaskCreate' });
    expect(body.properties.id.type).toBe('string');
    expect(body.required).toEqual(['data']);

    const patchBody = d.paths['/v1/models/tasks/{id}']!.patch.requestBody.content['application/json'].schema;
    expect(Object.keys(patchBody.properties)).toEqual(['data', 'readAt', 'onStale']);
    expect(patchBody.properties.onStale).toEqual({ $ref: '#/components/schemas/OnStale' });
    expect(d.components.schemas.OnStale.enum).toEqual(['reject', 'overwrite', 'notify']);

    const del = d.paths['/v1/models/tasks/{id}']!.delete;
    expect(del.parameters.map((p: any) => p.name)).toEqual(['readAt', 'onStale']);
    expect(Object.keys(del.requestBody.content['application/json'].schema.properties)).toEqual(['readAt', 'onStale']);

    const changes = d.paths['/v1/changes']!.get;
    expect(changes.parameters.map((p: any) => p.name)).toEqual(['after', 'limit', 'participant', 'model', 'id']);
  });

  it('describes commits: operations by model and op, reads, receipt with stale notifications', () => {
    const s = (generateOpenApi(example.serialized) as Doc).components.schemas;
    expect(s.CommitRequest.required).toEqual(['operations']);
    expect(s.CommitRequest.properties.operations.items).toEqual({ $ref: '#/components/schemas/Operation' });
    expect(s.Operation.discriminator).toEqual({
      propertyName: 'model',
      mapping: { projects: '#/components/schemas/ProjectOperation', tasks: '#/components/schemas/TaskOperation' },
    });
    expect(s.TaskOperation.discriminator.propertyName).toBe('op');
    expect(s.TaskCreateOperation.properties.data).toEqual({ $ref: '#/components/schemas/TaskCreate' });
    expect(s.TaskUpdateOperation.required).toEqual(['op', 'model', 'id', 'data']);
    expect(s.TaskDeleteOperation.properties.model).toEqual({ type: 'string', const: 'tasks' });
    expect(s.ReadDependency.oneOf).toHaveLength(2);
    expect(s.RowReadDependency.required).toEqual(['model', 'id', 'readAt']);
    expect(s.GroupReadDependency.required).toEqual(['group', 'readAt']);
    expect(s.CommitReceipt.required).toEqual(['object', 'id', 'status', 'lastSyncId']);
    expect(s.CommitReceipt.properties.notifications.items).toEqual({ $ref: '#/components/schemas/StaleNotification' });
    expect(Object.keys(s.StaleNotification.properties)).toEqual([
      'object',
      'model',
      'id',
      'readAt',
      'observedSyncId',
      'conflictingFields',
      'currentValues',
      'writtenBy',
      'onBehalfOf',
      'group',
    ]);
    expect(s.StaleNotification.properties.writtenBy).toEqual({ $ref: '#/components/schemas/Participant' });
    expect(s.Participant.properties.kind.enum).toEqual(['user', 'agent', 'system']);
    expect(s.TaskClaim.allOf[1].properties.data.$ref).toBe('#/components/schemas/Task');
  });

  it('keeps component names and operation ids unique when model names collide', async () => {
    const tricky = {
      formatVersion: 1,
      hash: '',
      models: {
        task: { fields: { a: { type: 'string' } }, relations: {}, options: {} },
        tasks: { fields: { b: { type: 'string' } }, relations: {}, options: {} },
        sessions: { fields: {}, relations: {}, options: {} },
        changes: { fields: {}, relations: {}, options: {} },
        Claims: { fields: {}, relations: {}, options: {} },
      },
    } as const;
    const doc = generateOpenApi(tricky as never) as Doc;
    await validate(doc);
    const ids = operations(doc).map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.components.schemas.Task.properties.a).toBeDefined();
    expect(doc.components.schemas.Tasks.properties.b).toBeDefined();
    expect(doc.components.schemas.Sessions).toBeDefined();
    // "Claim" is the engine's own component; the model "Claims" gets another name.
    expect(doc.components.schemas.Claim.properties.holder).toBeDefined();
  });

  it('component schemas are valid 2020-12 schemas and accept real payloads', () => {
    const doc = generateOpenApi(example.serialized) as Doc;
    // Non-strict: the document's own keys (openapi, paths, discriminator, ...) are not JSON Schema keywords.
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    for (const [name, s] of Object.entries(doc.components.schemas)) {
      expect(ajv.validateSchema(s), `${name}: ${JSON.stringify(ajv.errors)}`).toBe(true);
    }
    ajv.addSchema({ ...doc, $id: 'https://ablo.test/openapi.json' } as never);
    const check = (name: string, value: unknown) => ajv.validate({ $ref: `https://ablo.test/openapi.json#/components/schemas/${name}` }, value);

    const validCommit = {
      operations: [
        { op: 'create', model: 'tasks', data: { title: 'Ship', projectId: 'p1' } },
        { op: 'update', model: 'tasks', id: 't1', data: { status: 'done' }, readAt: 10, onStale: 'notify' },
        { op: 'delete', model: 'projects', id: 'p2' },
      ],
      reads: [{ model: 'projects', id: 'p1', readAt: 10, fields: ['name'] }, { group: 'project:p1', readAt: 10 }],
      idempotencyKey: 'k1',
    };
    expect(check('CommitRequest', validCommit)).toBe(true);
    // The document describes the same wire shape the engine parses.
    expect(commitRequestSchema.safeParse(validCommit).success).toBe(true);
    expect(check('CommitRequest', { operations: [{ type: 'create', model: 'tasks', data: { title: 'Ship', projectId: 'p1' } }] })).toBe(false);
    expect(check('CommitRequest', { operations: [{ op: 'update', model: 'tasks', data: { status: 'done' } }] })).toBe(false);
    expect(check('CommitRequest', { operations: [{ op: 'create', model: 'tasks', data: { title: 'x', projectId: 'p', nope: 1 } }] })).toBe(false);
    expect(check('CommitRequest', { operations: [{ op: 'create', model: 'users', data: {} }] })).toBe(false);
    expect(
      check('CommitReceipt', {
        object: 'commit',
        id: 'c1',
        status: 'committed',
        lastSyncId: 12,
        notifications: [
          {
            object: 'stale_notification',
            model: 'tasks',
            id: 't1',
            readAt: 10,
            observedSyncId: 11,
            conflictingFields: ['status'],
            currentValues: { status: 'doing' },
            writtenBy: { kind: 'agent', id: 'bot' },
          },
        ],
      }),
    ).toBe(true);
    const row = { id: 't1', createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z', syncId: 3, title: 'Ship', status: 'todo', assigneeId: null, projectId: 'p1', estimate: null };
    expect(check('Task', row)).toBe(true);
    expect(check('TaskList', { object: 'list', data: [row], hasMore: false })).toBe(true);
    expect(check('Task', { ...row, estimate: undefined })).toBe(false);
    expect(check('Error', { error: { type: 'stale_context', code: 'stale_context', message: 'Moved.', conflictingFields: ['status'] } })).toBe(true);
  });

  it('is deterministic', () => {
    expect(JSON.stringify(generateOpenApi(kitchen.serialized))).toBe(JSON.stringify(generateOpenApi(kitchen.serialized)));
  });
});
