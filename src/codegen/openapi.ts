/**
 * The OpenAPI 3.1 document of the engine's HTTP API for one schema: the fixed
 * endpoints (health, schema, commits, changes, claims, keys) plus
 * the per-model CRUD and claim endpoints, with component schemas built from
 * the same JSON Schemas `ablo generate` writes.
 */
import { z } from 'zod';
import {
  claimQueueEntrySchema,
  claimReleasedSchema,
  claimRenewBodySchema,
  claimRequestBodySchema,
  claimSchema,
} from '../protocol/claims.js';
import { ERROR_CODES, ERROR_TYPES } from '../errors.js';
import { OPERATIONS } from '../protocol/operations.js';
import { presenceMembersSchema } from '../protocol/presence.js';
import { SESSION_OPERATIONS } from '../protocol/sessions.js';
import { KEY_OPERATIONS } from '../protocol/api.js';
import type { FieldDescriptor, SerializedSchema } from '../schema/descriptor.js';
import { modelJsonSchemas, modelTypeNames, pascalCase, type JSONSchema } from './jsonSchema.js';

export interface OpenApiOptions {
  /** Base URL of the engine; default `http://localhost:4100`. */
  serverUrl?: string;
  /** `info.title`; default `Ablo API`. */
  title?: string;
  /** `info.version`; default `1.0.0`. */
  version?: string;
}


const ref = (name: string): JSONSchema => ({ $ref: `#/components/schemas/${name}` });

/** A protocol Zod schema as a JSON Schema component (what the engine parses or sends). */
function wireSchema(schema: z.ZodType): JSONSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JSONSchema;
  return rest;
}
const responseRef = (name: string): JSONSchema => ({ $ref: `#/components/responses/${name}` });
const json = (schema: JSONSchema): JSONSchema => ({ 'application/json': { schema } });
const constString = (value: string): JSONSchema => ({ type: 'string', const: value });

/** Error responses by status, named in `components.responses`. */
const ERROR_RESPONSES: Record<string, { name: string; description: string }> = {
  '400': { name: 'BadRequest', description: 'Validation error: malformed JSON, unknown model or field, wrong type, missing required field.' },
  '401': { name: 'Unauthorized', description: 'Missing, invalid or revoked API key or session token.' },
  '403': { name: 'Forbidden', description: 'The key or session is not allowed this operation or sync group.' },
  '404': { name: 'NotFound', description: 'No such row, claim or resource.' },
  '409': { name: 'Conflict', description: 'Stale write (`stale_context`), row claimed by someone else (`claimed`) or idempotency key reused with a different body (`idempotency_error`).' },
  '413': { name: 'PayloadTooLarge', description: 'The request body is larger than the engine accepts.' },
  '429': { name: 'TooManyRequests', description: 'Rate limit reached; retry after the `Retry-After` seconds.' },
  '500': { name: 'InternalError', description: 'Unexpected engine error.' },
};

type ErrorStatus = keyof typeof ERROR_RESPONSES;

function errors(...statuses: ErrorStatus[]): Record<string, JSONSchema> {
  const out: Record<string, JSONSchema> = {};
  for (const status of statuses) out[status] = responseRef(ERROR_RESPONSES[status]!.name);
  return out;
}

const FIXED_TAGS: ReadonlySet<string> = new Set(['Engine', 'Schema', 'Commits', 'Changes', 'Claims', 'Presence', 'Auth']);

/** Errors every authenticated endpoint can return. */
const AUTHED = ['401', '403', '429', '500'] as const;

/**
 * Credential kinds, as security requirements (alternatives): any of the three
 * (the document's default), or those that can hold an operation (`keys`,
 * `schema`: not a session token; minting sessions: a secret key).
 */
const ANY_CREDENTIAL = [{ secretKey: [] }, { restrictedKey: [] }, { sessionToken: [] }];
const KEY_MANAGERS = [{ secretKey: [] }, { restrictedKey: [] }];

function sharedSchemas(modelNames: string[]): Record<string, JSONSchema> {
  const modelEnum: JSONSchema = modelNames.length > 0 ? { type: 'string', enum: modelNames } : { type: 'string' };
  return {
    Error: {
      type: 'object',
      description: 'The error envelope of every failed request.',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['type', 'code', 'message'],
          properties: {
            type: { type: 'string', enum: [...ERROR_TYPES], description: 'Stable error family.' },
            code: {
              type: 'string',
              enum: Object.keys(ERROR_CODES),
              description: 'The precise reason, e.g. `unknown_field`, `row_claimed`: one of the codes this version of ablo defines (each belongs to one `type`).',
            },
            message: { type: 'string', description: 'What went wrong and how to fix it.' },
            model: { type: 'string' },
            field: { type: 'string' },
            issues: { type: 'array', items: ref('FieldIssue') },
            conflictingFields: { type: 'array', items: { type: 'string' }, description: 'Stale errors: fields changed since `readAt`.' },
            currentValues: { type: 'object', additionalProperties: true, description: 'Stale errors: the current values of the conflicting fields.' },
            observedSyncId: { type: 'integer', description: 'Stale errors: the new watermark to re-read at.' },
            writtenBy: ref('Participant'),
            onBehalfOf: ref('Participant'),
            holder: ref('Participant'),
          },
          additionalProperties: true,
        },
      },
    },
    FieldIssue: {
      type: 'object',
      required: ['field', 'code', 'message'],
      properties: {
        field: { type: 'string', description: 'Dotted path inside the row, e.g. `title` or `meta.tags.0`.' },
        code: { type: 'string' },
        message: { type: 'string' },
      },
    },
    Participant: {
      type: 'object',
      description: 'Who made a change.',
      required: ['kind', 'id'],
      properties: {
        kind: { type: 'string', enum: ['user', 'agent', 'system'] },
        id: { type: 'string' },
      },
    },
    OnStale: {
      type: 'string',
      enum: ['reject', 'overwrite', 'notify'],
      description:
        'What happens when the row moved after `readAt`: `reject` (default) fails the commit, `overwrite` writes anyway, `notify` holds the write and returns a stale notification.',
    },
    RowReadDependency: {
      type: 'object',
      required: ['model', 'id', 'readAt'],
      properties: {
        model: modelEnum,
        id: { type: 'string' },
        readAt: { type: 'integer', description: 'Sync id the row was read at.' },
        fields: { type: 'array', items: { type: 'string' }, description: 'Only these fields count as a change.' },
        onStale: ref('OnStale'),
      },
      additionalProperties: false,
    },
    GroupReadDependency: {
      type: 'object',
      required: ['group', 'readAt'],
      properties: {
        group: { type: 'string', description: 'A sync group, e.g. `project:p1`.' },
        readAt: { type: 'integer' },
        onStale: ref('OnStale'),
      },
      additionalProperties: false,
    },
    ReadDependency: {
      description: 'Something the commit was based on; if it moved after `readAt`, its `onStale` applies to the whole batch.',
      oneOf: [ref('RowReadDependency'), ref('GroupReadDependency')],
    },
    StaleNotification: {
      type: 'object',
      description: 'A write held under `onStale: notify` because what it was based on changed.',
      required: ['object', 'model', 'id', 'readAt', 'observedSyncId', 'conflictingFields', 'currentValues', 'writtenBy'],
      properties: {
        object: constString('stale_notification'),
        model: { type: 'string' },
        id: { type: 'string' },
        readAt: { type: 'integer' },
        observedSyncId: { type: 'integer', description: 'The newest sync id of the row: the watermark to re-read at.' },
        conflictingFields: { type: 'array', items: { type: 'string' } },
        currentValues: { type: 'object', additionalProperties: true },
        writtenBy: ref('Participant'),
        onBehalfOf: { ...ref('Participant'), description: 'Whom the writer of that change acted for, when it named another participant.' },
        group: { type: 'string', description: 'Set when a group read dependency moved.' },
      },
    },
    CommitRequest: {
      type: 'object',
      required: ['operations'],
      properties: {
        operations: { type: 'array', minItems: 1, items: ref('Operation'), description: 'Applied atomically, in order.' },
        reads: { type: 'array', items: ref('ReadDependency') },
        idempotencyKey: { type: 'string', description: 'Replaying the same key returns the original receipt and writes nothing.' },
        label: { type: 'string', maxLength: 200 },
        ageMs: {
          type: 'integer',
          minimum: 0,
          description:
            "How long the caller has held this transaction (ms since it was made). A keyed request older than the engine's idempotency window is refused with 409 `idempotency_expired` unless its receipt is still stored (then it is replayed).",
        },
      },
      additionalProperties: false,
    },
    CommitReceipt: {
      type: 'object',
      required: ['object', 'id', 'status', 'lastSyncId'],
      properties: {
        object: constString('commit'),
        id: { type: 'string' },
        status: { type: 'string', description: 'Outcome of the commit, e.g. `committed`.' },
        lastSyncId: { type: 'integer', description: 'Sync id of the last change the commit wrote.' },
        notifications: { type: 'array', items: ref('StaleNotification') },
      },
    },
    Change: {
      type: 'object',
      description: 'One entry of the change log.',
      required: ['syncId', 'model', 'id', 'action'],
      properties: {
        syncId: { type: 'integer' },
        model: modelEnum,
        id: { type: 'string', description: 'Row id.' },
        action: { type: 'string', enum: ['create', 'update', 'delete'] },
        changedFields: { type: 'array', items: { type: 'string' } },
        data: { type: ['object', 'null'], description: 'The row after the change; null for a delete.' },
        syncGroups: { type: 'array', items: { type: 'string' } },
        participant: { ...ref('Participant'), description: "Who wrote it: the committing credential's own participant." },
        onBehalfOf: {
          ...ref('Participant'),
          description: 'The participant the credential named and acted for (`Ablo-Participant`), when another than its own.',
        },
        credentialId: { type: 'string', description: 'The committing credential: an API key id (`key_…`) or a session id (`ses_…`).' },
        clientTxId: { type: ['string', 'null'] },
        createdAt: { type: 'string', format: 'date-time' },
      },
    },
    ChangeList: {
      type: 'object',
      required: ['object', 'data', 'hasMore'],
      properties: {
        object: constString('list'),
        data: { type: 'array', items: ref('Change') },
        hasMore: { type: 'boolean' },
        lastSyncId: { type: 'integer' },
      },
    },
    // Claim shapes come from the protocol's Zod schemas, so the document says exactly what the engine sends.
    ClaimRequest: wireSchema(claimRequestBodySchema),
    ClaimRenew: wireSchema(claimRenewBodySchema),
    Claim: { ...wireSchema(claimSchema), description: 'An advisory lease on one row.' },
    ClaimReleased: wireSchema(claimReleasedSchema),
    ClaimQueueEntry: wireSchema(claimQueueEntrySchema),
    PresenceMembers: { ...wireSchema(presenceMembersSchema), description: 'Who is on one sync group now, with each member’s state.' },
    Health: {
      type: 'object',
      required: ['ok', 'version', 'schemaHash', 'lastSyncId'],
      properties: {
        ok: { type: 'boolean' },
        version: { type: 'string', description: 'Engine version.' },
        schemaHash: { type: ['string', 'null'] },
        lastSyncId: { type: 'integer' },
        changeLogFloor: { type: 'integer', description: 'Lowest sync id still in the change log (0: nothing pruned yet).' },
        retention: {
          type: 'object',
          description: 'How long the change log and idempotency records are kept, in ms.',
          properties: { changeLogMs: { type: 'integer' }, idempotencyMs: { type: 'integer' } },
        },
      },
    },
    Readiness: {
      type: 'object',
      required: ['ready'],
      properties: {
        ready: { type: 'boolean' },
        reason: { type: 'string', enum: ['starting', 'draining', 'closed'], description: 'Why the engine takes no work (only when `ready` is false).' },
      },
    },
    SerializedSchema: {
      type: 'object',
      description: 'The stable JSON form of an Ablo schema (sorted keys, format version, content hash).',
      required: ['formatVersion', 'models'],
      properties: {
        formatVersion: { type: 'integer' },
        hash: { type: 'string' },
        models: {
          type: 'object',
          additionalProperties: {
            type: 'object',
            required: ['fields', 'relations', 'options'],
            properties: {
              fields: { type: 'object', additionalProperties: { type: 'object' } },
              relations: { type: 'object', additionalProperties: { type: 'object' } },
              options: { type: 'object' },
            },
          },
        },
      },
    },
    SchemaPushRequest: {
      type: 'object',
      required: ['schema'],
      properties: {
        schema: ref('SerializedSchema'),
        dryRun: { type: 'boolean', description: 'Only compute the plan.' },
        allowDestructive: { type: 'boolean', description: 'Apply changes that may lose data.' },
      },
    },
    SchemaPlan: {
      type: 'object',
      description: 'The changes between the engine schema and the pushed one.',
      properties: {
        changes: {
          type: 'array',
          items: {
            type: 'object',
            properties: { class: { type: 'string', enum: ['safe', 'destructive', 'needs-data'] } },
          },
        },
      },
    },
    SchemaDocument: {
      type: 'object',
      required: ['object', 'version', 'hash', 'schema'],
      properties: {
        object: constString('schema'),
        version: { type: 'integer', description: 'Schema version on the engine (0 before the first push).' },
        hash: { type: ['string', 'null'] },
        schema: { oneOf: [ref('SerializedSchema'), { type: 'null' }] },
      },
    },
    SchemaPushResult: {
      type: 'object',
      required: ['object', 'plan', 'applied', 'version', 'hash'],
      properties: {
        object: constString('schema_push'),
        plan: ref('SchemaPlan'),
        applied: { type: 'boolean' },
        reason: { type: 'string', enum: ['dry_run', 'needs_confirmation'], description: 'Why nothing was applied.' },
        version: { type: 'integer' },
        hash: { type: 'string' },
      },
    },
    ApiKeyCreate: {
      type: 'object',
      description:
        'A key to create. Without `restricted`, a secret key `sk_…` (a secret key only). With `restricted: true`, an `rk_…` key limited to `syncGroups` and `operations`; a restricted key with `keys` may create only restricted keys within its own groups and operations, acting as its own participant (else 403 `scope_exceeds_credential`).',
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 100 },
        mode: { type: 'string', enum: ['test', 'live'], description: 'A test key (default: `sk_test_…` / `rk_test_…`) or a live one.' },
        restricted: { type: 'boolean', description: 'Make a restricted key `rk_…` (needs `syncGroups` and `operations`).' },
        syncGroups: {
          type: 'array',
          minItems: 1,
          maxItems: 100,
          items: { type: 'string', minLength: 1, maxLength: 200 },
          description: 'Restricted keys: groups (`board:a`), prefixes ending in `*` (`board:*`), or `@role` (an identity role of the schema, expanded for the key’s participant).',
        },
        operations: {
          type: 'array',
          minItems: 1,
          items: { type: 'string', enum: [...KEY_OPERATIONS] },
          description: 'Restricted keys: what it may do; `write` stands for `create`, `update` and `delete`.',
        },
        participant: {
          type: 'object',
          required: ['kind', 'id'],
          properties: { kind: { type: 'string', enum: ['user', 'agent', 'system'] }, id: { type: 'string', minLength: 1, maxLength: 200 } },
          additionalProperties: false,
          description: 'Who the key acts as (default: `system` with the key id).',
        },
      },
      additionalProperties: false,
    },
    ApiKey: {
      type: 'object',
      description: 'An API key as listed: never the key itself or its hash.',
      required: ['object', 'id', 'name', 'prefix', 'kind', 'groups', 'operations', 'createdAt', 'revokedAt', 'participant'],
      properties: {
        object: constString('api_key'),
        id: { type: 'string' },
        name: { type: 'string' },
        prefix: { type: 'string', description: 'The first characters of the key, for recognising it.' },
        kind: { type: 'string', enum: ['secret', 'restricted'], description: '`secret` (`sk_…`: everything) or `restricted` (`rk_…`: its groups and operations).' },
        groups: { oneOf: [constString('all'), { type: 'array', items: { type: 'string' } }], description: '`all` (a secret key), or the restricted key’s group patterns.' },
        operations: { type: 'array', items: { type: 'string', enum: [...OPERATIONS] } },
        createdAt: { type: 'string', format: 'date-time' },
        revokedAt: { type: ['string', 'null'], format: 'date-time' },
        participant: ref('Participant'),
        revoked: { type: 'boolean' },
      },
    },
    NewApiKey: {
      allOf: [ref('ApiKey'), { type: 'object', required: ['key'], properties: { key: { type: 'string', description: '`sk_test_…` / `sk_live_…` / `rk_test_…` / `rk_live_…`; shown only here.' } } }],
    },
    SessionCreate: {
      type: 'object',
      description: 'A session token to mint: who it acts as, which sync groups and operations it may use, and for how long.',
      required: ['participant', 'operations'],
      properties: {
        participant: {
          type: 'object',
          required: ['kind', 'id'],
          properties: { kind: { type: 'string', enum: ['user', 'agent'] }, id: { type: 'string', minLength: 1, maxLength: 200 } },
          additionalProperties: false,
        },
        syncGroups: {
          type: 'array',
          maxItems: 100,
          items: { type: 'string', minLength: 1, maxLength: 200 },
          description:
            'Groups (`user:ana`), prefixes ending in `*` (`board:*`), or `@role` (an identity role of the schema, expanded for the participant). Left out: every identity role of the schema, expanded (400 `sync_groups_required` when it has none).',
        },
        operations: {
          type: 'array',
          minItems: 1,
          items: { type: 'string', enum: [...SESSION_OPERATIONS] },
          description: '`write` stands for `create`, `update` and `delete`.',
        },
        ttlSeconds: { type: 'integer', minimum: 1, maximum: 86400, description: 'Lifetime in seconds (default 900, at most 24 h).' },
      },
      additionalProperties: false,
    },
    Session: {
      type: 'object',
      description: 'A session token (`ek_…`): the token is in the create answer only.',
      required: ['object', 'sessionId', 'expiresAt'],
      properties: {
        object: constString('session'),
        sessionId: { type: 'string' },
        token: { type: 'string', description: '`ek_…`; shown only when minted.' },
        expiresAt: { type: 'string', format: 'date-time' },
        revoked: { type: 'boolean' },
      },
    },
    Principal: {
      type: 'object',
      description: 'The credential that asks, as the engine sees it (never the secret).',
      required: ['object', 'kind', 'credentialId', 'participant', 'groups', 'operations', 'expiresAt'],
      properties: {
        object: constString('principal'),
        kind: { type: 'string', enum: ['secret', 'restricted', 'session', 'custom'] },
        credentialId: { type: 'string', description: '`key_…` for API keys, `ses_…` for session tokens.' },
        participant: {
          type: 'object',
          required: ['kind', 'id'],
          properties: { kind: { type: 'string', enum: ['user', 'agent', 'system'] }, id: { type: 'string' } },
        },
        groups: { oneOf: [constString('all'), { type: 'array', items: { type: 'string' } }], description: '`all`, or group patterns (`board:*`).' },
        operations: { type: 'array', items: { type: 'string', enum: [...OPERATIONS] } },
        expiresAt: { type: ['string', 'null'], format: 'date-time' },
      },
    },
    ApiKeyList: {
      type: 'object',
      required: ['object', 'data', 'hasMore'],
      properties: { object: constString('list'), data: { type: 'array', items: ref('ApiKey') }, hasMore: { type: 'boolean' } },
    },
    Deleted: {
      type: 'object',
      required: ['id', 'deleted'],
      properties: {
        id: { type: 'string' },
        deleted: { type: 'boolean', const: true },
        lastSyncId: { type: 'integer' },
      },
    },
  };
}

/** Scalar fields can be filtered and sorted on in a list. */
function filterSchema(d: FieldDescriptor): JSONSchema | undefined {
  switch (d.type) {
    case 'string':
    case 'date':
      return { type: 'string' };
    case 'number':
      return { type: d.checks?.some((c) => c.kind === 'int') ? 'integer' : 'number' };
    case 'boolean':
      return { type: 'boolean' };
    case 'enum':
      return { type: 'string', enum: [...d.values] };
    default:
      return undefined;
  }
}

function stripDialect(schema: JSONSchema): JSONSchema {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

function uniqueIds(): (id: string) => string {
  const used = new Set<string>();
  return (id: string) => {
    let candidate = id;
    for (let n = 2; used.has(candidate); n++) candidate = `${id}${n}`;
    used.add(candidate);
    return candidate;
  };
}

/** The OpenAPI 3.1.0 document of the engine's HTTP API for this schema. */
export function generateOpenApi(schema: SerializedSchema, options: OpenApiOptions = {}): Record<string, unknown> {
  const models = Object.keys(schema.models).sort();
  const typeNames = modelTypeNames(schema);
  const jsonSchemas = modelJsonSchemas(schema);
  const schemas: Record<string, JSONSchema> = sharedSchemas(models);
  const paths: Record<string, Record<string, unknown>> = {};
  const opId = uniqueIds();
  // Shared operation ids first, so a model never takes one of them.
  const sharedIds = {
    health: opId('getHealth'),
    ready: opId('getReadiness'),
    getSchema: opId('getSchema'),
    pushSchema: opId('pushSchema'),
    commit: opId('createCommit'),
    changes: opId('listChanges'),
    release: opId('releaseClaim'),
    keys: opId('createApiKey'),
    openapi: opId('getOpenApiDocument'),
  };

  const operationRefs: JSONSchema[] = [];
  const operationMapping: Record<string, string> = {};
  const tags: JSONSchema[] = [];

  const idParam = { name: 'id', in: 'path', required: true, description: 'Row id.', schema: { type: 'string' } };

  for (const model of models) {
    const descriptor = schema.models[model]!;
    const T = typeNames[model]!;
    const plural = pascalCase(model);
    const s = jsonSchemas[model]!;
    const { id: _clientId, ...createProps } = s.create.properties as Record<string, JSONSchema>;
    schemas[T] = stripDialect(s.row);
    schemas[`${T}Create`] = {
      ...stripDialect(s.create),
      description: `Fields for creating a row of "${model}". Send a client-chosen id as \`id\` next to \`data\`, not inside it.`,
      properties: createProps,
    };
    schemas[`${T}Update`] = stripDialect(s.update);
    schemas[`${T}List`] = {
      type: 'object',
      required: ['object', 'data', 'hasMore'],
      properties: { object: constString('list'), data: { type: 'array', items: ref(T) }, hasMore: { type: 'boolean' } },
    };
    schemas[`${T}Claim`] = {
      allOf: [ref('Claim'), { type: 'object', required: ['data'], properties: { data: { ...ref(T), description: 'The row as it is now.' } } }],
    };
    schemas[`${T}ClaimState`] = {
      type: 'object',
      required: ['claim', 'queue'],
      properties: {
        claim: { oneOf: [ref('Claim'), { type: 'null' }] },
        queue: { type: 'array', items: ref('ClaimQueueEntry') },
      },
    };
    const guard = {
      readAt: { type: 'integer', minimum: 0, description: 'Sync id the row was read at; enables the stale guard.' },
      onStale: ref('OnStale'),
    };
    schemas[`${T}CreateOperation`] = {
      type: 'object',
      required: ['op', 'model', 'data'],
      properties: { op: constString('create'), model: constString(model), id: { type: 'string' }, data: ref(`${T}Create`) },
      additionalProperties: false,
    };
    schemas[`${T}UpdateOperation`] = {
      type: 'object',
      required: ['op', 'model', 'id', 'data'],
      properties: { op: constString('update'), model: constString(model), id: { type: 'string' }, data: ref(`${T}Update`), ...guard },
      additionalProperties: false,
    };
    schemas[`${T}DeleteOperation`] = {
      type: 'object',
      required: ['op', 'model', 'id'],
      properties: { op: constString('delete'), model: constString(model), id: { type: 'string' }, ...guard },
      additionalProperties: false,
    };
    schemas[`${T}Operation`] = {
      oneOf: [ref(`${T}CreateOperation`), ref(`${T}UpdateOperation`), ref(`${T}DeleteOperation`)],
      discriminator: {
        propertyName: 'op',
        mapping: {
          create: `#/components/schemas/${T}CreateOperation`,
          update: `#/components/schemas/${T}UpdateOperation`,
          delete: `#/components/schemas/${T}DeleteOperation`,
        },
      },
    };
    operationRefs.push(ref(`${T}Operation`));
    operationMapping[model] = `#/components/schemas/${T}Operation`;
    const tagName = FIXED_TAGS.has(model) ? `${model} (model)` : model;
    tags.push({ name: tagName, description: descriptor.options.description ?? `Rows of "${model}".` });

    // List parameters: where[field]=value and orderBy[field]=asc|desc (deepObject).
    const whereProps: Record<string, JSONSchema> = { id: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] } };
    const orderProps: Record<string, JSONSchema> = {};
    const direction: JSONSchema = { type: 'string', enum: ['asc', 'desc'] };
    for (const f of ['id', 'createdAt', 'updatedAt', 'syncId']) orderProps[f] = direction;
    for (const [field, d] of Object.entries(descriptor.fields)) {
      const scalar = filterSchema(d);
      if (!scalar) continue;
      whereProps[field] = { anyOf: [scalar, { type: 'array', items: scalar }] };
      orderProps[field] = direction;
    }
    const tag = [tagName];
    paths[`/v1/models/${model}`] = {
      get: {
        operationId: opId(`list${plural}`),
        tags: tag,
        summary: `List ${model}`,
        description:
          'Server-authoritative list. Filters use deepObject query parameters: `where[status]=todo`; repeat a key for IN (`where[status]=todo&where[status]=doing`). Values are read as the field type. Sort with `orderBy[title]=asc`. Page with `limit` and `startingAfter` (the last id of the previous page).',
        parameters: [
          {
            name: 'where',
            in: 'query',
            style: 'deepObject',
            explode: true,
            description: 'Equality filters per field; several values mean IN.',
            schema: { type: 'object', properties: whereProps, additionalProperties: false },
          },
          {
            name: 'orderBy',
            in: 'query',
            style: 'deepObject',
            explode: true,
            description: 'Sort order per field.',
            schema: { type: 'object', properties: orderProps, additionalProperties: false },
          },
          { name: 'limit', in: 'query', description: 'Page size (default 1000).', schema: { type: 'integer', minimum: 1, maximum: 10000 } },
          { name: 'startingAfter', in: 'query', description: 'Cursor: the id of the last row of the previous page.', schema: { type: 'string' } },
        ],
        responses: { '200': { description: `A page of ${model}.`, content: json(ref(`${T}List`)) }, ...errors('400', ...AUTHED) },
      },
      post: {
        operationId: opId(`create${T}`),
        tags: tag,
        summary: `Create a row of ${model}`,
        parameters: [
          {
            name: 'Idempotency-Key',
            in: 'header',
            description: 'Retrying with the same key returns the first result and writes nothing again.',
            schema: { type: 'string', maxLength: 255 },
          },
        ],
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['data'],
            properties: { data: ref(`${T}Create`), id: { type: 'string', description: 'Client-chosen id; generated when left out.' } },
            additionalProperties: false,
          }),
        },
        responses: {
          '201': { description: 'The created row.', content: json(ref(T)) },
          '200': { description: 'A replay of an earlier create with the same Idempotency-Key: the row it made.', content: json(ref(T)) },
          ...errors('400', '409', '413', ...AUTHED),
        },
      },
    };
    const staleParams = [
      { name: 'readAt', in: 'query', description: 'Sync id the row was read at; enables the stale guard.', schema: { type: 'integer' } },
      { name: 'onStale', in: 'query', schema: ref('OnStale') },
    ];
    paths[`/v1/models/${model}/{id}`] = {
      parameters: [idParam],
      get: {
        operationId: opId(`retrieve${T}`),
        tags: tag,
        summary: `Retrieve a row of ${model}`,
        responses: { '200': { description: 'The row.', content: json(ref(T)) }, ...errors('404', ...AUTHED) },
      },
      patch: {
        operationId: opId(`update${T}`),
        tags: tag,
        summary: `Update a row of ${model}`,
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['data'],
            properties: { data: ref(`${T}Update`), ...guard },
            additionalProperties: false,
          }),
        },
        responses: { '200': { description: 'The updated row.', content: json(ref(T)) }, ...errors('400', '404', '409', '413', ...AUTHED) },
      },
      delete: {
        operationId: opId(`delete${T}`),
        tags: tag,
        summary: `Delete a row of ${model}`,
        description: 'The stale guard (`readAt`, `onStale`) may be given as query parameters or as a JSON body.',
        parameters: staleParams,
        requestBody: {
          required: false,
          content: json({ type: 'object', properties: guard, additionalProperties: false }),
        },
        responses: { '200': { description: 'The row was deleted.', content: json(ref('Deleted')) }, ...errors('400', '404', '409', ...AUTHED) },
      },
    };
    paths[`/v1/models/${model}/{id}/claim`] = {
      parameters: [idParam],
      post: {
        operationId: opId(`claim${T}`),
        tags: tag,
        summary: `Claim a row of ${model}`,
        description:
          'Acquire an advisory lease on the row (FIFO queue when held). While claimed, writes from anyone but the holder fail with `claimed`. The response carries the row as it is now.',
        requestBody: { required: false, content: json(ref('ClaimRequest')) },
        responses: { '200': { description: 'The granted claim.', content: json(ref(`${T}Claim`)) }, ...errors('400', '404', '409', ...AUTHED) },
      },
      get: {
        operationId: opId(`get${T}Claim`),
        tags: tag,
        summary: `Claim state of a row of ${model}`,
        responses: { '200': { description: 'The current claim and queue.', content: json(ref(`${T}ClaimState`)) }, ...errors('404', ...AUTHED) },
      },
    };
  }

  schemas.Operation =
    operationRefs.length > 0
      ? { oneOf: operationRefs, discriminator: { propertyName: 'model', mapping: operationMapping } }
      : { type: 'object', description: 'The schema has no models.' };

  const fixedPaths: Record<string, Record<string, unknown>> = {
    '/v1/health': {
      get: {
        operationId: sharedIds.health,
        tags: ['Engine'],
        summary: 'Engine health',
        security: [],
        responses: { '200': { description: 'The engine is up.', content: json(ref('Health')) }, ...errors('500') },
      },
    },
    '/v1/ready': {
      get: {
        operationId: sharedIds.ready,
        tags: ['Engine'],
        summary: 'Engine readiness (for load balancer health checks)',
        security: [],
        responses: {
          '200': { description: 'The engine takes work.', content: json(ref('Readiness')) },
          '503': { description: 'The engine is starting, draining or closed: send work to another engine.', content: json(ref('Readiness')) },
        },
      },
    },
    '/v1/schema': {
      get: {
        operationId: sharedIds.getSchema,
        tags: ['Schema'],
        summary: 'The current schema',
        description:
          'With `changedFrom`, a long-poll: answers at once when the schema hash is not `changedFrom`, else when the schema changes (a push through any engine on the database) or after `waitSeconds`, with the schema then. Compare the hash to tell a change from the end of the wait.',
        parameters: [
          { name: 'changedFrom', in: 'query', description: 'The schema hash the client has (empty for none): wait while the schema still has it.', schema: { type: 'string', maxLength: 128 } },
          { name: 'waitSeconds', in: 'query', description: 'Longest wait, with `changedFrom` (default 30).', schema: { type: 'number', minimum: 0, maximum: 120 } },
        ],
        responses: { '200': { description: 'The current serialized schema and its version.', content: json(ref('SchemaDocument')) }, ...errors('400', ...AUTHED) },
      },
      post: {
        operationId: sharedIds.pushSchema,
        security: KEY_MANAGERS,
        tags: ['Schema'],
        summary: 'Push a schema',
        description: 'Diff the pushed schema against the current one; apply unless `dryRun`. Destructive changes need `allowDestructive`.',
        requestBody: { required: true, content: json(ref('SchemaPushRequest')) },
        responses: { '200': { description: 'The plan, and whether it was applied.', content: json(ref('SchemaPushResult')) }, ...errors('400', '409', '413', ...AUTHED) },
      },
    },
    '/v1/commits': {
      post: {
        operationId: sharedIds.commit,
        tags: ['Commits'],
        summary: 'Commit a batch of operations',
        description:
          'Applies every operation atomically. Operations are discriminated by `model`, then by `op` (`create`, `update`, `delete`). Read dependencies guard what the batch was based on.',
        requestBody: { required: true, content: json(ref('CommitRequest')) },
        responses: { '200': { description: 'The commit receipt.', content: json(ref('CommitReceipt')) }, ...errors('400', '404', '409', '413', ...AUTHED) },
      },
    },
    '/v1/changes': {
      get: {
        operationId: sharedIds.changes,
        tags: ['Changes'],
        summary: 'The change log after a sync id',
        parameters: [
          { name: 'after', in: 'query', description: 'Return changes with a sync id greater than this.', schema: { type: 'integer', minimum: 0 } },
          { name: 'limit', in: 'query', description: 'Page size (default 1000).', schema: { type: 'integer', minimum: 1, maximum: 10000 } },
          {
            name: 'participant',
            in: 'query',
            description: 'Only changes this participant (`kind:id`) wrote or that were written on its behalf.',
            schema: { type: 'string', pattern: '^(user|agent|system):.+$' },
          },
          { name: 'model', in: 'query', description: 'Only changes of this model.', schema: { type: 'string' } },
          { name: 'id', in: 'query', description: 'Only changes of this row id (of `model` when given, else of any model).', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'Changes in sync-id order.', content: json(ref('ChangeList')) }, ...errors('400', ...AUTHED) },
      },
    },
    '/v1/claims/{claimId}': {
      parameters: [{ name: 'claimId', in: 'path', required: true, schema: { type: 'string' } }],
      delete: {
        operationId: sharedIds.release,
        tags: ['Claims'],
        summary: 'Release a claim',
        responses: { '200': { description: 'The claim is released.', content: json(ref('ClaimReleased')) }, ...errors('403', '404', ...AUTHED) },
      },
    },
    '/v1/claims/{claimId}/renew': {
      parameters: [{ name: 'claimId', in: 'path', required: true, schema: { type: 'string' } }],
      post: {
        operationId: opId('renewClaim'),
        tags: ['Claims'],
        summary: 'Extend a claim’s lease',
        requestBody: { required: false, content: json(ref('ClaimRenew')) },
        responses: { '200': { description: 'The renewed claim.', content: json(ref('Claim')) }, ...errors('400', '403', '404', ...AUTHED) },
      },
    },
    '/v1/keys': {
      post: {
        operationId: sharedIds.keys,
        tags: ['Auth'],
        summary: 'Create an API key',
        security: KEY_MANAGERS,
        requestBody: { required: false, content: json(ref('ApiKeyCreate')) },
        responses: { '201': { description: 'The new key (the secret is shown only here).', content: json(ref('NewApiKey')) }, ...errors('400', ...AUTHED) },
      },
      get: {
        operationId: opId('listApiKeys'),
        tags: ['Auth'],
        summary: 'List API keys',
        security: KEY_MANAGERS,
        responses: {
          '200': { description: 'Every key (for a restricted key: itself and the keys within its scope), without secrets.', content: json(ref('ApiKeyList')) },
          ...errors(...AUTHED),
        },
      },
    },
    '/v1/keys/{keyId}': {
      parameters: [{ name: 'keyId', in: 'path', required: true, schema: { type: 'string' } }],
      delete: {
        operationId: opId('revokeApiKey'),
        tags: ['Auth'],
        summary: 'Revoke an API key',
        security: KEY_MANAGERS,
        responses: { '200': { description: 'The revoked key.', content: json(ref('ApiKey')) }, ...errors('404', ...AUTHED) },
      },
    },
    '/v1/sessions': {
      post: {
        operationId: opId('createSession'),
        tags: ['Auth'],
        summary: 'Mint a session token (secret key only)',
        security: [{ secretKey: [] }],
        requestBody: { required: true, content: json(ref('SessionCreate')) },
        responses: { '201': { description: 'The new session token (shown only here).', content: json(ref('Session')) }, ...errors('400', ...AUTHED) },
      },
    },
    '/v1/sessions/{sessionId}': {
      parameters: [{ name: 'sessionId', in: 'path', required: true, schema: { type: 'string' } }],
      delete: {
        operationId: opId('revokeSession'),
        tags: ['Auth'],
        summary: 'Revoke a session token (secret key only)',
        security: [{ secretKey: [] }],
        responses: { '200': { description: 'The revoked session.', content: json(ref('Session')) }, ...errors('404', ...AUTHED) },
      },
    },
    '/v1/me': {
      get: {
        operationId: opId('getPrincipal'),
        tags: ['Auth'],
        summary: 'The credential in use: kind, participant, groups, operations, expiry',
        responses: { '200': { description: 'The principal.', content: json(ref('Principal')) }, ...errors(...AUTHED) },
      },
    },
    '/v1/presence': {
      get: {
        operationId: opId('listPresence'),
        tags: ['Presence'],
        summary: 'Who is on a sync group now',
        description:
          'The members of one exact sync group (no `*` pattern) as the WebSocket `presence` frames show them, from every engine process of the database. Needs `read` and a credential allowed that group (403 `group_not_allowed`).',
        parameters: [{ name: 'group', in: 'query', required: true, description: 'One exact sync group, e.g. `board:123`.', schema: { type: 'string', minLength: 1, maxLength: 200 } }],
        responses: { '200': { description: 'The group and its members.', content: json(ref('PresenceMembers')) }, ...errors('400', ...AUTHED) },
      },
    },
    '/v1/openapi.json': {
      get: {
        operationId: sharedIds.openapi,
        tags: ['Engine'],
        summary: 'This OpenAPI document',
        security: [],
        responses: { '200': { description: 'The OpenAPI 3.1 document for the current schema.', content: json({ type: 'object' }) }, ...errors('500') },
      },
    },
  };

  const responses: Record<string, JSONSchema> = {};
  for (const [status, { name, description }] of Object.entries(ERROR_RESPONSES)) {
    responses[name] = {
      description,
      ...(status === '429' ? { headers: { 'Retry-After': { description: 'Seconds to wait.', schema: { type: 'integer' } } } } : {}),
      content: json(ref('Error')),
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: options.title ?? 'Ablo API',
      version: options.version ?? '1.0.0',
      description:
        'HTTP API of an Ablo engine for this schema. Authenticate with `Authorization: Bearer <credential>`: a secret key `sk_…`, a restricted key `rk_…` or a session token `ek_…` (see the security schemes; each operation lists the kinds that may call it); `/v1/health`, `/v1/ready` and `/v1/openapi.json` are open. Errors use `{ "error": { "type", "code", "message" } }`. The WebSocket sync protocol (`/v1/sync`) and MCP (`/mcp`) are not described here.',
      'x-ablo-schema-hash': schema.hash,
    },
    servers: [{ url: options.serverUrl ?? 'http://localhost:4100' }],
    security: ANY_CREDENTIAL,
    tags: [
      { name: 'Engine', description: 'Health and this document.' },
      { name: 'Schema', description: 'Read and push the schema.' },
      { name: 'Commits', description: 'Atomic batches with stale guards and read dependencies.' },
      { name: 'Changes', description: 'The change log.' },
      { name: 'Claims', description: 'Advisory row leases.' },
      { name: 'Presence', description: 'Who is on a sync group (ephemeral, never stored).' },
      { name: 'Auth', description: 'API keys and session tokens.' },
      ...tags,
    ],
    paths: { ...fixedPaths, ...paths },
    components: {
      securitySchemes: {
        secretKey: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A secret key `sk_test_…` / `sk_live_…` (server side only): every sync group and operation, may act as another participant (`Ablo-Participant`), manage keys and mint sessions.',
        },
        restrictedKey: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A restricted key `rk_test_…` / `rk_live_…` (jobs, agents): only the sync groups and operations it was made with, acting as its own participant; with `keys` it manages restricted keys within its own scope.',
        },
        sessionToken: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A session token `ek_…` minted by a secret key (`POST /v1/sessions`): one participant, some sync groups, some of read, create, update, delete, claim, presence, until it expires.',
        },
      },
      schemas,
      responses,
    },
  };
}
