/**
 * Who is signed in, which board, which engine, and the Ablo client for them.
 *
 *   /?user=ana&board=launch[&engine=http://127.0.0.1:4100]
 *
 * `engine` is for pointing one page at another address of the engine (a
 * proxy, in the tests); without it the app server's /api/config says where.
 */
import Ablo, { type AbloClient } from 'ablo';
import { schema, type Schema } from '../ablo.schema.js';

export type BoardClient = AbloClient<Schema>;

export interface Session {
  user: string;
  boardId: string;
  engineUrl: string;
}

export function signedInUser(): string | null {
  return new URLSearchParams(location.search).get('user');
}

export async function loadSession(user: string): Promise<Session> {
  const params = new URLSearchParams(location.search);
  const res = await fetch('/api/config');
  if (!res.ok) throw new Error(`/api/config answered ${res.status}`);
  const config = (await res.json()) as { engineUrl: string; boardId: string };
  return { user, boardId: params.get('board') ?? config.boardId, engineUrl: params.get('engine') ?? config.engineUrl };
}

export function makeClient(session: Session): BoardClient {
  return Ablo({
    schema,
    baseURL: session.engineUrl,
    syncGroups: [`board:${session.boardId}`],
    // The app server mints a short-lived session token for this user; the SDK asks again before it expires.
    fetchToken: async () => {
      const res = await fetch(`/api/ablo-token?user=${encodeURIComponent(session.user)}`, { method: 'POST' });
      if (!res.ok) throw new Error(`the token route answered ${res.status}`);
      return ((await res.json()) as { token: string }).token;
    },
    // Come back quickly after a drop (the offline indicator shows meanwhile).
    reconnect: { baseMs: 200, maxMs: 2000 },
  });
}
