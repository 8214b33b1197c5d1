/**
 * The Authenticator port and the one guard, on a real engine with real
 * sockets: a test authenticator hands out principals scoped to some sync
 * groups and operations, and every surface (the WebSocket hello and every
 * frame after it, claim frames, HTTP reads, writes and claims, `/mcp`)
 * refuses or filters exactly what the principal may not see or do.
 * With API keys (the default authenticator) nothing is scoped: the rest of
 * the suite runs on them unchanged.
 */
import { afterEach, describe, expect, test } from 'vitest';
import Ablo from '../../src/index.js';
import { AbloPermissionError } from '../../src/errors.js';
import { ApiKeyAuthenticator } from '../../src/engine/apiKeys.js';
import { groupAllowed, httpOperation } from '../../src/engine/auth/guard.js';
import { OPERATIONS } from '../../src/engine/auth/principal.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine, type TestSocket, memoryClaims } from '../helpers/engine.js';
import { TestAuthenticator } from '../helpers/principals.js';

const schema = defineSchema({
  cards: model({ title: z.string(), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }),
});

const admin = { participant: { kind: 'system' as const, id: 'admin' }, groups: 'all' as const, operations: OPERATIONS };
/** Reads board a only: no write, no claim. */
const readerA = { participant: { kind: 'agent' as const, id: 'reader-a' }, groups: ['board:a'], operations: ['read' as const] };

const engines: TestEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((t) => t.stop()));
});

async function start(): Promise<{ t: TestEngine; auth: TestAuthenticator; as: (token: string) => Record<string, string> }> {
  const auth = new TestAuthenticator();
  auth.add('tok_admin', admin);
  const t = await startTestEngine(schema, { authenticator: auth });
  engines.push(t);
  const as = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
  const seeded = await t.http(
    'POST',
    '/v1/commits',
    {
      operations: [
        { op: 'create', model: 'cards', id: 'a1', data: { title: 'A1', boardId: 'a' } },
        { op: 'create', model: 'cards', id: 'b1', data: { title: 'B1', boardId: 'b' } },
        { op: 'create', model: 'cards', id: 'a2', data: { title: 'A2', boardId: 'a' } },
        { op: 'create', model: 'cards', id: 'b2', data: { title: 'B2', boardId: 'b' } },
        { op: 'create', model: 'cards', id: 'a3', data: { title: 'A3', boardId: 'a' } },
      ],
    },
    as('tok_admin'),
  );
  expect(seeded.status).toBe(200);
  return { t, auth, as };
}

let refCounter = 0;
function call(s: TestSocket, frame: Record<string, unknown>): Promise<any> {
  const ref = `p${++refCounter}`;
  s.send({ ...frame, ref });
  return s.next((f) => f.ref === ref && f.type !== 'claims');
}

/** The hello is answered with an error frame (no ref) and close 4001. */
async function refusedHello(s: TestSocket, hello: Record<string, unknown>): Promise<any> {
  s.send({ type: 'hello', ...hello });
  const err = await s.next((f) => f.type === 'error' || f.type === 'welcome');
  expect(err.type).toBe('error');
  expect(err.ref).toBeUndefined();
  expect((await s.waitClose()).code).toBe(4001);
  return err.error;
}

describe('the WebSocket hello asks the authenticator and the guard', () => {
  test('groups outside the principal are refused (permission_error, close 4001); its own groups bootstrap only their rows', async () => {
    const { t, auth } = await start();
    auth.add('tok_a', readerA);

    const outside = await t.socket();
    expect(await refusedHello(outside, { apiKey: 'tok_a', groups: ['board:a', 'board:b'] })).toMatchObject({
      type: 'permission_error',
      code: 'group_not_allowed',
      groups: ['board:b'],
    });
    // `default` is not within board:a either.
    expect(await refusedHello(await t.socket(), { apiKey: 'tok_a', groups: ['default'] })).toMatchObject({ code: 'group_not_allowed', groups: ['default'] });
    // No groups means the principal's own.
    const own = await (await t.socket()).hello({ apiKey: 'tok_a' });
    expect(own.welcome.groups).toEqual(['board:a']);

    const inside = await t.socket();
    const { welcome, frames } = await inside.hello({ apiKey: 'tok_a', groups: ['board:a'] });
    expect(welcome).toMatchObject({ groups: ['board:a'], participant: { kind: 'agent', id: 'reader-a' } });
    const ids = frames.filter((f) => f.type === 'bootstrap').flatMap((f) => f.rows.map((r: any) => r.id));
    expect(ids.sort()).toEqual(['a1', 'a2', 'a3']);
  });

  test('group patterns: board:* allows every board and nothing else', async () => {
    const { t, auth } = await start();
    auth.add('tok_boards', { ...readerA, groups: ['board:*'] });
    const s = await t.socket();
    const { frames } = await s.hello({ apiKey: 'tok_boards', groups: ['board:a', 'board:b'] });
    expect(frames.filter((f) => f.type === 'bootstrap').flatMap((f) => f.rows.map((r: any) => r.id)).sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
    expect(await refusedHello(await t.socket(), { apiKey: 'tok_boards', groups: ['team:x'] })).toMatchObject({ code: 'group_not_allowed' });
  });

  test('a principal without admin cannot name another participant; one without read cannot sync', async () => {
    const { t, auth } = await start();
    auth.add('tok_a', readerA);
    auth.add('tok_writer', { ...readerA, operations: ['write'] });
    expect(await refusedHello(await t.socket(), { apiKey: 'tok_a', groups: ['board:a'], participant: { kind: 'user', id: 'someone-else' } })).toMatchObject({
      type: 'permission_error',
      code: 'participant_not_allowed',
    });
    expect(await refusedHello(await t.socket(), { apiKey: 'tok_writer', groups: ['board:a'] })).toMatchObject({
      type: 'permission_error',
      code: 'operation_not_allowed',
      operation: 'read',
    });
    // An admin principal may.
    const s = await t.socket();
    const { welcome } = await s.hello({ apiKey: 'tok_admin', participant: { kind: 'user', id: 'someone-else' } });
    expect(welcome.participant).toEqual({ kind: 'user', id: 'someone-else' });
  });

  test('an unknown credential is refused by the authenticator (API keys are not consulted when another authenticator is given)', async () => {
    const { t } = await start();
    expect(await refusedHello(await t.socket(), { apiKey: t.key })).toMatchObject({ type: 'authentication_error', code: 'invalid_token' });
    await expect(t.socket({ headers: { authorization: `Bearer ${t.key}` } })).rejects.toMatchObject({ status: 401 });
    const mcp = await t.http('POST', '/mcp', { jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }, { accept: 'application/json, text/event-stream' });
    expect(mcp.status).toBe(401);
    expect(mcp.body.error).toMatchObject({ type: 'authentication_error', code: 'invalid_token' });
  });
});

describe('the SDK against a scoped principal', () => {
  test('groups outside the principal: ready() rejects with the engine\'s permission_error (not a generic auth failure), status unauthorized, no retry', async () => {
    const { t, auth } = await start();
    auth.add('tok_a', readerA);
    const outside = Ablo({ schema, apiKey: 'tok_a', baseURL: t.url, syncGroups: ['board:b'], readyTimeoutMs: 5000 });
    try {
      const err = await outside.ready().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AbloPermissionError);
      expect(err).toMatchObject({ type: 'permission_error', code: 'group_not_allowed' });
      expect(outside.status).toBe('unauthorized');
      expect(t.engine.connections()).toBe(0);
    } finally {
      await outside.dispose();
    }
    // Its own groups sync.
    const inside = Ablo({ schema, apiKey: 'tok_a', baseURL: t.url, syncGroups: ['board:a'] });
    try {
      await inside.ready();
      expect(inside.cards.getAll().map((c) => c.id).sort()).toEqual(['a1', 'a2', 'a3']);
    } finally {
      await inside.dispose();
    }
  });
});

describe('every frame after the hello passes the guard', () => {
  test('commits and claims without the operation are refused with the ref (permission_error); the connection stays open', async () => {
    const { t, auth } = await start();
    auth.add('tok_a', readerA);
    const s = await t.socket();
    await s.hello({ apiKey: 'tok_a', groups: ['board:a'] });

    const commit = await call(s, { type: 'commit', commit: { operations: [{ op: 'update', model: 'cards', id: 'a1', data: { title: 'x' } }] } });
    expect(commit).toMatchObject({ type: 'error', error: { type: 'permission_error', code: 'operation_not_allowed', operation: 'update' } });
    const claim = await call(s, { type: 'claim', model: 'cards', id: 'a1' });
    expect(claim).toMatchObject({ type: 'error', error: { type: 'permission_error', code: 'operation_not_allowed', operation: 'claim' } });
    // claim_state is a read: its own groups answer, a row outside them is "not found" like a missing one.
    expect(await call(s, { type: 'claim_state', model: 'cards', id: 'a1' })).toMatchObject({ type: 'claim_state', claim: null, queue: [] });
    expect(await call(s, { type: 'claim_state', model: 'cards', id: 'b1' })).toMatchObject({ type: 'error', error: { code: 'row_not_found' } });

    expect(s.closed).toBeNull();
    const row = await t.http('GET', '/v1/models/cards/a1', undefined, { authorization: 'Bearer tok_admin' });
    expect(row.body.title).toBe('A1');
  });

  test('with claim allowed, claims on rows outside its groups are not found; inside they are granted', async () => {
    const { t, auth } = await start();
    auth.add('tok_claimer', { ...readerA, operations: ['read', 'claim'] });
    const s = await t.socket();
    await s.hello({ apiKey: 'tok_claimer', groups: ['board:a'] });
    expect(await call(s, { type: 'claim', model: 'cards', id: 'b1' })).toMatchObject({ type: 'error', error: { type: 'not_found', code: 'row_not_found' } });
    const granted = await call(s, { type: 'claim', model: 'cards', id: 'a1' });
    expect(granted).toMatchObject({ type: 'claim_granted', claim: { rowId: 'a1', holder: { id: 'reader-a' }, data: { id: 'a1' } } });
    expect(memoryClaims(t.engine).state('cards', 'b1')).toEqual({ claim: null, queue: [] });
    expect(await call(s, { type: 'release', claimId: granted.claim.id })).toMatchObject({ type: 'released' });

    const http = await t.http('POST', '/v1/models/cards/b2/claim', {}, { authorization: 'Bearer tok_claimer' });
    expect(http.status).toBe(404);
    expect(http.body.error.code).toBe('row_not_found');
  });

  test('a credential that expires ends the connection at its next frame (credential_expired, close 4007: get a new one, unlike 4001)', async () => {
    const { t, auth } = await start();
    const p = auth.add('tok_short', readerA);
    const s = await t.socket();
    await s.hello({ apiKey: 'tok_short', groups: ['board:a'] });
    expect(await call(s, { type: 'claim_state', model: 'cards', id: 'a1' })).toMatchObject({ type: 'claim_state' });
    p.expiresAt = new Date(Date.now() - 1000).toISOString();
    const err = await call(s, { type: 'claim_state', model: 'cards', id: 'a1' });
    expect(err).toMatchObject({ type: 'error', error: { type: 'authentication_error', code: 'credential_expired' } });
    expect((await s.waitClose()).code).toBe(4007);
    const http = await t.http('GET', '/v1/models/cards/a1', undefined, { authorization: 'Bearer tok_short' });
    expect(http.status).toBe(401);
    expect(http.body.error.code).toBe('credential_expired');
  });

  test('revoking through the authenticator closes its sockets (4001) and refuses its HTTP requests; others carry on', async () => {
    const { t, auth } = await start();
    auth.add('tok_a', readerA);
    const doomed = await t.socket();
    await doomed.hello({ apiKey: 'tok_a', groups: ['board:a'] });
    const other = await t.socket();
    await other.hello({ apiKey: 'tok_admin', groups: ['board:a'] });

    auth.revoke('tok_a');
    const err = await doomed.next('error');
    expect(err.error).toMatchObject({ type: 'authentication_error', code: 'revoked_token' });
    expect((await doomed.waitClose()).code).toBe(4001);
    // The authenticator still knows the token; the guard remembers the revocation.
    const http = await t.http('GET', '/v1/models/cards', undefined, { authorization: 'Bearer tok_a' });
    expect(http.status).toBe(401);
    expect(http.body.error.code).toBe('revoked_token');
    expect(other.closed).toBeNull();
    expect(await call(other, { type: 'claim_state', model: 'cards', id: 'a1' })).toMatchObject({ type: 'claim_state' });
  });
});

describe('HTTP asks the authenticator once per request and filters by the row groups', () => {
  test('lists and gets show only rows in its groups (rows outside are 404); pages still walk with startingAfter', async () => {
    const { t, auth } = await start();
    auth.add('tok_a', readerA);
    const h = { authorization: 'Bearer tok_a' };

    const all = await t.http('GET', '/v1/models/cards?orderBy=id', undefined, h);
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ object: 'list', hasMore: false });
    expect(all.body.data.map((r: any) => r.id)).toEqual(['a1', 'a2', 'a3']);

    const seen: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 5; i++) {
      const page = await t.http('GET', `/v1/models/cards?orderBy=id&limit=2${after ? `&startingAfter=${after}` : ''}`, undefined, h);
      seen.push(...page.body.data.map((r: any) => r.id));
      if (!page.body.hasMore) break;
      after = page.body.data.at(-1).id;
    }
    expect(seen).toEqual(['a1', 'a2', 'a3']);

    expect((await t.http('GET', '/v1/models/cards/a2', undefined, h)).body.id).toBe('a2');
    const hidden = await t.http('GET', '/v1/models/cards/b1', undefined, h);
    expect(hidden.status).toBe(404);
    expect(hidden.body.error).toMatchObject({ type: 'not_found', code: 'row_not_found' });
    expect((await t.http('GET', '/v1/models/cards/b1/claim', undefined, h)).status).toBe(404);
    expect((await t.http('GET', '/v1/models/cards/a1/claim', undefined, h)).body).toEqual({ claim: null, queue: [] });

    const changes = await t.http('GET', '/v1/changes?after=0&limit=2', undefined, h);
    expect(changes.body.data.map((c: any) => c.id)).toEqual(['a1', 'a2']);
    expect(changes.body.hasMore).toBe(true);
    const rest = await t.http('GET', `/v1/changes?after=${changes.body.data[1].syncId}&limit=2`, undefined, h);
    expect(rest.body).toMatchObject({ hasMore: false });
    expect(rest.body.data.map((c: any) => c.id)).toEqual(['a3']);
  });

  test('writes, claims, schema pushes and keys without the operation are 403 permission_error, and write nothing', async () => {
    const { t, auth } = await start();
    auth.add('tok_a', readerA);
    const h = { authorization: 'Bearer tok_a' };
    const refused = [
      await t.http('POST', '/v1/models/cards', { data: { title: 'new', boardId: 'a' } }, h),
      await t.http('PATCH', '/v1/models/cards/a1', { data: { title: 'changed' } }, h),
      await t.http('DELETE', '/v1/models/cards/a1', {}, h),
      await t.http('POST', '/v1/commits', { operations: [{ op: 'create', model: 'cards', data: { title: 'c', boardId: 'a' } }] }, h),
      await t.http('POST', '/v1/models/cards/a1/claim', {}, h),
      await t.http('DELETE', '/v1/claims/clm_x', undefined, h),
      await t.http('POST', '/v1/schema', { schema: {}, dryRun: true }, h),
      await t.http('GET', '/v1/keys', undefined, h),
    ];
    for (const r of refused) {
      expect(r.status).toBe(403);
      expect(r.body.error).toMatchObject({ type: 'permission_error', code: 'operation_not_allowed' });
    }
    expect(refused.map((r) => r.body.error.operation)).toEqual(['create', 'update', 'delete', 'create', 'claim', 'claim', 'schema', 'keys']);
    const a1 = await t.http('GET', '/v1/models/cards/a1', undefined, h);
    expect(a1.body.title).toBe('A1');
    expect((await t.http('GET', '/v1/models/cards', undefined, { authorization: 'Bearer tok_admin' })).body.data).toHaveLength(5);
    expect(memoryClaims(t.engine).size).toBe(0);

    const impersonating = await t.http('GET', '/v1/models/cards', undefined, { ...h, 'ablo-participant': 'user:boss' });
    expect(impersonating.status).toBe(403);
    expect(impersonating.body.error.code).toBe('participant_not_allowed');
  });
});

describe('guard rules and the API-key principal', () => {
  test('group patterns and HTTP operations', () => {
    expect(groupAllowed('all', 'anything')).toBe(true);
    expect(groupAllowed(['board:a'], 'board:a')).toBe(true);
    expect(groupAllowed(['board:a'], 'board:ab')).toBe(false);
    expect(groupAllowed(['board:*'], 'board:ab')).toBe(true);
    expect(groupAllowed(['board:*'], 'boards')).toBe(false);
    expect(groupAllowed(['*'], 'default')).toBe(true);
    expect(groupAllowed([], 'default')).toBe(false);
    expect(httpOperation('GET', ['v1', 'models', 'cards'])).toBe('read');
    expect(httpOperation('POST', ['v1', 'commits'])).toBe('commit');
    expect(httpOperation('POST', ['v1', 'models', 'cards'])).toBe('create');
    expect(httpOperation('PATCH', ['v1', 'models', 'cards', 'a1'])).toBe('update');
    expect(httpOperation('DELETE', ['v1', 'models', 'cards', 'a1'])).toBe('delete');
    expect(httpOperation('POST', ['v1', 'sessions'])).toBe('sessions');
    expect(httpOperation('GET', ['v1', 'models', 'cards', 'a1', 'claim'])).toBe('read');
    expect(httpOperation('POST', ['v1', 'models', 'cards', 'a1', 'claim'])).toBe('claim');
    expect(httpOperation('POST', ['v1', 'claims', 'clm_1', 'renew'])).toBe('claim');
    expect(httpOperation('GET', ['v1', 'schema'])).toBe('read');
    expect(httpOperation('POST', ['v1', 'schema'])).toBe('schema');
    expect(httpOperation('GET', ['v1', 'keys'])).toBe('keys');
  });

  test('an API key is a principal with every group and operation, no expiry, its key id as credential', async () => {
    const t = await startTestEngine(schema);
    engines.push(t);
    const principal = await new ApiKeyAuthenticator(t.engine.storage).authenticate(t.key);
    const keys = await t.http('GET', '/v1/keys');
    expect(principal).toEqual({
      kind: 'secret',
      participant: keys.body.data[0].participant,
      groups: 'all',
      operations: ['read', 'create', 'update', 'delete', 'claim', 'presence', 'keys', 'sessions', 'schema'],
      expiresAt: null,
      credentialId: keys.body.data[0].id,
    });
    await expect(new ApiKeyAuthenticator(t.engine.storage).authenticate(undefined)).rejects.toMatchObject({ code: 'missing_api_key' });
  });
});
