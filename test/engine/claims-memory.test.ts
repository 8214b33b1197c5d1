/**
 * The ClaimStore contract (claims-contract.ts) on the memory store: one
 * process, so the same store stands for all three instances; rows in a map.
 */
import { afterEach } from 'vitest';
import { MemoryClaimStore } from '../../src/engine/claims.js';
import type { ClaimStore } from '../../src/engine/claims/store.js';
import type { StoredRow } from '../../src/engine/storage/types.js';
import { compileSchema } from '../../src/schema/compile.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { claimStoreContract } from './claims-contract.js';

const compiled = compileSchema(defineSchema({ counters: model({ n: z.number().int().default(0) }) }).serialized);
const rows = new Map<string, number>();
const stores: MemoryClaimStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  rows.clear();
});

claimStoreContract({
  async instances() {
    const store = new MemoryClaimStore({
      schema: () => compiled,
      readRow: async (_model, id): Promise<StoredRow | null> => (rows.has(id) ? { id, n: rows.get(id), createdAt: '', updatedAt: '', syncId: 0 } : null),
    });
    stores.push(store);
    return [store, store, store];
  },
  async seed(ids) {
    for (const id of ids) rows.set(id, 0);
  },
  async write(store: ClaimStore, id: string, owner: string) {
    await store.check('counters', id, owner);
    rows.set(id, rows.get(id)! + 1);
  },
});
