/**
 * The SQLite storage against the storage contract (test/engine/storage/contract):
 * each test gets its own file in its own temp directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteStorage } from '../../../src/engine/storage/sqlite.js';
import { runStorageContract } from './contract/index.js';

runStorageContract({
  name: 'sqlite',
  create: () => {
    const dir = mkdtempSync(join(tmpdir(), 'ablo-contract-'));
    const file = join(dir, 'contract.db');
    return {
      storage: createSqliteStorage({ file }),
      reopen: () => createSqliteStorage({ file }),
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  },
});
