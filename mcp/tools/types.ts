/**
 * What a tool kind is: for a model (or for the whole schema), a definition
 * — title, description, input schema, annotations, how to describe a failure,
 * and the handler. The registry in ../server.ts registers them and answers
 * `tools/call`.
 */
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import type { Operation } from '../../src/protocol/operations.js';
import type { ModelDescriptor, SerializedSchema } from '../../src/schema/descriptor.js';
import type { SessionClaims } from '../claims.js';
import type { EngineApi, SchemaDocument } from '../engineApi.js';
import type { ErrorContext } from '../errors.js';
import type { ModelInputs } from '../inputs.js';
import type { ToolOutput } from '../outputs.js';

/** What the MCP SDK hands a tool call besides its arguments. */
export interface ToolExtra {
  signal: AbortSignal;
  _meta?: { progressToken?: string | number };
  sendNotification: (n: { method: 'notifications/progress'; params: { progressToken: string | number; progress: number; message?: string } }) => Promise<void>;
}

export type ToolHandler = (args: Record<string, unknown>, extra: ToolExtra) => Promise<CallToolResult>;

export interface ToolDefinition {
  title: string;
  description: string;
  input: z.ZodObject;
  annotations: ToolAnnotations;
  /** JSON Schema of `structuredContent`, success or failure (`{ error }`): listed as the tool's `outputSchema` (../outputs.ts). */
  output: ToolOutput;
  /** What a failure's message should name (model, id, field names). */
  errorContext: (args: Record<string, unknown>) => Omit<ErrorContext, 'tool'>;
  run: ToolHandler;
}

/** One MCP session's view, shared by its tools. */
export interface ToolSession {
  api: EngineApi;
  claims: SessionClaims;
  /** The schema the tools were made from (a schema change makes new tools from the next one). */
  serialized: SerializedSchema;
  /** `GET /v1/schema` as the tools were made. */
  doc: SchemaDocument;
  /** Models exposed as tools. */
  models: readonly string[];
  tokenBudget: number;
  /** `tokenBudget` in characters (≈ 4 per token). */
  budgetChars: number;
}

/** A model's tools see the session and the model. */
export interface ModelToolContext extends ToolSession {
  name: string;
  model: ModelDescriptor;
  inputs: ModelInputs;
  fieldNames: readonly string[];
  idPrefix: string;
  /** ` (description)` of the model, or empty. */
  about: string;
}

/** A per-model tool kind (`<model>_<verb>`). */
export interface ModelToolKind {
  /** Writes or coordinates: not registered with `readOnly`. */
  write: boolean;
  /** Offered only to a credential allowed one of these operations (`GET /v1/me`). */
  needs: readonly Operation[];
  define(ctx: ModelToolContext): ToolDefinition;
}

/** A tool for the whole schema (`ablo_schema`, `ablo_commit`). */
export interface GlobalToolKind {
  name: string;
  write: boolean;
  /** Offered only to a credential allowed one of these operations (`GET /v1/me`). */
  needs: readonly Operation[];
  define(session: ToolSession): ToolDefinition;
}

/** The failure context every model tool gives: the model, its fields, the id when there is one. */
export function modelErrorContext(ctx: ModelToolContext): (args: Record<string, unknown>) => Omit<ErrorContext, 'tool'> {
  return (args) => ({ model: ctx.name, fieldNames: ctx.fieldNames, ...(typeof args.id === 'string' ? { id: args.id } : {}) });
}
