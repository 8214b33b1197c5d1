/**
 * The contexts the hooks read: the client from `<AbloProvider>`, and the sync
 * groups of the nearest `<SyncGroupProvider>` (the default group of
 * `usePresence`).
 */
import { createContext, useContext } from 'react';
import type { AbloClient } from '../client/types.js';
import { abloError } from '../errors.js';
import type { SchemaLike } from '../schema/types.js';

export type AnyClient = AbloClient<SchemaLike>;

export const AbloContext = createContext<AnyClient | null>(null);

/** The groups the nearest `<SyncGroupProvider>` set; null outside one. */
export const SyncGroupContext = createContext<readonly string[] | null>(null);

/** The client from the nearest `<AbloProvider>`. */
export function useAbloClient<S extends SchemaLike = SchemaLike>(): AbloClient<S> {
  const client = useContext(AbloContext);
  if (!client) {
    throw abloError('missing_provider');
  }
  return client as unknown as AbloClient<S>;
}
