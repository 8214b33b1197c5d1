/**
 * `dataSource(options)`: the app's endpoint in Data Source mode, as a
 * web-standard `(request: Request) => Promise<Response>`, so the same handler
 * serves Next.js route handlers, Hono, Bun and Deno directly, and Node's
 * `http` and Express through `toNodeHandler`.
 *
 * Order matters: the body is read raw and its signature verified before
 * anything parses it (a forged body never reaches JSON.parse, let alone the
 * app's code); then the shape is checked, then `authorize`, then the app's
 * handler, whose result is checked against the schema before it leaves.
 */
import { sourceRequestSchema, type SourceRequest } from '../protocol/source.js';
import { compileSchema, type CompiledSchema } from '../schema/compile.js';
import type { SchemaLike } from '../schema/types.js';
import { answerCommit, answerEvents, answerList, answerLoad, NotSupportedError, type CommitDeps } from './answers.js';
import { BodyTooLargeError, MAX_SOURCE_BODY_BYTES, readBodyText } from './body.js';
import { MemoryCommitDedupe, type CommitDedupe } from './dedupe.js';
import { errorResponse, jsonResponse, SourceError, SourceRowInvalidError } from './errors.js';
import { modelHandlersOf, toleranceOf, type DataSourceOptions, type SourceContext, type SourceModelHandlers } from './options.js';
import { assertSigningSecrets, DEFAULT_TOLERANCE_SECONDS, ReplayGuard, SourceSignatureError, verifyAbloSourceRequest } from './signature.js';

export type SourceHandler = (request: Request) => Promise<Response>;

interface Prepared {
  schema: CompiledSchema;
  secret: string | readonly string[];
  tolerance: number;
  replay: ReplayGuard;
  authorize: ((input: { request: Request; body: SourceRequest }) => unknown) | undefined;
  commit: CommitDeps;
  events: Parameters<typeof answerEvents>[1];
  models: Map<string, SourceModelHandlers>;
}

/** The request's body, verified and parsed, or the response refusing it. */
async function readVerified(p: Prepared, request: Request): Promise<{ body: SourceRequest; webhookId: string } | Response> {
  if (request.method !== 'POST') {
    const refused = errorResponse(405, 'method_not_allowed', `A Data Source takes POST, not ${request.method}.`);
    refused.headers.set('allow', 'POST');
    return refused;
  }
  let text: string;
  try {
    text = await readBodyText(request, MAX_SOURCE_BODY_BYTES);
  } catch (error) {
    if (error instanceof BodyTooLargeError) return errorResponse(413, 'payload_too_large', error.message);
    throw error;
  }
  let webhookId: string;
  try {
    webhookId = verifyAbloSourceRequest({ headers: request.headers, body: text }, p.secret, { toleranceSeconds: p.tolerance, replay: p.replay }).id;
  } catch (error) {
    if (error instanceof SourceSignatureError) return errorResponse(401, 'invalid_signature', error.message, { reason: error.reason });
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return errorResponse(400, 'invalid_request', 'The body is not JSON.');
  }
  const parsed = sourceRequestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = issue.path.join('.') || '(body)';
    return errorResponse(400, 'invalid_request', `Not a Data Source request: ${at}: ${issue.message}`);
  }
  return { body: parsed.data, webhookId };
}

async function dispatch(p: Prepared, body: SourceRequest, context: SourceContext): Promise<unknown> {
  switch (body.type) {
    case 'commit':
      return answerCommit(p.commit, body, context);
    case 'load':
      return answerLoad(p.schema, p.models, body, context);
    case 'list':
      return answerList(p.schema, p.models, body, context);
    case 'events':
      return answerEvents(p.schema, p.events, body, context);
  }
}

/** What a thrown error answers: the app's `SourceError` as it says, anything else 500 (and logged). */
function refusal(error: unknown): Response {
  if (error instanceof SourceError) return jsonResponse(error.status, error.toBody());
  if (error instanceof NotSupportedError) return errorResponse(404, 'not_supported', error.message);
  if (error instanceof SourceRowInvalidError) {
    console.error(`[ablo/source] ${error.message}`);
    const where = { ...(error.model ? { model: error.model } : {}), ...(error.id ? { id: error.id } : {}), ...(error.field ? { field: error.field } : {}) };
    return errorResponse(500, 'source_row_invalid', error.message, where);
  }
  console.error('[ablo/source] a handler failed:', error);
  return errorResponse(500, 'source_failed', "The source's handler failed; see the app's log.");
}

function prepare<S extends SchemaLike, Auth>(options: DataSourceOptions<S, Auth>): Prepared {
  if (!options || typeof options !== 'object') throw new TypeError('dataSource() takes an options object: { schema, signingSecret, ... }.');
  const schema = compileSchema(options.schema as SchemaLike);
  assertSigningSecrets(options.signingSecret);
  const tolerance = toleranceOf(options.toleranceSeconds) ?? DEFAULT_TOLERANCE_SECONDS;
  const models = modelHandlersOf(options as Record<string, unknown>, schema);
  return {
    schema,
    secret: options.signingSecret,
    tolerance,
    // The guard must remember a request at least as long as the timestamp check would let it in again.
    replay: new ReplayGuard(tolerance * 2),
    authorize: options.authorize as Prepared['authorize'],
    commit: {
      schema,
      commit: options.commit as CommitDeps['commit'],
      dedupe: (options.dedupe as CommitDedupe<SourceContext> | undefined) ?? new MemoryCommitDedupe(),
      inflight: new Map(),
    },
    events: options.events as Prepared['events'],
    models,
  };
}

/**
 * The app's Data Source endpoint. Checks the options now (unknown keys, bad
 * secret), then answers each signed request from the engine; see
 * docs/data-source.md for the handlers and the errors.
 */
export function dataSource<S extends SchemaLike, Auth = undefined>(options: DataSourceOptions<S, Auth>): SourceHandler {
  const p = prepare(options);
  return async (request) => {
    try {
      const verified = await readVerified(p, request);
      if (verified instanceof Response) return verified;
      const { body, webhookId } = verified;
      const auth = p.authorize ? await p.authorize({ request, body }) : undefined;
      const context: SourceContext = { auth, request, source: body.source, webhookId };
      return jsonResponse(200, await dispatch(p, body, context));
    } catch (error) {
      return refusal(error);
    }
  };
}
