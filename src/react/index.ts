/**
 * `ablo/react`: hooks over an `Ablo()` client. Components re-render only when
 * the value they select changes (structural equality).
 *
 *   export const { AbloProvider, useAblo, useClaim } = createAbloReact<typeof schema>();
 *   <AbloProvider client={ablo} fallback={<Spinner />}><App /></AbloProvider>
 *   const todo = useAblo((a) => a.tasks.getAll({ where: { status: 'todo' } }));
 *
 * The same hooks are exported untyped below, for code that does not use the factory.
 * React is a peer: these modules use the app's copy (18 or 19) and only
 * APIs both have (useSyncExternalStore, no `use()`).
 */
export { createAbloReact, type AbloReact, type ModelName, type TypedAbloProviderProps } from './createAbloReact.js';
export { AbloProvider, type AbloProviderProps, type ErrorFallback } from './provider.js';
export { useAbloClient } from './context.js';
export { useAblo } from './useAblo.js';
export { useSyncStatus, type SyncStatus } from './status.js';
export { useClaim, type ClaimView } from './claims.js';
export { usePresence, type PresenceMemberOf, type PresenceView } from './presence.js';
export { useUndo, type UndoView } from './undo.js';
export { useConflicts, type ConflictsView } from './conflicts.js';
export { SyncGroupProvider, type SyncGroupProviderProps } from './groups.js';
