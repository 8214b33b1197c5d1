/**
 * Claims over the socket, as a sync plugin: the `claim`, `release`, `renew`
 * and `claim_state` frames, the `claims` frames pushed on every change of a
 * row's claim state (to live connections in the row's groups, and to the
 * owners concerned), the claims that already exist sent to a connection when
 * it becomes live (and those of its new groups after a `set_groups`), and
 * everything a connection held or waited for released when it goes. The
 * connection owns the claims it makes (owner = its id).
 */
import { abloError, AbloNotFoundError, AbloValidationError } from '../../errors.js';
import {
  claimFrameSchema,
  claimStateRequestFrameSchema,
  releaseFrameSchema,
  renewFrameSchema,
  type ClaimFrame,
  type ClaimGrant,
  type ClaimStateRequestFrame,
  type ReleaseFrame,
  type RenewFrame,
} from '../../protocol/claims.js';
import { groupMatcher } from '../../protocol/groups.js';
import type { CompiledSchema } from '../../schema/compile.js';
import type { ClaimEvent, ClaimStore } from '../claims/store.js';
import type { StoredRow } from '../storage/types.js';
import type { SyncConnection, SyncHost, SyncPlugin } from './plugin.js';

export type ClaimPluginFrame = ClaimFrame | ReleaseFrame | RenewFrame | ClaimStateRequestFrame;

export interface ClaimsPluginOptions {
  claims: ClaimStore;
  schema: () => CompiledSchema | null;
  getRow: (model: string, id: string) => Promise<StoredRow | null>;
}

function claimsFrame(e: ClaimEvent): string {
  return JSON.stringify({ type: 'claims', model: e.model, id: e.id, claim: e.claim, queue: e.queue });
}

function inGroups(conn: SyncConnection, groups: readonly string[]): boolean {
  return conn.inGroups(groups);
}

export function claimsPlugin({ claims, schema, getRow }: ClaimsPluginOptions): SyncPlugin<ClaimPluginFrame> {
  let unsubscribe: (() => void) | null = null;
  const byRow = (f: { model: string; id: string }): { model: string; id: string } => ({ model: f.model, id: f.id });
  // A claim held on this row by the same credential, taken over by this connection (a holder that reconnected).
  const resumeHeld = async (msg: ClaimFrame, conn: SyncConnection): Promise<ClaimGrant> => {
    const model = schema()?.model(msg.model).name ?? msg.model;
    if ((await claims.state(model, msg.id)).claim?.id !== msg.resume) {
      throw new AbloNotFoundError(`No active claim ${msg.resume} on ${model} ${msg.id}: it was released or its lease expired. Claim the row again.`, {
        code: 'claim_not_found',
        claimId: msg.resume!,
      });
    }
    return claims.resumeHeld(msg.resume!, conn.id, conn.principal.credentialId);
  };
  /** Send `conn` a `claims` frame for each existing claim whose row's groups pass `wanted`. */
  const sendExisting = (conn: SyncConnection, wanted: (groups: readonly string[]) => boolean): void => {
    const send = (events: ClaimEvent[]): void => {
      for (const e of events) if (e.claim && wanted(e.groups)) conn.send(claimsFrame(e));
    };
    const listed = claims.list();
    if (Array.isArray(listed)) send(listed);
    else void listed.then((events) => conn.state === 'live' && send(events), () => undefined);
  };
  return {
    name: 'claims',
    // release and renew act on claims the connection owns: ownership is their check (a row it was allowed to claim).
    frames: {
      claim: { schema: claimFrameSchema, operation: 'claim', row: (f) => byRow(f as ClaimFrame) },
      release: { schema: releaseFrameSchema, operation: 'claim' },
      renew: { schema: renewFrameSchema, operation: 'claim' },
      claim_state: { schema: claimStateRequestFrameSchema, operation: 'read', row: (f) => byRow(f as ClaimStateRequestFrame) },
    },

    start(host: SyncHost) {
      // A row's new claim state: to every live connection in its groups, and to the owners concerned.
      unsubscribe = claims.subscribe((e) => {
        let text: string | null = null;
        for (const conn of host.connections()) {
          const concerned = e.owners.includes(conn.id);
          if (concerned ? conn.state === 'closing' : conn.state !== 'live' || !inGroups(conn, e.groups)) continue;
          conn.send((text ??= claimsFrame(e)));
        }
      });
    },

    async onFrame(conn, msg) {
      switch (msg.type) {
        case 'claim': {
          if (msg.resume !== undefined) {
            conn.send({ type: 'claim_granted', ref: msg.ref, claim: await resumeHeld(msg, conn) });
            return;
          }
          const grant = await claims.acquire({
            model: msg.model,
            id: msg.id,
            participant: conn.participant,
            owner: conn.id,
            credentialId: conn.principal.credentialId,
            ...(msg.wait !== undefined ? { wait: msg.wait } : {}),
            ...(msg.leaseSeconds !== undefined ? { leaseSeconds: msg.leaseSeconds } : {}),
            ...(msg.action !== undefined ? { action: msg.action } : {}),
            ...(msg.maxQueueDepth !== undefined ? { maxQueueDepth: msg.maxQueueDepth } : {}),
            ...(msg.waitSeconds !== undefined ? { waitMs: msg.waitSeconds * 1000 } : {}),
          });
          conn.send({ type: 'claim_granted', ref: msg.ref, claim: grant });
          return;
        }
        case 'release': {
          const byId = msg.claimId !== undefined && msg.model === undefined && msg.id === undefined;
          const byRowRef = msg.claimId === undefined && msg.model !== undefined && msg.id !== undefined;
          if (!byId && !byRowRef) {
            throw new AbloValidationError('A release frame names either claimId, or model and id.', { code: 'invalid_request', field: 'claimId' });
          }
          const released = byId ? await claims.release(msg.claimId!, conn.id) : await claims.releaseRow(msg.model!, msg.id!, conn.id);
          conn.send({ type: 'released', ref: msg.ref, claimId: released.id });
          return;
        }
        case 'renew': {
          const claim = await claims.renew(msg.claimId, conn.id, msg.leaseSeconds);
          conn.send({ type: 'renewed', ...(msg.ref !== undefined ? { ref: msg.ref } : {}), claim });
          return;
        }
        case 'claim_state': {
          const model = schema()?.model(msg.model).name ?? msg.model;
          const state = await claims.state(model, msg.id);
          if (!state.claim && !(await getRow(model, msg.id))) {
            throw abloError('row_not_found', { model, id: msg.id });
          }
          conn.send({ type: 'claim_state', ref: msg.ref, ...state });
          return;
        }
      }
    },

    onLive(conn) {
      // The claims that already exist in its groups; later changes arrive as they happen.
      sendExisting(conn, (groups) => inGroups(conn, groups));
    },

    onGroupsChanged(conn, previous) {
      // The claims of the groups that are new to it; those of groups it kept came as they changed (a connection
      // switching groups counts as live here), and the client forgets the claims of rows it dropped.
      const had = groupMatcher(previous);
      sendExisting(conn, (groups) => inGroups(conn, groups) && !had.any(groups));
    },

    onDetach(conn) {
      // Its waiting requests leave their queues; what it holds goes at once (memory store) or when its lease ends
      // unless resumed (`resume` on a claim frame) from another connection (Postgres store: see ../claims/store.ts).
      void Promise.resolve(claims.releaseOwner(conn.id)).catch(() => undefined);
    },

    close() {
      unsubscribe?.();
      unsubscribe = null;
    },
  };
}
