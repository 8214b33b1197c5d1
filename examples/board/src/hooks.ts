/**
 * The hooks the app uses, typed on the board's schema.
 */
import { AbloProvider, useAblo as useAbloAny, useAbloClient as useAbloClientAny, useClaim, useSyncStatus } from 'ablo/react';
import type { Schema } from '../ablo.schema.js';
import type { BoardClient } from './client.js';

export { AbloProvider, useClaim, useSyncStatus };

export function useAblo<R>(selector: (ablo: BoardClient) => R): R {
  return useAbloAny<Schema, R>(selector);
}

export function useAbloClient(): BoardClient {
  return useAbloClientAny<Schema>();
}
