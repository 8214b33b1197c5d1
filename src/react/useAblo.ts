/**
 * `useAblo(selector)`: a value selected from the client (local rows, live
 * queries, any client state), re-rendering only when it changes structurally.
 */
import type { AbloClient } from '../client/types.js';
import type { SchemaLike } from '../schema/types.js';
import { useAbloClient, type AnyClient } from './context.js';
import { useStructuralStore } from './store.js';

/**
 * Select a value from the local pool (or any client state). The component
 * re-renders when the selected value changes, and only then. Use the typed
 * `useAblo` from `createAbloReact<typeof schema>()` to have model names,
 * fields and enum values checked.
 */
export function useAblo<S extends SchemaLike, R>(selector: (ablo: AbloClient<S>) => R): R {
  const client = useAbloClient<S>();
  return useStructuralStore(
    // The client's subscribe runs the selector itself (so its getAll calls are served by shared live
    // queries) and calls back only when the result changed structurally.
    (onChange, read) => (client as unknown as AnyClient).subscribe(read, () => onChange()),
    () => selector(client),
    [client],
  );
}
