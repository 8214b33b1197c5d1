/**
 * The storage contract: one suite every `Storage` must pass, written against
 * the ports in `src/engine/storage/types.ts` only (no SQL, no files).
 *
 *   runStorageContract({ name: 'sqlite', create: () => ({ storage, reopen, cleanup }) });
 *
 * `create()` is called once per test and returns a fresh storage on data no
 * other test uses, a way to open a new instance on the same data (a restart)
 * and a cleanup. SQLite runs it in `test/engine/storage/sqlite.contract.test.ts`.
 */
import { describe } from 'vitest';
import { auditContract } from './audit.js';
import { changeLogContract } from './changelog.js';
import { concurrencyContract } from './concurrency.js';
import { feedContract } from './feed.js';
import { groupsContract } from './groups.js';
import { jsonPagesContract } from './json-pages.js';
import { contractContext, type StorageContractOptions } from './harness.js';
import { keysContract } from './keys.js';
import { lifecycleContract } from './lifecycle.js';
import { listContract } from './list.js';
import { retentionContract } from './retention.js';
import { rowsContract } from './rows.js';
import { schemaContract } from './schema.js';
import { transactionsContract } from './transactions.js';

export type { StorageContractOptions, StorageFixture } from './harness.js';

export function runStorageContract(options: StorageContractOptions): void {
  describe(`storage contract (${options.name})`, () => {
    const ctx = contractContext(options);
    rowsContract(ctx);
    listContract(ctx);
    groupsContract(ctx);
    jsonPagesContract(ctx);
    changeLogContract(ctx);
    auditContract(ctx);
    transactionsContract(ctx);
    concurrencyContract(ctx);
    feedContract(ctx);
    schemaContract(ctx);
    keysContract(ctx);
    lifecycleContract(ctx);
    retentionContract(ctx);
  });
}
