/** `useSyncStatus()`: the connection, as a component shows it. */
import type { ConnectionStatus } from '../client/connection.js';
import { useAblo } from './useAblo.js';

export interface SyncStatus {
  status: ConnectionStatus;
  /** True when the client is connected and current. */
  live: boolean;
  /** True when no engine answers now (the client keeps retrying; writes wait in its outbox). */
  offline: boolean;
  lastSyncId: number;
  /** Writes made but not yet confirmed by the engine (they go out again after a reconnect). */
  pendingWrites: number;
}

/** Connection status, the sync id this client is current to, and how many writes wait for the engine. */
export function useSyncStatus(): SyncStatus {
  return useAblo((a) => ({
    status: a.status,
    live: a.status === 'live',
    offline: a.status === 'offline',
    lastSyncId: a.lastSyncId,
    pendingWrites: a.pendingWrites,
  }));
}
