/**
 * The tool kinds, one module each: per model `<model>_list`, `_get`,
 * `_create`, `_update`, `_delete`, `_claim`, `_release`; for the schema
 * `ablo_schema`, `ablo_commit` and `ablo_presence`. Registration order is the order here.
 */
import { claimTool, releaseTool } from './claim.js';
import { commitTool } from './commit.js';
import { createTool } from './create.js';
import { deleteTool } from './delete.js';
import { getTool } from './get.js';
import { listTool } from './list.js';
import { presenceTool } from './presence.js';
import { schemaTool } from './schema.js';
import { updateTool } from './update.js';
import type { GlobalToolKind, ModelToolKind } from './types.js';

export type { GlobalToolKind, ModelToolContext, ModelToolKind, ToolDefinition, ToolExtra, ToolSession } from './types.js';

/** Per-model tool suffixes, in registration order. */
export const MODEL_TOOL_VERBS = ['list', 'get', 'create', 'update', 'delete', 'claim', 'release'] as const;
export type ModelToolVerb = (typeof MODEL_TOOL_VERBS)[number];

export const MODEL_TOOLS: Readonly<Record<ModelToolVerb, ModelToolKind>> = {
  list: listTool,
  get: getTool,
  create: createTool,
  update: updateTool,
  delete: deleteTool,
  claim: claimTool,
  release: releaseTool,
};

export const GLOBAL_TOOL_KINDS: readonly GlobalToolKind[] = [schemaTool, commitTool, presenceTool];
export const GLOBAL_TOOLS = ['ablo_schema', 'ablo_commit', 'ablo_presence'] as const;
