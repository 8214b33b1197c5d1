/**
 * The ClaimStore contract: what every store keeps (the list in
 * src/engine/claims.ts), run against the memory store
 * (claims-memory.test.ts) and the Postgres store with three instances on one
 * database standing for three engine processes (claims-postgres.pg.test.ts).
 * A store with one process passes the same instance three times.
 *
 * The harness gives the rows: `seed` creates them, `write` is a commit as the
 * engine makes it (the claim check, then the write, in one transaction on
 * Postgres), `readN` reads a row's counter; the stores' `readRow` reads the
 * same rows.
 */
import { describe, expect, test } from 'vitest';
import type { ClaimEvent, ClaimStore } from '../../src/engine/claims/store.js';
import { AbloClaimedError } from '../../src/errors.js';

export interface ClaimContractHarness {
  /** Three instances on one shared state (the same one three times for a one-process store); closed by the harness after each test. */
  instances(): Promise<[ClaimStore, ClaimStore, ClaimStore]>;
  seed(ids: string[]): Promise<void>;
  /** Check the claim for `owner`, then add 1 to the row's `n`, as one commit. */
  write(store: ClaimStore, id: string, owner: string): Promise<void>;
}

const participant = (id: string) => ({ kind: 'agent' as const, id });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export function claimStoreContract(h: ClaimContractHarness): void {
  describe('ClaimStore contract', () => {
    test('15 requesters over 3 instances and 3 rows: holds never overlap, grants follow request order, each grant sees the previous write', async () => {
      const instances = await h.instances();
      const rows = ['r0', 'r1', 'r2'];
      await h.seed(rows);
      const holding = new Map<string, string>();
      const overlaps: string[] = [];
      const requested = new Map<string, string[]>(rows.map((r) => [r, []]));
      const granted = new Map<string, string[]>(rows.map((r) => [r, []]));
      let openGate!: () => void;
      const gate = new Promise<void>((resolve) => (openGate = resolve));
      const run = async (i: number, queued: () => void): Promise<void> => {
        const store = instances[i % 3]!;
        const row = rows[i % 3]!;
        const who = `a${i}`;
        const grant = await store.acquire({ model: 'counters', id: row, participant: participant(who), owner: `conn-${who}`, onQueued: queued });
        queued();
        if (holding.has(row)) overlaps.push(`${row}: ${who} granted while ${holding.get(row)} held it`);
        holding.set(row, who);
        granted.get(row)!.push(who);
        expect(grant.data.n).toBe(granted.get(row)!.length - 1);
        if (i < 3) await gate;
        else await sleep(1 + (i % 3));
        await h.write(store, row, `conn-${who}`);
        holding.delete(row);
        await store.release(grant.id, `conn-${who}`);
      };
      const runs: Promise<void>[] = [];
      for (let i = 0; i < 15; i++) {
        requested.get(rows[i % 3]!)!.push(`a${i}`);
        let markQueued!: () => void;
        const queued = new Promise<void>((r) => (markQueued = r));
        runs.push(run(i, markQueued));
        await queued;
      }
      openGate();
      await Promise.all(runs);
      expect(overlaps).toEqual([]);
      for (const r of rows) expect(granted.get(r), r).toEqual(requested.get(r));
      expect(await instances[1].list()).toEqual([]);
    });

    test('a waiter on B is granted when the holder on A releases; every instance hears the same events', async () => {
      const [a, b, c] = await h.instances();
      await h.seed(['x']);
      const heard: string[][] = [[], [], []];
      [a, b, c].forEach((s, i) => s.subscribe((e: ClaimEvent) => heard[i]!.push(`${e.claim?.holder.id ?? '-'}|${e.queue.map((q) => q.participant.id).join(',')}`)));
      const held = await a.acquire({ model: 'counters', id: 'x', participant: participant('alice'), owner: 'conn-alice' });
      let position = 0;
      const waiting = b.acquire({ model: 'counters', id: 'x', participant: participant('bob'), owner: 'conn-bob', onQueued: (q) => (position = q.position) });
      await until(() => position === 1, 'bob queued');
      expect((await c.state('counters', 'x')).queue.map((q) => q.participant.id)).toEqual(['bob']);
      await a.release(held.id, 'conn-alice');
      const grant = await waiting;
      expect(grant.holder.id).toBe('bob');
      expect((await c.state('counters', 'x')).claim?.id).toBe(grant.id);
      await b.release(grant.id, 'conn-bob');
      await until(() => heard.every((l) => l.at(-1) === '-|'), 'the last event everywhere');
      expect(heard[0]).toEqual(['alice|', 'alice|bob', 'bob|', '-|']);
      expect(heard[1]).toEqual(heard[0]);
      expect(heard[2]).toEqual(heard[0]);
    });

    test('the guard refuses a non-holder naming the holder, lets the holder write; wait: false and maxQueueDepth refuse', async () => {
      const [a, b] = await h.instances();
      await h.seed(['g']);
      const held = await a.acquire({ model: 'counters', id: 'g', participant: participant('holder'), owner: 'conn-h', action: 'counting' });
      await expect(h.write(b, 'g', 'conn-other')).rejects.toMatchObject({ type: 'claimed', code: 'row_claimed', details: { holder: { id: 'holder' }, claimId: held.id } });
      await expect(Promise.resolve().then(() => b.check('counters', 'g', ['x', 'y']))).rejects.toBeInstanceOf(AbloClaimedError);
      await h.write(b, 'g', 'conn-h');
      await expect(b.acquire({ model: 'counters', id: 'g', participant: participant('rude'), wait: false })).rejects.toMatchObject({ code: 'row_claimed' });
      const w = b.acquire({ model: 'counters', id: 'g', participant: participant('w1'), owner: 'conn-w1' });
      void w.catch(() => undefined);
      await until(async () => (await a.state('counters', 'g')).queue.length === 1, 'w1 queued');
      await expect(b.acquire({ model: 'counters', id: 'g', participant: participant('w2'), maxQueueDepth: 1 })).rejects.toMatchObject({ code: 'queue_full' });
      await a.release(held.id, 'conn-h');
      expect((await w).holder.id).toBe('w1');
    });

    test('claims read ahead for a batch (readAhead, where a store has it): check answers for those rows as a read would, other rows are read; after endReadAhead new grants show', async () => {
      const [a, b] = await h.instances();
      await h.seed(['q0', 'q1', 'q2']);
      const held = await a.acquire({ model: 'counters', id: 'q0', participant: participant('holder'), owner: 'conn-h' });
      await a.acquire({ model: 'counters', id: 'q2', participant: participant('holder'), owner: 'conn-h' });
      await b.readAhead?.([{ model: 'counters', id: 'q0' }, { model: 'counters', id: 'q1' }, { model: 'counters', id: 'q0' }]);
      await expect(Promise.resolve().then(() => b.check('counters', 'q0', 'conn-x'))).rejects.toMatchObject({ code: 'row_claimed', details: { claimId: held.id } });
      await b.check('counters', 'q0', ['conn-x', 'conn-h']);
      await b.check('counters', 'q1', 'conn-x');
      // Not read ahead: read.
      await expect(Promise.resolve().then(() => b.check('counters', 'q2', 'conn-x'))).rejects.toMatchObject({ code: 'row_claimed' });
      b.endReadAhead?.();
      await a.acquire({ model: 'counters', id: 'q1', participant: participant('holder'), owner: 'conn-h' });
      await expect(Promise.resolve().then(() => b.check('counters', 'q1', 'conn-x'))).rejects.toMatchObject({ code: 'row_claimed' });
    });

    test('renew extends the lease (its owner only); release of a claim gone is not found', async () => {
      const [a, b] = await h.instances();
      await h.seed(['n']);
      const held = await a.acquire({ model: 'counters', id: 'n', participant: participant('p'), owner: 'conn-p', leaseSeconds: 5 });
      await expect(Promise.resolve().then(() => b.renew(held.id, 'conn-q'))).rejects.toMatchObject({ code: 'not_claim_owner' });
      await sleep(20);
      const renewed = await b.renew(held.id, 'conn-p', 60);
      expect(renewed.leaseSeconds).toBe(60);
      expect(Date.parse(renewed.expiresAt)).toBeGreaterThan(Date.parse(held.expiresAt));
      await a.release(held.id, 'conn-p');
      await expect(b.release(held.id, 'conn-p')).rejects.toMatchObject({ code: 'claim_not_found' });
    });

    test('a waiter that timed out keeping its place resumes it by ticket on another instance, ahead of later requests', async () => {
      const [a, b] = await h.instances();
      await h.seed(['t']);
      const held = await a.acquire({ model: 'counters', id: 't', participant: participant('holder'), owner: 'conn-h' });
      const err = await b
        .acquire({ model: 'counters', id: 't', participant: participant('patient'), owner: 'conn-p', credentialId: 'key_p', waitMs: 200, keepPlaceMs: 30_000 })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'claim_wait_timeout', details: { position: 1, ticket: expect.stringMatching(/^ctk_/) } });
      const later = a.acquire({ model: 'counters', id: 't', participant: participant('later'), owner: 'conn-l' });
      void later.catch(() => undefined);
      await until(async () => (await a.state('counters', 't')).queue.length === 2, 'both queued');
      const ticket = (err as AbloClaimedError).details.ticket as string;
      await expect(a.resume({ ticket, model: 'counters', id: 't', credentialId: 'key_other' })).rejects.toMatchObject({ code: 'claim_ticket_not_found' });
      const resumed = a.resume({ ticket, model: 'counters', id: 't', credentialId: 'key_p', owner: 'conn-p2' });
      await a.release(held.id, 'conn-h');
      const g = await resumed;
      expect(g.holder.id).toBe('patient');
      await a.release(g.id, 'conn-p2');
      expect((await later).holder.id).toBe('later');
    });

    test('a held claim is taken over by id from another instance (same credential only)', async () => {
      const [a, b] = await h.instances();
      await h.seed(['m']);
      const held = await a.acquire({ model: 'counters', id: 'm', participant: participant('mover'), owner: 'conn-1', credentialId: 'key_1' });
      await expect(b.resumeHeld(held.id, 'conn-2', 'key_2')).rejects.toMatchObject({ code: 'claim_not_found' });
      const moved = await b.resumeHeld(held.id, 'conn-2', 'key_1');
      expect(moved).toMatchObject({ id: held.id, data: { id: 'm' } });
      await expect(h.write(a, 'm', 'conn-1')).rejects.toMatchObject({ code: 'row_claimed' });
      await h.write(a, 'm', 'conn-2');
      await expect(a.release(held.id, 'conn-1')).rejects.toMatchObject({ code: 'not_claim_owner' });
      await b.release(held.id, 'conn-2');
    });

    test('revoking a credential releases its claims and fails its waiters with the reason', async () => {
      const [a, b] = await h.instances();
      await h.seed(['v']);
      const held = await a.acquire({ model: 'counters', id: 'v', participant: participant('revoked'), owner: 'conn-r', credentialId: 'key_r' });
      const w = b.acquire({ model: 'counters', id: 'v', participant: participant('also-revoked'), owner: 'conn-r2', credentialId: 'key_r' });
      const failed = w.catch((e: unknown) => e);
      await until(async () => (await a.state('counters', 'v')).queue.length === 1, 'the waiter queued');
      const next = a.acquire({ model: 'counters', id: 'v', participant: participant('fine'), owner: 'conn-f', credentialId: 'key_f' });
      await until(async () => (await a.state('counters', 'v')).queue.length === 2, 'the next queued');
      const reason = new AbloClaimedError('revoked', { code: 'claim_cancelled' });
      await a.releaseCredential('key_r', reason);
      await b.releaseCredential('key_r', reason);
      expect(await failed).toMatchObject({ code: 'claim_cancelled' });
      const g = await next;
      expect(g.holder.id).toBe('fine');
      expect(g.id).not.toBe(held.id);
    });
  });
}
