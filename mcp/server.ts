/**
 * `createMcpServer`: the engine's schema as MCP tools.
 *
 * Per model `<model>_list`, `_get`, `_create`, `_update`, `_delete`, `_claim`,
 * `_release`; plus `ablo_schema`, `ablo_commit` and `ablo_presence`. Each
 * declares an output schema (./outputs.ts). Every tool talks to the
 * engine over its HTTP API, so the stdio server (`ablo mcp`) and the engine's
 * own `/mcp` endpoint run the same code.
 *
 * Only the tools the credential allows are offered (`GET /v1/me` at start,
 * ./credential.ts): `_list` / `_get` / `ablo_schema` / `ablo_presence` need `read`, `_create`
 * `create`, `_update` `update`, `_delete` `delete`, `_claim` / `_release`
 * `claim`, `ablo_commit` one of the three writes (the engine checks each
 * operation). Calling a tool the credential may not use answers
 * `operation_not_allowed`; every call still goes through the engine's guard.
 *
 * The tools follow the schema (`refreshSchema`, run by a ./schemaWatch.ts
 * watch): after a push, the tools of a new model appear, a dropped model's go,
 * a changed model's tools get their new inputs, and the client is sent one
 * `notifications/tools/list_changed` (and `resources/list_changed`).
 */
import { McpServer, type RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import { AbloError, AbloNotFoundError, AbloPermissionError, AbloValidationError } from '../src/errors.js';
import { participantSchema, type ParticipantRef } from '../src/protocol/commit.js';
import type { Operation, PrincipalObject } from '../src/protocol/operations.js';
import type { SerializedSchema } from '../src/schema/descriptor.js';
import { defaultIdPrefix } from '../src/schema/serialize.js';
import { packageVersion } from '../src/version.js';
import { checkClaimTiming, SessionClaims, type HeldClaim, type KeptPlace } from './claims.js';
import { missingOperation, openCredential, scopeNote, type McpSessionOptions } from './credential.js';
import { errorResult, invalidArguments, type ErrorContext } from './errors.js';
import { DATA_NOT_INSTRUCTIONS } from './fence.js';
import { modelInputs } from './inputs.js';
import { sdkOutputSchema } from './outputs.js';
import { registerPrompts } from './prompts.js';
import { registerResources } from './resources.js';
import { pollingSchemaWatch, type SchemaWatch } from './schemaWatch.js';
import type { EngineApi, SchemaDocument } from './engineApi.js';
import { GLOBAL_TOOL_KINDS, GLOBAL_TOOLS, MODEL_TOOL_VERBS, MODEL_TOOLS, type ModelToolVerb, type ToolDefinition, type ToolExtra, type ToolSession } from './tools/index.js';

export { GLOBAL_TOOLS, MODEL_TOOL_VERBS, type ModelToolVerb };

export const DEFAULT_TOKEN_BUDGET = 20_000;
export const MIN_TOKEN_BUDGET = 500;
export const DEFAULT_PARTICIPANT: ParticipantRef = { kind: 'agent', id: 'mcp' };


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
  /**
   * Who the writes are attributed to; `{ kind, id }` or `"kind:id"`. With a
   * secret key: sent as `Ablo-Participant` (default `agent:mcp`), or the
   * participant of the session minted with `session`. A restricted key or a
   * session token acts as its own participant: naming another is refused.
   */
  participant?: ParticipantRef | string;
  /**
   * Mint a session token for `participant` with the secret `apiKey`
   * (`POST /v1/sessions`; default operations read, write, claim, groups `*`,
   * 15 minutes), use it for every call, and mint the next at 80% of its
   * lifetime: the agent is attributed to that participant and scoped.
   */
  session?: McpSessionOptions;
  /**
   * Longest one `<model>_claim` call waits for its turn, in seconds (default 50: under the MCP SDK's 60 s
   * request timeout; above 0, at most 240). Then it answers `waiting` with its place in line and a ticket.
   */
  claimPatienceSeconds?: number;
  /** How long a `waiting` claim's place in line is kept for the call that resumes it, in seconds (default 120; above 0, at most 300). */
  claimTicketSeconds?: number;
  /** Where the server logs (never stdout). Default: stderr. */
  log?: (line: string) => void;
  /** fetch used for the engine's HTTP API (default: global fetch). */
  fetch?: typeof fetch;
  /**
   * How the server learns of schema changes, to update its tools: `'poll'`
   * (default) long-polls the engine (`GET /v1/schema?changedFrom=…`); the
   * engine's `/mcp` passes its own changes; `false`: the tools stay as they
   * were at start (`refreshSchema()` still updates them).
   */
  schemaWatch?: SchemaWatch | 'poll' | false;
}

export interface AbloMcpServer {
  /** The MCP server: connect it to a transport (`server.connect(transport)`). */
  server: McpServer;
  /** Names of the registered tools, in order (now: they follow the schema). */
  readonly tools: string[];
  /** Models exposed as tools (now). */
  readonly models: string[];
  /** Hash of the schema the tools were made from (null before the first push). */
  readonly schemaHash: string | null;
  tokenBudget: number;
  participant: ParticipantRef;
  /** The credential as the engine saw it at start (`GET /v1/me`); null for an engine without it. */
  principal: PrincipalObject | null;
  /** Tools left out because the credential may not use them, with the operation each lacks. */
  readonly withheld: Record<string, Operation>;
  /**
   * Read the engine's schema (or take `doc`) and update the tools to it:
   * new models' tools added, dropped ones removed, changed ones replaced,
   * with one `tools/list_changed` to the client. Resolves with whether the
   * tools changed. Calls already running finish as they started.
   */
  refreshSchema(doc?: SchemaDocument): Promise<boolean>;
  /** The self-minted session (with `session`): its id now and how many were minted so far. */
  session(): { sessionId: string; expiresAt: string; minted: number } | null;
  /** Claims this session holds right now. */
  claims(): HeldClaim[];
  /** Places in line this session keeps for a later `<model>_claim` (a claim call that answered `waiting`), until their tickets expire. */
  places(): KeptPlace[];
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
    throw new AbloNotFoundError(
      `Unknown tool${unknownTools.length > 1 ? 's' : ''} ${unknownTools.map((t) => `"${t}"`).join(', ')} in disableTools. Tools: ${valid.join(', ')}.`,
      { code: 'unknown_tool', field: 'disableTools', unknown: unknownTools, valid },
    );
  }
  return models;
}

/** After a schema change: the selected models still in the schema (a dropped one goes, no error), or every model. */
function liveSelection(allModels: readonly string[], options: CreateMcpServerOptions): string[] {
  return options.models && options.models.length > 0 ? [...new Set(options.models)].filter((m) => allModels.includes(m)) : [...allModels];
}

const EMPTY_SCHEMA: SerializedSchema = { formatVersion: 1, hash: '', models: {} };

/** List-changed notifications sent in one tick go out once (a rebuild removes and adds many tools). */
const COALESCED_NOTIFICATIONS = ['notifications/tools/list_changed', 'notifications/resources/list_changed', 'notifications/prompts/list_changed'];

const INSTRUCTIONS = [
  'Ablo: typed rows that people and other agents edit at the same time.',
  'Read with <model>_list / <model>_get. Every row has a syncId: pass it as readAt on <model>_update / <model>_delete, and the write is refused (with the current values) if someone changed those fields since you read.',
  'For longer work on a row, call <model>_claim first: it waits your turn, returns the row as it is now, and blocks other writers until <model>_release (or until this session ends).',
  'A claim call that answers status "waiting" keeps your place in line: call <model>_claim again with its ticket to resume that place. <model>_get shows who holds a row and who waits; ablo_presence lists who is on a sync group.',
  'ablo_schema describes the models and fields; ablo_commit writes a batch atomically.',
  `${DATA_NOT_INSTRUCTIONS} In text results they sit between <data …> and </data …> lines.`,
].join('\n');

/**
 * The tool registry of one server: `register` adds a tool (unless disabled)
 * for tools/list and for `tools/call`, which `answerCalls` (after the first
 * registration) makes this registry answer itself. `clear` removes every tool
 * before the registry is filled again from a new schema; run both in one
 * synchronous pass, so the SDK's tools/list_changed (coalesced) goes out once.
 */
function toolRegistry(
  server: McpServer,
  current: () => ToolSession,
  disabled: ReadonlySet<string>,
  principal: PrincipalObject | null,
): {
  tools: string[];
  withheld: Record<string, Operation>;
  register: (name: string, tool: ToolDefinition, needs: readonly Operation[]) => void;
  clear: () => void;
  answerCalls: () => void;
  inFlight: () => number;
} {
  /** Kept in place (cleared and refilled), so views of them stay current. */
  const tools: string[] = [];
  /** Tools the credential may not use (not listed; a call answers operation_not_allowed). */
  const withheld: Record<string, Operation> = {};
  /** name → its input schema and handler: `tools/call` is answered from here (see below). */
  const callable = new Map<string, { input: z.ZodObject; run: (args: Record<string, unknown>, extra: ToolExtra) => Promise<CallToolResult> }>();
  /** name → the SDK's registration (for tools/list), removed on `clear`. */
  const listed = new Map<string, RegisteredTool>();
  let inFlight = 0;

  /** Register one tool: counted while it runs; a failure becomes a typed tool result (a stale one shows the row as it is now). */
  const register = (name: string, tool: ToolDefinition, needs: readonly Operation[]): void => {
    if (disabled.has(name)) return;
    const missing = missingOperation(principal, needs);
    if (missing) {
      withheld[name] = missing;
      return;
    }
    tools.push(name);
    const run = async (args: Record<string, unknown>, extra: ToolExtra): Promise<CallToolResult> => {
      inFlight++;
      try {
        return await tool.run(args, extra);
      } catch (err) {
        return errorResult(err, { tool: name, ...(await failureContext(err, args, tool)) });
      } finally {
        inFlight--;
      }
    };
    callable.set(name, { input: tool.input, run });
    // Registered for tools/list (name, description, JSON Schema of the input and of the output, annotations); every description says row values are data.
    const registered = server.registerTool(name, { title: tool.title, description: `${tool.description} ${DATA_NOT_INSTRUCTIONS}`, inputSchema: tool.input, outputSchema: sdkOutputSchema(tool.output), annotations: tool.annotations }, run as never);
    listed.set(name, registered);
  };

  /** Remove every tool (calls already running keep their handler and finish). */
  const clear = (): void => {
    for (const registered of listed.values()) registered.remove();
    listed.clear();
    callable.clear();
    tools.length = 0;
    for (const name of Object.keys(withheld)) delete withheld[name];
  };

  /** What a failure's message names; after a stale error, the whole row as it is now, so the agent can re-plan without another read. */
  const failureContext = async (err: unknown, args: Record<string, unknown>, tool: ToolDefinition): Promise<Omit<ErrorContext, 'tool'>> => {
    const { api, serialized } = current();
    let ctx: Omit<ErrorContext, 'tool'> = {};
    try {
      ctx = tool.errorContext(args);
    } catch {
      // Keep the bare context.
    }
    if (err instanceof AbloError && err.type === 'stale_context') {
      const d = err.details as { model?: string; id?: string };
      const model = d.model ?? ctx.model;
      const id = d.id ?? ctx.id;
      if (model && id && serialized.models[model]) {
        ctx = { ...ctx, model, id, fieldNames: Object.keys(serialized.models[model]!.fields) };
        ctx.currentRow = await api.get(model, id).catch((e: unknown) => (e instanceof AbloNotFoundError ? null : undefined));
        if (ctx.currentRow === undefined) delete ctx.currentRow;
      }
    }
    return ctx;
  };

  /**
   * tools/call, set after the first tools are registered (registering sets the SDK's own handler once): the SDK's
   * handler answers bad arguments with bare text ("MCP error -32602 …"); this one checks them against the
   * same schemas and answers with a typed error like every other refusal.
   */
  const answerCalls = (): void => {
    server.server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const name = request.params.name;
      const tool = callable.get(name);
      const missing = withheld[name];
      if (!tool && missing && principal) {
        const refused = new AbloPermissionError(
          `${name} is not offered: this credential may not ${missing} (it allows: ${principal.operations.join(', ') || 'nothing'}). Use a credential with the "${missing}" operation.`,
          { code: 'operation_not_allowed', operation: missing, allowed: [...principal.operations] },
        );
        return errorResult(refused, { tool: name });
      }
      if (!tool) {
        return errorResult(new AbloNotFoundError(`No tool "${name}". Tools: ${tools.join(', ')}.`, { code: 'unknown_tool' }), { tool: name });
      }
      const parsed = tool.input.safeParse(request.params.arguments ?? {});
      if (!parsed.success) return errorResult(invalidArguments(name, parsed.error, request.params.arguments ?? {}), { tool: name });
      return tool.run(parsed.data as Record<string, unknown>, extra as ToolExtra);
    });
  };

  return { tools, withheld, register, clear, answerCalls, inFlight: () => inFlight };
}

/** What a session's tools depend on: the selected models as the schema has them (the same after a change: nothing to rebuild). */
function shapeOf(serialized: SerializedSchema, selected: readonly string[]): string {
  return JSON.stringify(selected.map((m) => [m, serialized.models[m]]));
}

/** Register the tools of every selected model, then the global ones, in MODEL_TOOL_VERBS / GLOBAL_TOOL_KINDS order. */
function registerTools(
  session: ToolSession,
  register: (name: string, tool: ToolDefinition, needs: readonly Operation[]) => void,
  { readOnly, scope, principal }: { readOnly: boolean; scope: string; principal: PrincipalObject | null },
): void {
  const limited = principal !== null && principal.kind !== 'secret';
  /** A scoped credential's tools say whose rows they reach. */
  const scoped = (tool: ToolDefinition, more = ''): ToolDefinition => (scope || more ? { ...tool, description: tool.description + scope + more } : tool);
  for (const name of session.models) {
    const model = session.serialized.models[name]!;
    const inputs = modelInputs(name, model);
    const modelCtx = {
      ...session,
      name,
      model,
      inputs,
      fieldNames: inputs.fieldNames,
      idPrefix: model.options.idPrefix ?? defaultIdPrefix(name),
      about: model.options.description ? ` (${model.options.description})` : '',
    };
    for (const verb of MODEL_TOOL_VERBS) {
      const kind = MODEL_TOOLS[verb];
      if (readOnly && kind.write) continue;
      register(`${name}_${verb}`, scoped(kind.define(modelCtx)), kind.needs);
    }
  }
  for (const kind of GLOBAL_TOOL_KINDS) {
    if (readOnly && kind.write) continue;
    // The commit also says which of the writes it may use (the engine refuses the others).
    const writes = kind.name === 'ablo_commit' && limited ? ` Operations this credential may use: ${principal.operations.filter((o) => kind.needs.includes(o)).join(', ')}.` : '';
    register(kind.name, scoped(kind.define(session), writes), kind.needs);
  }
}

/**
 * `run` one call at a time; a call made while one waits to start joins it
 * (with the newest argument), so a burst of changes runs it once more, not
 * once per change.
 */
function oneAtATime<A>(run: (arg?: A) => Promise<boolean>): (arg?: A) => Promise<boolean> {
  let running: Promise<unknown> = Promise.resolve();
  let queued: { arg: A | undefined; promise: Promise<boolean> } | null = null;
  return (arg) => {
    if (queued) {
      queued.arg = arg;
      return queued.promise;
    }
    const mine: { arg: A | undefined; promise: Promise<boolean> } = { arg, promise: Promise.resolve(false) };
    mine.promise = running.then(() => {
      queued = null;
      return run(mine.arg);
    });
    queued = mine;
    running = mine.promise.catch(() => false);
    return mine.promise;
  };
}

/** Start the watch `choice` names (default: long-poll the engine) from hash `from`; returns the function that stops it. */
function startWatch(
  choice: CreateMcpServerOptions['schemaWatch'],
  api: EngineApi,
  from: string | null,
  refresh: (doc?: SchemaDocument) => Promise<boolean>,
  log: (line: string) => void,
): () => void {
  const polling = choice === undefined || choice === 'poll';
  const watch = polling ? pollingSchemaWatch(api, { log }) : choice;
  if (!watch) return () => {};
  const changed = (next?: SchemaDocument): void => {
    refresh(next).catch((err: unknown) => log(`updating the tools to the new schema failed: ${(err as Error)?.message ?? String(err)}; they stay as they were`));
  };
  const stop = watch.subscribe(from, changed);
  // A watch that only hears later changes: one read now catches a push made between the first read and the subscription.
  if (!polling) changed();
  return stop;
}

/** The output budget in tokens (default 20,000); a validation error naming `tokenBudget` when it is not a whole number ≥ 500. */
function checkTokenBudget(value: number | undefined): number {
  const tokenBudget = value ?? DEFAULT_TOKEN_BUDGET;
  if (!Number.isInteger(tokenBudget) || tokenBudget < MIN_TOKEN_BUDGET) {
    throw new AbloValidationError(`tokenBudget must be a whole number of at least ${MIN_TOKEN_BUDGET} tokens, got ${String(value)}.`, {
      code: 'invalid_token_budget',
      field: 'tokenBudget',
    });
  }
  return tokenBudget;
}

export async function createMcpServer(options: CreateMcpServerOptions): Promise<AbloMcpServer> {
  const log = options.log ?? ((line: string) => void process.stderr.write(`[ablo mcp] ${line}\n`));
  const tokenBudget = checkTokenBudget(options.tokenBudget);
  const claimTiming = checkClaimTiming({ patienceSeconds: options.claimPatienceSeconds, ticketSeconds: options.claimTicketSeconds });
  // Fails here, before anything is registered, when the engine is unreachable or refuses the credential.
  const credential = await openCredential({
    engineUrl: options.engineUrl,
    apiKey: options.apiKey,
    ...(options.participant !== undefined ? { participant: parseParticipant(options.participant) } : {}),
    ...(options.session ? { session: options.session } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    log,
  });
  const { api, principal, participant } = credential;
  let doc: SchemaDocument;
  let models: string[];
  try {
    doc = await api.schema();
    models = checkSelection(Object.keys(doc.schema?.models ?? {}), options);
  } catch (err) {
    await credential.close(); // a self-minted session is revoked
    throw err;
  }
  const disabled = new Set(options.disableTools ?? []);
  const readOnly = options.readOnly === true;

  const claims = new SessionClaims(api, log, claimTiming);
  const scope = scopeNote(principal);
  const limited = principal !== null && principal.kind !== 'secret';
  const instructions = limited ? `${INSTRUCTIONS}\n${scope.trim() || `This session acts as ${principal.participant.kind}:${principal.participant.id}.`} It may: ${principal.operations.join(', ')}.` : INSTRUCTIONS;
  const server = new McpServer(
    { name: 'ablo', version: packageVersion() },
    { capabilities: { tools: {} }, instructions, debouncedNotificationMethods: COALESCED_NOTIFICATIONS },
  );
  /** The session the tools are made from now; a schema change makes the next one. */
  let session!: ToolSession;
  /** What the tools depend on (the selected models as the schema has them): the same after a change means nothing to rebuild. */
  let shape = '';
  const { tools, withheld, register, clear, answerCalls, inFlight } = toolRegistry(server, () => session, disabled, principal);
  /** Make every tool from this schema document, in one synchronous pass (one tools/list_changed once connected). */
  const build = (next: SchemaDocument, selected: string[]): void => {
    const serialized: SerializedSchema = next.schema ?? EMPTY_SCHEMA;
    session = { api, claims, serialized, doc: next, models: selected, tokenBudget, budgetChars: tokenBudget * 4 };
    shape = shapeOf(serialized, selected);
    clear();
    registerTools(session, register, { readOnly, scope, principal });
  };
  build(doc, models);
  answerCalls();
  // Resources and prompts read the schema when asked, under the same credential and selection as the tools.
  const modelScope = { api, principal, ...(options.models ? { selection: options.models } : {}), disabled, readOnly, tools: () => tools };
  registerResources(server, modelScope);
  registerPrompts(server, modelScope);

  let closed = false;
  /** Update the tools to `next` (true when they changed). */
  const apply = (next: SchemaDocument): boolean => {
    const serialized = next.schema ?? EMPTY_SCHEMA;
    const selected = liveSelection(Object.keys(serialized.models), options);
    if (shapeOf(serialized, selected) === shape) {
      // Nothing this session offers changed (another model, or nothing): only the hash it knows moves on.
      session.serialized = serialized;
      session.doc = next;
      return false;
    }
    const before = tools.length;
    build(next, selected);
    log(`schema ${next.hash ?? '(none)'} (version ${next.version ?? '?'}): ${tools.length} tools for ${selected.length} model(s), were ${before}`);
    // The model resources (one per model) follow the schema too.
    server.sendResourceListChanged();
    return true;
  };
  const refreshSchema = oneAtATime(async (next?: SchemaDocument) => {
    if (closed) return false;
    const latest = next ?? (await api.schema());
    return closed ? false : apply(latest);
  });

  const unwatch = startWatch(options.schemaWatch, api, doc.hash ?? null, refreshSchema, log);

  const close = async (closeOptions: { releaseClaims?: boolean } = {}): Promise<void> => {
    if (closed) return;
    closed = true;
    unwatch();
    await claims.releaseAll({ notify: closeOptions.releaseClaims !== false });
    await credential.close();
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
    get models() {
      return [...session.models];
    },
    get schemaHash() {
      return session.doc.hash ?? null;
    },
    tokenBudget,
    participant,
    principal,
    withheld,
    refreshSchema,
    session: () => (credential.minted ? { sessionId: credential.minted.sessionId, expiresAt: credential.minted.expiresAt, minted: credential.minted.minted } : null),
    claims: () => claims.list(),
    places: () => claims.waiting(),
    callsInFlight: inFlight,
    close,
  };
}
