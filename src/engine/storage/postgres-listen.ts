/**
 * A dedicated Postgres connection that LISTENs on one channel (claims' event
 * announcements, presence between engine processes). Opening it either
 * succeeds whole or throws with the half-open client ended; once open, an
 * error or end of the connection is reported once through `dropped`, and the
 * owner reconnects when it still wants to listen.
 */
import pg from 'pg';
import { quoteIdent } from '../claims/postgres-tables.js';

export interface ListenHandlers {
  notification(message: pg.Notification): void;
  /** The open connection errored or ended (its notifications are already detached). */
  dropped(client: pg.Client): void;
}

export async function openListener(connectionString: string, channel: string, handlers: ListenHandlers): Promise<pg.Client> {
  const client = new pg.Client({ connectionString });
  let open = false;
  const dropped = (): void => {
    if (!open) return;
    open = false;
    client.removeAllListeners('notification');
    void client.end().catch(() => undefined);
    handlers.dropped(client);
  };
  client.on('error', dropped);
  client.on('end', dropped);
  client.on('notification', (n) => handlers.notification(n));
  try {
    await client.connect();
    await client.query(`LISTEN ${quoteIdent(channel)}`);
  } catch (err) {
    client.removeAllListeners();
    client.on('error', () => undefined);
    await client.end().catch(() => undefined);
    throw err;
  }
  open = true;
  return client;
}
