/** `useSyncStatus()`: the connection, as a component shows it. */
import type { ConnectionStatus } from '../client/connection.js';
import { useAblo } from './useAblo.js';

export interface SyncStatus {
  status: ConnectionStatus;
  /** True when the client is connected and current. */
  live: boolean;
  /**
   * True when no engine answers now (the client keeps retrying; writes wait in its outbox). Once a client has been
   * live, its retries (`connecting` between `offline` spells) count as offline too, so the flag does not flicker.
   */
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
    offline: isOffline(a, a.status),
    lastSyncId: a.lastSyncId,
    pendingWrites: a.pendingWrites,
  }));
}

/** Clients seen live at least once (a selector may run before or after any status change: this only grows). */
const beenLive = new WeakSet<object>();

function isOffline(client: object, status: ConnectionStatus): boolean {
  if (status === 'live') beenLive.add(client);
  return status === 'offline' || (status === 'connecting' && beenLive.has(client));
}
