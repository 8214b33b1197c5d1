/**
 * `createAbloReact<typeof schema>()`: the hooks once, typed on your schema, so
 * every selector, model name, field and enum value is checked where it is
 * written:
 *
 *   export const { AbloProvider, useAblo, useClaim } = createAbloReact<typeof schema>();
 *   useAblo((a) => a.tasks.getAll({ where: { status: 'todo' } })); // rows typed; 'finished' would not compile
 *
 * The functions are the module's own (no second context): typed and untyped
 * hooks can be mixed under one provider.
 */
import type { ReactNode } from 'react';
import type { AbloClient } from '../client/types.js';
import type { PresenceState } from '../protocol/presence.js';
import type { SchemaLike, SchemaTypes } from '../schema/types.js';
import { useClaim, type ClaimView } from './claims.js';
import { useConflicts, type ConflictsView } from './conflicts.js';
import { useAbloClient } from './context.js';
import { SyncGroupProvider, type SyncGroupProviderProps } from './groups.js';
import { usePresence, type PresenceView } from './presence.js';
import { AbloProvider, type AbloProviderProps } from './provider.js';
import { useSyncStatus, type SyncStatus } from './status.js';
import { useUndo, type UndoView } from './undo.js';
import { useAblo } from './useAblo.js';

/** The model names of schema `S`. */
export type ModelName<S extends SchemaLike> = keyof SchemaTypes<S> & string;

/** `AbloProvider` props with the client of schema `S`. */
export type TypedAbloProviderProps<S extends SchemaLike> = Omit<AbloProviderProps, 'client'> & { client: AbloClient<S> };

export interface AbloReact<S extends SchemaLike> {
  /** Makes the client available below it; `fallback`, `suspense` and `errorFallback` for the states before ready. */
  AbloProvider: (props: TypedAbloProviderProps<S>) => ReactNode;
  /** A value selected from the client, typed on the schema; re-renders when it changes structurally. */
  useAblo: <R>(selector: (ablo: AbloClient<S>) => R) => R;
  /** The client itself, for writes. */
  useAbloClient: () => AbloClient<S>;
  useSyncStatus: () => SyncStatus;
  /** The live claim state of a row of `model`. */
  useClaim: (model: ModelName<S>, id: string) => ClaimView;
  usePresence: <T extends PresenceState = PresenceState>(group?: string, state?: T) => PresenceView<T>;
  useUndo: (scope?: string) => UndoView;
  useConflicts: () => ConflictsView;
  SyncGroupProvider: (props: SyncGroupProviderProps) => ReactNode;
}

/** The hooks typed on schema `S` (`createAbloReact<typeof schema>()`); call it once, in a module of your app. */
export function createAbloReact<S extends SchemaLike>(): AbloReact<S> {
  return {
    AbloProvider: AbloProvider as AbloReact<S>['AbloProvider'],
    useAblo: useAblo as AbloReact<S>['useAblo'],
    useAbloClient: useAbloClient as AbloReact<S>['useAbloClient'],
    useSyncStatus,
    useClaim,
    usePresence,
    useUndo,
    useConflicts,
    SyncGroupProvider,
  };
}
