/**
 * The hooks, once, typed on the board's schema: model names, fields and enum
 * values in every selector and `useClaim` are checked where they are written.
 */
import { createAbloReact } from 'ablo/react';
import type { Schema } from '../ablo.schema.js';

export const { AbloProvider, useAblo, useAbloClient, useSyncStatus, useClaim, usePresence, useUndo, useConflicts, SyncGroupProvider } =
  createAbloReact<Schema>();
