/**
 * What `dataSource()` takes, and the check of it at construction: a mistyped
 * option or model name would otherwise surface only when the engine first
 * asks for that model (`not_supported`), far from the typo.
 */
import { AbloValidationError } from '../errors.js';
import type { ReadDependency } from '../protocol/commit.js';
import type { SourceCommitResponse, SourceEventsResponse, SourceOperation, SourceRequest, SourceScope } from '../protocol/source.js';
import type { CompiledSchema } from '../schema/compile.js';
import type { InferModel, ModelName, SchemaLike } from '../schema/types.js';
import type { CommitDedupe } from './dedupe.js';

/** What every handler receives besides its own input. */
export interface SourceContext<Auth = unknown> {
  /** What `authorize` returned (undefined without `authorize`). */
  auth: Auth;
  /** The request as it arrived (its body already read). */
  request: Request;
  /** The source's name, as the engine calls it (`ablo.config.json`). */
  source: string;
  /** `webhook-id`: the same for every retry of one request. */
  webhookId: string;
}

/** Keys of T whose value may be null. */
type NullableKeys<T> = { [K in keyof T]-?: null extends T[K] ? K : never }[keyof T];
/** A field that may be null may also be left out: the handler takes it as null. */
type NullMayBeOmitted<T> = { [K in Exclude<keyof T, NullableKeys<T>>]: T[K] } & { [K in NullableKeys<T>]?: T[K] };

/**
 * A row a handler returns: the schema's fields and `id`; a field that may be
 * null may be left out; `createdAt`/`updatedAt` optional (the engine keeps its
 * own). Other columns of the app's table may be there too: they are dropped.
 */
export type SourceRowOf<S extends SchemaLike, K extends ModelName<S>> = NullMayBeOmitted<Omit<InferModel<S, K>, 'createdAt' | 'updatedAt' | 'syncId'>> & {
  createdAt?: string | Date;
  updatedAt?: string | Date;
};

/** A row `commit` returns; `model` may be left out when the operation on the same id names it. */
export type SourceCommitRow<S extends SchemaLike> = { id: string; model?: ModelName<S>; [field: string]: unknown };

export interface SourceCommitInput<Auth = unknown> {
  clientTxId: string;
  operations: SourceOperation[];
  /** The commit's read dependencies (`reads[]`), for an app that checks them against its own versions. */
  reads: ReadDependency[];
  scope: SourceScope;
  label?: string;
  context: SourceContext<Auth>;
}

export interface SourceEventsInput<Auth = unknown> {
  cursor: string | null;
  limit: number;
  context: SourceContext<Auth>;
}

type MaybePromise<T> = T | Promise<T>;

/** The handlers of one model: `load` (or `loadMany`) answers `load`, `list` answers `list`. */
export interface SourceModelHandlers<Auth = unknown, Row = { id: string; [field: string]: unknown }> {
  /** One row by id; null or undefined when there is none (it is left out of the answer). */
  load?(input: { id: string; context: SourceContext<Auth> }): MaybePromise<Row | null | undefined>;
  /** Several rows at once (one query instead of one per id); preferred over `load` when both are given. */
  loadMany?(input: { ids: string[]; context: SourceContext<Auth> }): MaybePromise<Row[]>;
  /** A page of rows in a stable order; `nextCursor` null (or absent) on the last page. */
  list?(input: { cursor: string | null; limit: number; context: SourceContext<Auth> }): MaybePromise<{ rows: Row[]; nextCursor?: string | null }>;
}

export interface DataSourceBaseOptions<S extends SchemaLike, Auth> {
  /** What `defineSchema` returns (or a serialized schema): rows are checked against it. */
  schema: S;
  /** `whsec_…` secret(s); several (an array, or space-separated) while rotating: any one verifies. */
  signingSecret: string | readonly string[];
  /** How far `webhook-timestamp` may be from now, either way (default 300 s). */
  toleranceSeconds?: number;
  /** The app's auth context for this request (e.g. `{ db }`); throw `SourceError` to refuse. */
  authorize?(input: { request: Request; body: SourceRequest }): MaybePromise<Auth>;
  /** Apply a commit in the app's database; answer the canonical rows after each create and update. */
  commit?(input: SourceCommitInput<Auth>): MaybePromise<{ rows: Array<SourceCommitRow<S>> }>;
  /** Changes made outside Ablo (the app's outbox), after `cursor`. */
  events?(input: SourceEventsInput<Auth>): MaybePromise<SourceEventsResponse>;
  /** Where commit answers are kept by `clientTxId` (default: in memory, see `MemoryCommitDedupe`). */
  dedupe?: CommitDedupe<SourceContext<Auth>>;
}

/**
 * The options: the base ones, and one key per model of the schema holding
 * its handlers (`tasks: { load, list }`). With a schema whose model names the
 * compiler cannot see (a serialized one), model keys are not typed.
 */
export type DataSourceOptions<S extends SchemaLike, Auth = undefined> = DataSourceBaseOptions<S, Auth> &
  (string extends ModelName<S>
    ? { [model: string]: unknown }
    : { [K in ModelName<S>]?: SourceModelHandlers<Auth, SourceRowOf<S, K>> });

const BASE_KEYS = ['schema', 'signingSecret', 'toleranceSeconds', 'authorize', 'commit', 'events', 'dedupe'] as const;
const MODEL_KEYS = ['load', 'loadMany', 'list'] as const;

function invalid(message: string): AbloValidationError {
  return new AbloValidationError(`dataSource(): ${message}`, { code: 'invalid_option' });
}

/**
 * The model handlers of `options`, by model name; throws `invalid_option` on
 * an unknown key, a model named like an option, or a handler that is not a
 * function.
 */
export function modelHandlersOf(options: Record<string, unknown>, schema: CompiledSchema): Map<string, SourceModelHandlers> {
  for (const key of ['authorize', 'commit', 'events'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') throw invalid(`"${key}" must be a function.`);
  }
  const dedupe = options.dedupe as Partial<CommitDedupe> | undefined;
  if (dedupe !== undefined && (typeof dedupe?.get !== 'function' || typeof dedupe?.put !== 'function')) {
    throw invalid('"dedupe" must be { get(clientTxId, context), put(clientTxId, response, context) }.');
  }
  const clash = schema.modelNames.find((m) => (BASE_KEYS as readonly string[]).includes(m));
  if (clash) throw invalid(`the schema has a model named "${clash}", which is also an option name; rename the model to serve it.`);
  const handlers = new Map<string, SourceModelHandlers>();
  for (const [key, value] of Object.entries(options)) {
    if ((BASE_KEYS as readonly string[]).includes(key) || value === undefined) continue;
    if (!schema.modelNames.includes(key)) {
      throw invalid(`unknown option "${key}". Options are ${BASE_KEYS.join(', ')}, and one key per model of the schema (${schema.modelNames.join(', ') || 'none'}).`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(`"${key}" must be an object of handlers: { load?, loadMany?, list? }.`);
    for (const [name, fn] of Object.entries(value)) {
      if (!(MODEL_KEYS as readonly string[]).includes(name)) throw invalid(`unknown handler "${key}.${name}"; a model takes ${MODEL_KEYS.join(', ')}.`);
      if (fn !== undefined && typeof fn !== 'function') throw invalid(`"${key}.${name}" must be a function.`);
    }
    handlers.set(key, value as SourceModelHandlers);
  }
  return handlers;
}

/** The tolerance, checked: a positive number of seconds. */
export function toleranceOf(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw invalid(`"toleranceSeconds" must be a positive number, got ${JSON.stringify(value)}.`);
  return value;
}

export type { SourceCommitResponse };
