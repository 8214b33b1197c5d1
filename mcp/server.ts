/**
 * `createMcpServer`: the engine's schema as MCP tools.
 *
 * Per model `<model>_list`, `_get`, `_create`, `_update`, `_delete`, `_claim`,
 * `_release`; plus `ablo_schema` and `ablo_commit`. Every tool talks to the
 * engine over its HTTP API, so the stdio server (`ablo mcp`) and the engine's
 * own `/mcp` endpoint run the same code.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolRequestSchema, type CallToolResult, type ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import { AbloError, AbloNotFoundError, AbloValidationError } from '../src/errors.js';
import type { ClaimGrant } from '../src/protocol/claims.js';
import { participantSchema, type CommitReceipt, type ParticipantRef, type Row, type StaleNotification } from '../src/protocol/commit.js';
import type { OrderBy } from '../src/protocol/listQuery.js';
import type { FieldDescriptor, ModelDescriptor, SerializedSchema } from '../src/schema/descriptor.js';
import { isRequiredOnCreate } from '../src/schema/descriptor.js';
import { defaultIdPrefix } from '../src/schema/serialize.js';
import { packageVersion } from '../src/version.js';
import { SessionClaims, type HeldClaim } from './claims.js';
import { canonical, decodeCursor, encodeCursor } from './cursor.js';
import { EngineApi, type DeletedResult } from './engineApi.js';
import { errorResult, invalidArguments, type ErrorContext } from './errors.js';
import {
  DEFAULT_MCP_LIST_LIMIT,
  claimArgs,
  commitArgs,
  createArgs,
  deleteArgs,
  getArgs,
  listArgs,
  modelInputs,
  releaseArgs,
  schemaArgs,
  updateArgs,
} from './inputs.js';
import { clipRow, renderPairs, renderParticipant, renderRow, renderRowLines } from './render.js';

export const DEFAULT_TOKEN_BUDGET = 20_000;
export const MIN_TOKEN_BUDGET = 500;
export const DEFAULT_PARTICIPANT: ParticipantRef = { kind: 'agent', id: 'mcp' };

/** Per-model tool suffixes, in registration order. */
export const MODEL_TOOL_VERBS = ['list', 'get', 'create', 'update', 'delete', 'claim', 'release'] as const;
export type ModelToolVerb = (typeof MODEL_TOOL_VERBS)[number];
/** Tools that write or coordinate: none of them is registered with `readOnly`. */
const WRITE_VERBS = new Set<ModelToolVerb>(['create', 'update', 'delete', 'claim', 'release']);
export const GLOBAL_TOOLS = ['ablo_schema', 'ablo_commit'] as const;

export interface CreateMcpServerOptions {
  /** Engine base URL, e.g. `http://127.0.0.1:4100`. */
  engineUrl: string;
  apiKey: string;
  /** Register no write tools (no create/update/delete/claim/release/commit). */
  readOnly?: boolean;
  /** Expose only these models (default: every model). An unknown name is an error. */
  models?: readonly string[];
  /** Leave these tools out, e.g. `['tasks_delete']`. An unknown name is an error. */
  disableTools?: readonly string[];
  /** Largest tool output, in estimated tokens (≈ characters / 4). Default 20,000. */
  tokenBudget?: number;
  /** Who the writes are attributed to (`Ablo-Participant`); `{ kind, id }` or `"kind:id"`. Default `agent:mcp`. */
  participant?: ParticipantRef | string;
  /** Where the server logs (never stdout). Default: stderr. */
  log?: (line: string) => void;
  /** fetch used for the engine's HTTP API (default: global fetch). */
  fetch?: typeof fetch;
}

export interface AbloMcpServer {
  /** The MCP server: connect it to a transport (`server.connect(transport)`). */
  server: McpServer;
  /** Names of the registered tools, in order. */
  tools: string[];
  /** Models exposed as tools. */
  models: string[];
  schemaHash: string | null;
  tokenBudget: number;
  participant: ParticipantRef;
  /** Claims this session holds right now. */
  claims(): HeldClaim[];
  /** Tool calls running right now (a claim waiting its turn counts until it is granted or given up). */
  callsInFlight(): number;
  /** Release this session's claims and close the server (also runs when its transport closes). */
  close(options?: { releaseClaims?: boolean }): Promise<void>;
}

/** `"agent:claude"` → `{ kind: 'agent', id: 'claude' }`; a validation error naming the argument otherwise. */
export function parseParticipant(value: ParticipantRef | string): ParticipantRef {
  const raw = typeof value === 'string' ? { kind: value.slice(0, Math.max(0, value.indexOf(':'))), id: value.slice(value.indexOf(':') + 1) } : value;
  const parsed = participantSchema.safeParse(raw);
  if (!parsed.success) {
    throw new AbloValidationError(`participant must look like kind:id with kind one of user, agent, system (e.g. agent:claude), got ${JSON.stringify(value)}.`, {
      code: 'invalid_participant',
      field: 'participant',
    });
  }
  return parsed.data;
}

/** Every tool a schema with these models could have, in registration order. */
export function allToolNames(models: readonly string[]): string[] {
  return [...models.flatMap((m) => MODEL_TOOL_VERBS.map((v) => `${m}_${v}`)), ...GLOBAL_TOOLS];
}

/** Check `models` and `disableTools` against the schema; unknown names fail naming them and the valid ones. */
function checkSelection(allModels: readonly string[], options: CreateMcpServerOptions): string[] {
  const models = options.models && options.models.length > 0 ? [...new Set(options.models)] : [...allModels];
  const unknownModels = models.filter((m) => !allModels.includes(m));
  if (unknownModels.length > 0) {
    throw new AbloValidationError(
      `Unknown model${unknownModels.length > 1 ? 's' : ''} ${unknownModels.map((m) => `"${m}"`).join(', ')} in models. ` +
        `The engine's schema has: ${allModels.join(', ') || '(no models; push a schema first)'}.`,
      { code: 'unknown_model', field: 'models', unknown: unknownModels, valid: [...allModels] },
    );
  }
  const valid = allToolNames(allModels);
  const unknownTools = (options.disableTools ?? []).filter((t) => !valid.includes(t));
  if (unknownTools.length > 0) {
    throw new AbloValidationError(
      `Unknown tool${unknownTools.length > 1 ? 's' : ''} ${unknownTools.map((t) => `"${t}"`).join(', ')} in disableTools. Tools: ${valid.join(', ')}.`,
      { code: 'unknown_tool', field: 'disableTools', unknown: unknownTools, valid },
    );
  }
  return models;
}

const INSTRUCTIONS = [
  'Ablo: typed rows that people and other agents edit at the same time.',
  'Read with <model>_list / <model>_get. Every row has a syncId: pass it as readAt on <model>_update / <model>_delete, and the write is refused (with the current values) if someone changed those fields since you read.',
  'For longer work on a row, call <model>_claim first: it waits your turn, returns the row as it is now, and blocks other writers until <model>_release (or until this session ends).',
  'ablo_schema describes the models and fields; ablo_commit writes a batch atomically.',
].join('\n');

type Handler = (args: Record<string, unknown>, extra: ToolExtra) => Promise<CallToolResult>;
interface ToolExtra {
  signal: AbortSignal;
  _meta?: { progressToken?: string | number };
  sendNotification: (n: { method: 'notifications/progress'; params: { progressToken: string | number; progress: number; message?: string } }) => Promise<void>;
}

function ok(text: string, structured: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: structured };
}

function isReceipt(v: unknown): v is CommitReceipt {
  return !!v && typeof v === 'object' && (v as { object?: unknown }).object === 'commit';
}

function orderList(o: Record<string, 'asc' | 'desc'> | undefined): OrderBy[] | undefined {
  if (!o) return undefined;
  const list = Object.entries(o).map(([field, direction]) => ({ field, direction }));
  return list.length ? list : undefined;
}

function notificationLines(ns: readonly StaleNotification[]): string[] {
  return ns.map(
    (n) =>
      `  held: ${n.model} ${n.id} changed after readAt=${n.readAt}${n.conflictingFields.length ? ` (${n.conflictingFields.join(', ')})` : ''} by ${renderParticipant(n.writtenBy)}; ` +
      `current: ${renderPairs(n.currentValues)}; new readAt=${n.observedSyncId}`,
  );
}

function describeFieldText(name: string, d: FieldDescriptor): string {
  const parts: string[] = [];
  const type = d.type === 'enum' ? `enum ${d.values.join('|')}` : d.type === 'date' ? (d.format === 'date' ? 'date (YYYY-MM-DD)' : 'date-time (ISO)') : d.type === 'array' ? `array of ${d.items.type}` : d.type;
  parts.push(type);
  if (isRequiredOnCreate(d)) parts.push('required');
  if (d.nullable) parts.push('nullable');
  if (d.optional) parts.push('optional');
  if (d.default !== undefined) parts.push(`default ${JSON.stringify(d.default)}`);
  const constraints = constraintsOf(d);
  if (constraints.length) parts.push(constraints.join(', '));
  return `  ${name}: ${parts.join('; ')}${d.description ? ` — ${d.description}` : ''}`;
}

function constraintsOf(d: FieldDescriptor): string[] {
  const out: string[] = [];
  if (d.type === 'string' || d.type === 'array') {
    for (const c of d.checks ?? []) {
      switch (c.kind) {
        case 'min_length':
          out.push(`min length ${c.value}`);
          break;
        case 'max_length':
          out.push(`max length ${c.value}`);
          break;
        case 'length':
          out.push(`length ${c.value}`);
          break;
        case 'regex':
          out.push(`matches /${c.pattern}/${c.flags}`);
          break;
        case 'starts_with':
          out.push(`starts with ${JSON.stringify(c.value)}`);
          break;
        case 'ends_with':
          out.push(`ends with ${JSON.stringify(c.value)}`);
          break;
        case 'includes':
          out.push(`includes ${JSON.stringify(c.value)}`);
          break;
        case 'email':
        case 'url':
        case 'lowercase':
        case 'uppercase':
          out.push(c.kind);
          break;
        case 'format':
          out.push(`format ${c.format}`);
          break;
      }
    }
  } else if (d.type === 'number') {
    for (const c of d.checks ?? []) {
      if (c.kind === 'int') out.push('integer');
      else if (c.kind === 'min') out.push(`${c.inclusive ? '≥' : '>'} ${c.value}`);
      else if (c.kind === 'max') out.push(`${c.inclusive ? '≤' : '<'} ${c.value}`);
      else out.push(`multiple of ${c.value}`);
    }
  }
  return out;
}

function schemaFieldInfo(d: FieldDescriptor): Record<string, unknown> {
  const info: Record<string, unknown> = { type: d.type, required: isRequiredOnCreate(d), nullable: Boolean(d.nullable || d.optional) };
  if (d.default !== undefined) info.default = d.default;
  if (d.description) info.description = d.description;
  if (d.type === 'enum') info.values = d.values;
  if (d.type === 'date') info.format = d.format;
  const constraints = constraintsOf(d);
  if (constraints.length) info.constraints = constraints;
  return info;
}

export async function createMcpServer(options: CreateMcpServerOptions): Promise<AbloMcpServer> {
  const log = options.log ?? ((line: string) => void process.stderr.write(`[ablo mcp] ${line}\n`));
  const tokenBudget = options.tokenBudget ?? DEFAULT_TOKEN_BUDGET;
  if (!Number.isInteger(tokenBudget) || tokenBudget < MIN_TOKEN_BUDGET) {
    throw new AbloValidationError(`tokenBudget must be a whole number of at least ${MIN_TOKEN_BUDGET} tokens, got ${String(options.tokenBudget)}.`, {
      code: 'invalid_token_budget',
      field: 'tokenBudget',
    });
  }
  const budgetChars = tokenBudget * 4;
  const participant = parseParticipant(options.participant ?? DEFAULT_PARTICIPANT);
  const api = new EngineApi({ url: options.engineUrl, apiKey: options.apiKey, participant, ...(options.fetch ? { fetch: options.fetch } : {}) });

  // Fails here, before anything is registered, when the engine is unreachable or refuses the key.
  const doc = await api.schema();
  const serialized: SerializedSchema = doc.schema ?? { formatVersion: 1, hash: '', models: {} };
  const allModels = Object.keys(serialized.models);
  const models = checkSelection(allModels, options);
  const disabled = new Set(options.disableTools ?? []);
  const readOnly = options.readOnly === true;

  const claims = new SessionClaims(api, log);
  const server = new McpServer({ name: 'ablo', version: packageVersion() }, { capabilities: { tools: {} }, instructions: INSTRUCTIONS });
  const tools: string[] = [];
  /** name → its input schema and handler: `tools/call` is answered from here (see below). */
  const callable = new Map<string, { input: z.ZodObject; run: (args: Record<string, unknown>, extra: ToolExtra) => Promise<CallToolResult> }>();
  let inFlight = 0;

  const register = (
    name: string,
    config: { description: string; input: z.ZodObject; annotations: ToolAnnotations; title: string },
    errCtx: (args: Record<string, unknown>) => Omit<ErrorContext, 'tool'>,
    handler: Handler,
  ): void => {
    if (disabled.has(name)) return;
    tools.push(name);
    const run = async (args: Record<string, unknown>, extra: ToolExtra): Promise<CallToolResult> => {
      inFlight++;
      try {
        return await handler(args, extra);
      } catch (err) {
        let ctx: Omit<ErrorContext, 'tool'> = {};
        try {
          ctx = errCtx(args);
        } catch {
          // Keep the bare context.
        }
        if (err instanceof AbloError && err.type === 'stale_context') {
          // Show the whole row as it is now, so the agent can re-plan without another read.
          const d = err.details as { model?: string; id?: string };
          const model = d.model ?? ctx.model;
          const id = d.id ?? ctx.id;
          if (model && id && serialized.models[model]) {
            ctx = { ...ctx, model, id, fieldNames: Object.keys(serialized.models[model]!.fields) };
            ctx.currentRow = await api.get(model, id).catch((e: unknown) => (e instanceof AbloNotFoundError ? null : undefined));
            if (ctx.currentRow === undefined) delete ctx.currentRow;
          }
        }
        return errorResult(err, { tool: name, ...ctx });
      } finally {
        inFlight--;
      }
    };
    callable.set(name, { input: config.input, run });
    // Registered for tools/list (name, description, JSON Schema of the input, annotations).
    server.registerTool(name, { title: config.title, description: config.description, inputSchema: config.input, annotations: config.annotations }, run as never);
  };

  for (const name of models) registerModel(name, serialized.models[name]!);
  registerGlobal();

  // tools/call: the SDK's own handler answers bad arguments with bare text ("MCP error -32602 …");
  // this one checks them against the same schemas and answers with a typed error like every other refusal.
  server.server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const name = request.params.name;
    const tool = callable.get(name);
    if (!tool) {
      return errorResult(new AbloNotFoundError(`No tool "${name}". Tools: ${tools.join(', ')}.`, { code: 'unknown_tool' }), { tool: name });
    }
    const parsed = tool.input.safeParse(request.params.arguments ?? {});
    if (!parsed.success) return errorResult(invalidArguments(name, parsed.error), { tool: name });
    return tool.run(parsed.data as Record<string, unknown>, extra as ToolExtra);
  });

  function registerModel(name: string, model: ModelDescriptor): void {
    const inputs = modelInputs(name, model);
    const fieldNames = inputs.fieldNames;
    const idPrefix = model.options.idPrefix ?? defaultIdPrefix(name);
    const about = model.options.description ? ` (${model.options.description})` : '';
    const want = (verb: ModelToolVerb): boolean => !(readOnly && WRITE_VERBS.has(verb));
    const ctxOf = (args: Record<string, unknown>) => ({ model: name, fieldNames, ...(typeof args.id === 'string' ? { id: args.id } : {}) });

    register(
      `${name}_list`,
      {
        title: `List ${name}`,
        description:
          `List ${name} rows${about}. where filters (field: value, or [values] for any of), orderBy sorts ({ field: "asc" | "desc" }). ` +
          `Output is capped at about ${tokenBudget} tokens: when hasMore is true, call again with cursor=nextCursor (the cursor keeps where and orderBy). ` +
          `Each row's syncId is the readAt for ${name}_update / ${name}_delete.`,
        input: listArgs(name, inputs),
        annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      },
      ctxOf,
      async (args) => list(name, fieldNames, args),
    );

    register(
      `${name}_get`,
      {
        title: `Get one ${name} row`,
        description: `One ${name} row by id, with every field. Its syncId is the readAt for a guarded ${name}_update / ${name}_delete.`,
        input: getArgs(name),
        annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      },
      ctxOf,
      async (args) => {
        const row = await api.get(name, args.id as string);
        return rowResult(`${name} ${row.id} (readAt=${row.syncId}):`, row, fieldNames, { row });
      },
    );

    if (want('create')) {
      const required = Object.entries(model.fields)
        .filter(([, d]) => isRequiredOnCreate(d))
        .map(([f]) => f);
      register(
        `${name}_create`,
        {
          title: `Create a ${name} row`,
          description:
            `Create a ${name} row${about}. ${required.length ? `Required fields: ${required.join(', ')}.` : 'No field is required.'} ` +
            `Returns the stored row (with defaults filled and its id).`,
          input: createArgs(name, inputs, idPrefix),
          annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
        },
        ctxOf,
        async (args) => {
          const row = await api.create(
            name,
            { data: args.data as Record<string, unknown>, ...(args.id !== undefined ? { id: args.id as string } : {}) },
            claims.ids(),
          );
          return rowResult(`Created ${name} ${row.id} (syncId ${row.syncId}):`, row, fieldNames, { row });
        },
      );
    }

    if (want('update')) {
      register(
        `${name}_update`,
        {
          title: `Update a ${name} row`,
          description:
            `Change fields of one ${name} row; fields left out stay as they are. Pass readAt (the row's syncId when you read it) so a change ` +
            `someone else made since then is not overwritten: you get an error with their current values and the readAt to retry with. ` +
            `Fails while another participant holds a claim on the row (see ${name}_claim).`,
          input: updateArgs(name, inputs),
          annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
        },
        ctxOf,
        async (args) => {
          const result = await api.update(
            name,
            args.id as string,
            {
              data: args.data as Record<string, unknown>,
              ...(args.readAt !== undefined ? { readAt: args.readAt as number } : {}),
              ...(args.onStale !== undefined ? { onStale: args.onStale as 'reject' } : {}),
            },
            claims.ids(),
          );
          if (isReceipt(result)) return heldResult(result, `${name}_update`);
          return rowResult(`Updated ${name} ${result.id} (syncId ${result.syncId}):`, result, fieldNames, { row: result });
        },
      );
    }

    if (want('delete')) {
      register(
        `${name}_delete`,
        {
          title: `Delete a ${name} row`,
          description: `Delete one ${name} row. With readAt, refused if the row changed after you read it. Fails while another participant holds a claim on it.`,
          input: deleteArgs(name),
          annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
        },
        ctxOf,
        async (args) => {
          const result = await api.delete(
            name,
            args.id as string,
            {
              ...(args.readAt !== undefined ? { readAt: args.readAt as number } : {}),
              ...(args.onStale !== undefined ? { onStale: args.onStale as 'reject' } : {}),
            },
            claims.ids(),
          );
          if (isReceipt(result)) return heldResult(result, `${name}_delete`);
          const deleted = result as DeletedResult;
          return ok(`Deleted ${name} ${deleted.id} (sync id ${deleted.syncId}).`, { deleted: true, model: name, id: deleted.id, syncId: deleted.syncId });
        },
      );
    }

    if (want('claim')) {
      register(
        `${name}_claim`,
        {
          title: `Claim a ${name} row`,
          description:
            `Take a turn on one ${name} row before working on it: while you hold the claim, writes to the row from anyone else fail. ` +
            `If someone else holds it, this call waits in a fair line (wait: false fails at once instead) and returns the row as it is when your turn comes. ` +
            `The claim lasts until ${name}_release or the end of this MCP session.`,
          input: claimArgs(name),
          annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
        },
        ctxOf,
        async (args, extra) => {
          const id = args.id as string;
          const token = extra._meta?.progressToken;
          const grant: ClaimGrant = await claims.acquire(name, id, {
            ...(args.action !== undefined ? { action: args.action as string } : {}),
            ...(args.wait !== undefined ? { wait: args.wait as boolean } : {}),
            ...(args.leaseSeconds !== undefined ? { leaseSeconds: args.leaseSeconds as number } : {}),
            ...(args.waitSeconds !== undefined ? { waitSeconds: args.waitSeconds as number } : {}),
            signal: extra.signal,
            ...(token !== undefined
              ? {
                  onWaiting: (ms: number) =>
                    void extra
                      .sendNotification({
                        method: 'notifications/progress',
                        params: { progressToken: token, progress: Math.round(ms / 1000), message: `waiting for ${name} ${id}` },
                      })
                      .catch(() => undefined),
                }
              : {}),
          });
          const { data, ...claim } = grant;
          return rowResult(
            `Claimed ${name} ${id} for this session (lease ${grant.leaseSeconds} s, renewed automatically until ${name}_release or the session ends). ` +
              `Your writes to it pass; others wait or fail. The row now (readAt=${data.syncId}):`,
            data,
            fieldNames,
            { claim, row: data },
          );
        },
      );
    }

    if (want('release')) {
      register(
        `${name}_release`,
        {
          title: `Release a ${name} claim`,
          description: `Release this session's claim on one ${name} row, so the next in line (or anyone) can write it.`,
          input: releaseArgs(name),
          annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
        },
        ctxOf,
        async (args) => {
          const id = args.id as string;
          const released = await claims.release(name, id);
          if (!released) return ok(`This session holds no claim on ${name} ${id}; nothing to release.`, { released: false, model: name, id });
          return ok(`Released ${name} ${id}.`, { released: true, model: name, id, claimId: released.claimId });
        },
      );
    }
  }

  function registerGlobal(): void {
    register(
      'ablo_schema',
      {
        title: 'Describe the schema',
        description: 'The models this server exposes: fields (type, required, default, constraints, description), relations and sync groups.',
        input: schemaArgs(models),
        annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      },
      () => ({}),
      async (args) => {
        const live = await api.schema();
        const current = live.schema ?? serialized;
        const wanted = (args.models as string[] | undefined) ?? models;
        const out: Record<string, unknown> = {};
        const lines: string[] = [];
        for (const m of wanted) {
          const d = current.models[m];
          if (!d) {
            lines.push(`${m}: no longer in the engine's schema.`);
            continue;
          }
          const groups = d.options.syncGroupFormat ?? ['default'];
          const prefix = d.options.idPrefix ?? defaultIdPrefix(m);
          lines.push(`${m}${d.options.description ? ` — ${d.options.description}` : ''} (ids ${prefix}_…; sync groups ${groups.join(', ')})`);
          const fields: Record<string, unknown> = {};
          for (const [f, fd] of Object.entries(d.fields)) {
            fields[f] = schemaFieldInfo(fd);
            lines.push(describeFieldText(f, fd));
          }
          const relations: Record<string, unknown> = {};
          for (const [r, rd] of Object.entries(d.relations)) {
            relations[r] = rd;
            lines.push(`  relation ${r}: ${rd.kind} ${rd.model} via ${rd.foreignKey}`);
          }
          out[m] = { idPrefix: prefix, syncGroups: groups, fields, relations, ...(d.options.description ? { description: d.options.description } : {}) };
        }
        lines.push('Every row also has id, createdAt, updatedAt (set by the engine) and syncId (pass it as readAt on writes).');
        const changed = live.hash !== (doc.hash ?? null);
        if (changed) lines.push("Note: the engine's schema changed since this MCP server started; restart it to refresh the tool definitions.");
        return ok(lines.join('\n'), { models: out, hash: live.hash, version: live.version, ...(changed ? { changedSinceStart: true } : {}) });
      },
    );

    if (!readOnly) {
      register(
        'ablo_commit',
        {
          title: 'Commit a batch',
          description:
            'Write several operations atomically (all or nothing): { op: "create" | "update" | "delete", model, id, data, readAt?, onStale? }. ' +
            'reads lists what the batch depends on; if any of it changed after its readAt, nothing is written and you get the current values.',
          input: commitArgs(models),
          annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
        },
        (args) => {
          const first = (args.operations as Array<{ model?: string; id?: string }> | undefined)?.[0];
          return first?.model ? { model: first.model, ...(first.id ? { id: first.id } : {}) } : {};
        },
        async (args) => {
          const receipt = await api.commit(
            {
              operations: args.operations as never,
              ...(args.reads !== undefined ? { reads: args.reads as never } : {}),
              ...(args.idempotencyKey !== undefined ? { idempotencyKey: args.idempotencyKey as string } : {}),
            },
            claims.ids(),
          );
          const lines = [
            `${receipt.status === 'committed' ? 'Committed' : receipt.status === 'partial' ? 'Partly committed' : 'Nothing written (held)'}: ${receipt.results.length} operation(s), lastSyncId ${receipt.lastSyncId}.`,
            ...receipt.results.map((r) => `  ${r.op} ${r.model} ${r.id}: ${r.status}${r.syncId !== undefined ? ` (syncId ${r.syncId})` : ''}`),
            ...notificationLines(receipt.notifications ?? []),
          ];
          return ok(lines.join('\n'), { receipt });
        },
      );
    }
  }

  /** A single row: one `key=value` per line in the text, the whole row in structured content (cut only if it alone exceeds the budget). */
  function rowResult(head: string, row: Row, fieldNames: readonly string[], structured: Record<string, unknown>): CallToolResult {
    const lineMax = 2000;
    let shown: Record<string, unknown> = row;
    let note = '';
    const textOf = (r: Record<string, unknown>): string => renderRowLines(r, fieldNames, lineMax);
    let text = `${head}\n${textOf(shown)}`;
    let structuredOut = structured;
    if (text.length + JSON.stringify(structured).length > budgetChars) {
      const { row: clipped, clipped: fields } = clipRow(row, Math.floor(budgetChars / 3));
      shown = clipped;
      note = `\n(Cut to fit the output budget of ${tokenBudget} tokens: ${fields.join(', ')}.)`;
      structuredOut = { ...structured, ...('row' in structured ? { row: clipped } : {}), clippedFields: fields };
      text = `${head}\n${textOf(shown)}${note}`;
    }
    return ok(text, structuredOut);
  }

  function heldResult(receipt: CommitReceipt, tool: string): CallToolResult {
    const lines = [`Not written: the row changed after readAt and onStale is "notify" (${tool}).`, ...notificationLines(receipt.notifications ?? [])];
    lines.push(`Re-plan from the current values, then call ${tool} again with the new readAt.`);
    return ok(lines.join('\n'), { status: receipt.status, receipt });
  }

  async function list(name: string, fieldNames: readonly string[], args: Record<string, unknown>): Promise<CallToolResult> {
    let where = args.where as Record<string, unknown> | undefined;
    let orderBy = args.orderBy as Record<string, 'asc' | 'desc'> | undefined;
    let after: string | undefined;
    let cursorLimit: number | undefined;
    if (typeof args.cursor === 'string') {
      const c = decodeCursor(args.cursor, name);
      if (where !== undefined && canonical(where) !== canonical(c.where ?? {})) {
        throw new AbloValidationError(`where differs from the query this cursor continues. Pass the cursor alone (it keeps where, orderBy and limit), or drop cursor to start a new list.`, {
          code: 'cursor_mismatch',
          field: 'where',
        });
      }
      if (orderBy !== undefined && JSON.stringify(Object.entries(orderBy)) !== JSON.stringify(Object.entries(c.orderBy ?? {}))) {
        throw new AbloValidationError(`orderBy differs from the query this cursor continues. Pass the cursor alone (it keeps where, orderBy and limit), or drop cursor to start a new list.`, {
          code: 'cursor_mismatch',
          field: 'orderBy',
        });
      }
      where = c.where;
      orderBy = c.orderBy;
      after = c.after;
      cursorLimit = c.limit;
    }
    const limit = (args.limit as number | undefined) ?? cursorLimit ?? DEFAULT_MCP_LIST_LIMIT;
    const orderList_ = orderList(orderBy);
    const page = await api
      .list(name, {
        ...(where && Object.keys(where).length ? { where } : {}),
        ...(orderList_ ? { orderBy: orderList_ } : {}),
        limit,
        ...(after !== undefined ? { startingAfter: after } : {}),
      })
      .catch((err: unknown) => {
        // The row the cursor continues after is gone: the keyset position is lost.
        if (after !== undefined && err instanceof AbloNotFoundError) {
          throw new AbloValidationError(
            `cursor: the row this cursor continues after (${name} ${after}) was deleted, so the list cannot continue from it. Call ${name}_list without cursor to start over.`,
            { code: 'cursor_row_deleted', field: 'cursor', model: name, id: after },
          );
        }
        throw err;
      });

    const build = (rows: Array<Record<string, unknown>>, lines: string[], hasMore: boolean, clipped?: string[]): CallToolResult => {
      const last = rows[rows.length - 1];
      const nextCursor =
        hasMore && last
          ? encodeCursor({ model: name, after: String(last.id), ...(where ? { where } : {}), ...(orderBy ? { orderBy } : {}), ...(limit !== DEFAULT_MCP_LIST_LIMIT ? { limit } : {}) })
          : undefined;
      const head =
        rows.length === 0
          ? `No ${name} rows${after !== undefined ? ' after the cursor' : ''} match.`
          : `${rows.length} ${name} row${rows.length === 1 ? '' : 's'}${hasMore ? ' (more available)' : ' (end of list)'}:`;
      const text = [head, ...lines];
      if (clipped?.length) text.push(`(Cut to fit the output budget: ${clipped.join(', ')}; see ${name}_get for more.)`);
      if (nextCursor) text.push(`Next page: call ${name}_list with cursor="${nextCursor}".`);
      return ok(text.join('\n'), {
        model: name,
        count: rows.length,
        hasMore,
        ...(nextCursor ? { nextCursor } : {}),
        rows,
      });
    };
    const sizeOf = (r: CallToolResult): number =>
      ((r.content?.[0] as { text?: string } | undefined)?.text?.length ?? 0) + JSON.stringify(r.structuredContent ?? {}).length;

    // Greedy fill: each row costs its text line plus its JSON; the frame (head, cursor twice, wrapper) is reserved up front.
    const sampleCursor = encodeCursor({ model: name, after: 'x'.repeat(128), ...(where ? { where } : {}), ...(orderBy ? { orderBy } : {}), limit });
    const reserve = 400 + name.length * 4 + sampleCursor.length * 2;
    const rows: Array<Record<string, unknown>> = [];
    const lines: string[] = [];
    let used = reserve;
    let cut = false;
    for (const row of page.data) {
      const line = renderRow(row, fieldNames);
      const cost = line.length + 1 + JSON.stringify(row).length + 1;
      if (rows.length > 0 && used + cost > budgetChars) {
        cut = true;
        break;
      }
      rows.push(row);
      lines.push(line);
      used += cost;
    }
    let result = build(rows, lines, cut || page.hasMore);
    // The reserve is an estimate: trim until the real size fits.
    while (sizeOf(result) > budgetChars && rows.length > 1) {
      rows.pop();
      lines.pop();
      result = build(rows, lines, true);
    }
    if (sizeOf(result) > budgetChars && rows.length === 1) {
      const { row: clippedRow, clipped } = clipRow(rows[0]!, Math.floor((budgetChars - reserve) / 2.5));
      result = build([clippedRow], [renderRow(clippedRow, fieldNames)], cut || page.hasMore, clipped);
    }
    return result;
  }

  let closed = false;
  const close = async (closeOptions: { releaseClaims?: boolean } = {}): Promise<void> => {
    if (closed) return;
    closed = true;
    await claims.releaseAll({ notify: closeOptions.releaseClaims !== false });
    await server.close().catch(() => undefined);
  };
  // The transport closed (stdin ended, HTTP session deleted, engine closing): the session's claims go with it.
  const previousOnClose = server.server.onclose;
  server.server.onclose = () => {
    previousOnClose?.();
    void close();
  };

  return {
    server,
    tools,
    models,
    schemaHash: doc.hash ?? null,
    tokenBudget,
    participant,
    claims: () => claims.list(),
    callsInFlight: () => inFlight,
    close,
  };
}
