/**
 * The denial matrix (issue 14): every surface × every violation is refused
 * with its typed error, writes nothing and leaks nothing.
 *
 * Surfaces: HTTP get/list/create/update/delete/commits/claims/keys/sessions/
 * changes/me, WebSocket hello/bootstrap/catch-up/fanout/commit/claim, `/mcp`
 * (a real MCP client). Violations: no credential, expired, revoked (session
 * and key), wrong group, moving a row out of / into a group, a `reads[]` entry
 * out of scope, a missing operation, a tampered token, a forged signature, a
 * token signed by another engine; and a restricted key (`rk_…`) held to its
 * scope. Stdio MCP has its own matrix in test/mcp/scoped.test.ts (it spawns
 * the CLI per credential).
 *
 * One engine, seeded with ana's and bo's rows (bo's carry a marker no denied
 * answer may contain). Each case runs on its own (own socket, own MCP
 * session) and reports what it saw; the test prints the count and checks
 * every case denied as expected, then that the change log holds only the
 * writes the test made on purpose.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { memoryClaims, startTestEngine, type TestEngine, type TestSocket } from '../helpers/engine.js';
import { httpSession, type McpSession } from '../mcp/helpers.js';
import { forge, tamper } from '../helpers/tokens.js';

const schema = defineSchema({
  notes: model({ title: z.string(), owner: z.string() }, {}, { syncGroupFormat: 'user:{owner}' }),
});

/** In every row of bo's; a denied answer that contains it leaked. */
const MARKER = 'BO-PRIVATE-7f3a';

interface Seen {
  status?: number;
  /** `{ type, code }` of the typed error the surface answered, or null when it answered without one. */
  error: { type: string; code: string } | null;
  /** The raw answer, checked for the marker. */
  raw: string;
}

interface Case {
  surface: string;
  violation: string;
  /** What denial looks like here: a typed error, or (reads) an answer without bo's rows. */
  expect: { type: string; code: string } | 'filtered';
  run: () => Promise<Seen>;
}

let t: TestEngine;
let other: TestEngine;
const creds: Record<string, string | undefined> = {};
/** Sync id after seeding; the log may only grow by the writes the test makes on purpose. */
let seededHead = 0;

const bearer = (token: string | undefined): Record<string, string> => (token === undefined ? { authorization: '' } : { authorization: `Bearer ${token}` });

async function mint(engine: TestEngine, body: Record<string, unknown>): Promise<{ token: string; sessionId: string }> {
  const res = await engine.http('POST', '/v1/sessions', { participant: { kind: 'user', id: 'ana' }, syncGroups: ['user:ana'], operations: ['read', 'write', 'claim'], ...body });
  expect(res.status).toBe(201);
  return res.body;
}



beforeAll(async () => {
  t = await startTestEngine(schema);
  other = await startTestEngine(schema);
  const seeded = await t.http('POST', '/v1/commits', {
    operations: [
      { op: 'create', model: 'notes', id: 'ana1', data: { title: 'ana note', owner: 'ana' } },
      { op: 'create', model: 'notes', id: 'bo1', data: { title: `bo note ${MARKER}`, owner: 'bo' } },
      { op: 'create', model: 'notes', id: 'bo2', data: { title: `bo other ${MARKER}`, owner: 'bo' } },
    ],
  });
  expect(seeded.status).toBe(200);
  seededHead = seeded.body.lastSyncId ?? seeded.body.syncId ?? 0;

  creds.ana = (await mint(t, {})).token;
  creds.anaRead = (await mint(t, { operations: ['read'] })).token;
  creds.anaCreate = (await mint(t, { operations: ['create'] })).token;
  creds.expired = (await mint(t, { ttlSeconds: 1 })).token;
  const revoked = await mint(t, {});
  creds.revoked = revoked.token;
  expect((await t.http('DELETE', `/v1/sessions/${revoked.sessionId}`)).status).toBe(200);
  const key = await t.http('POST', '/v1/keys', { name: 'to revoke' });
  creds.revokedKey = key.body.key;
  expect((await t.http('DELETE', `/v1/keys/${key.body.id}`)).status).toBe(200);
  creds.tampered = tamper(creds.ana!);
  creds.forged = forge(creds.ana!);
  creds.foreign = (await mint(other, {})).token;
  // A restricted key of ana's: her group, read and create only, no keys.
  const rk = await t.http('POST', '/v1/keys', { name: 'ana job', restricted: true, syncGroups: ['user:ana'], operations: ['read', 'create'] });
  expect(rk.status).toBe(201);
  creds.anaKey = rk.body.key;
  const rkRevoked = await t.http('POST', '/v1/keys', { name: 'gone', restricted: true, syncGroups: ['user:ana'], operations: ['read'] });
  creds.revokedRestricted = rkRevoked.body.key;
  expect((await t.http('DELETE', `/v1/keys/${rkRevoked.body.id}`)).status).toBe(200);
  creds.none = undefined;
  // Let the 1-second token expire.
  await new Promise((r) => setTimeout(r, 1100));
}, 30_000);

afterAll(async () => {
  await Promise.all([t?.stop(), other?.stop()]);
});

/** Credentials refused before anything else, with what each is told. */
const BAD_CREDENTIALS: Record<string, { type: string; code: string }> = {
  none: { type: 'authentication_error', code: 'missing_api_key' },
  expired: { type: 'authentication_error', code: 'token_expired' },
  revoked: { type: 'authentication_error', code: 'revoked_token' },
  revokedKey: { type: 'authentication_error', code: 'revoked_api_key' },
  revokedRestricted: { type: 'authentication_error', code: 'revoked_api_key' },
  tampered: { type: 'authentication_error', code: 'unauthorized' },
  forged: { type: 'authentication_error', code: 'unauthorized' },
  foreign: { type: 'authentication_error', code: 'unauthorized' },
};

const DENIED_OP = (operation: string) => ({ type: 'permission_error', code: 'operation_not_allowed', operation });
const NOT_FOUND = { type: 'not_found', code: 'row_not_found' };
const OUT_OF_GROUP = { type: 'permission_error', code: 'group_not_allowed' };

async function http(method: string, path: string, token: string | undefined, body?: unknown): Promise<Seen> {
  const res = await t.http(method, path, body, bearer(token));
  return { status: res.status, error: res.body?.error ? { type: res.body.error.type, code: res.body.error.code, ...res.body.error } : null, raw: JSON.stringify(res.body) };
}

/** Send a frame with a ref and answer what comes back for it (socket already past hello). */
async function frameCall(s: TestSocket, frame: Record<string, unknown>): Promise<Seen> {
  const ref = `r${Math.random().toString(36).slice(2)}`;
  s.send({ ...frame, ref });
  const answer = await s.next((f) => f.ref === ref && (f.type === 'error' || f.type === 'receipt' || f.type === 'claim' || f.type === 'claimed' || f.type === 'queued'));
  return { error: answer.type === 'error' ? answer.error : null, raw: JSON.stringify(answer) };
}

/** A hello refused: the error frame, and the close code in `status`. */
async function helloCall(hello: Record<string, unknown>): Promise<Seen> {
  const s = await t.socket();
  s.send({ type: 'hello', ...hello });
  const first = await s.next((f) => f.type === 'error' || f.type === 'welcome');
  if (first.type !== 'error') {
    await s.next('bootstrap_done');
    const rest = s.frames.splice(0);
    s.close();
    return { error: null, raw: JSON.stringify([first, ...rest]) };
  }
  const closed = await s.waitClose();
  return { status: closed.code, error: first.error, raw: JSON.stringify(first) };
}

/** A socket of ana's, past its hello (bootstrap frames dropped after checking them for the marker). */
async function anaSocket(token = creds.ana): Promise<{ s: TestSocket; raw: string }> {
  const s = await t.socket();
  const { welcome, frames } = await s.hello({ apiKey: token, groups: ['user:ana'] });
  return { s, raw: JSON.stringify([welcome, ...frames]) };
}

async function mcpCall(token: string | undefined, tool: string, args: Record<string, unknown>): Promise<Seen> {
  let session: McpSession | undefined;
  try {
    session = await httpSession(t.url, token ?? '', token === undefined ? { authorization: '' } : {});
  } catch (err) {
    // Refused at initialize: the engine's answer is in the transport error's text.
    const text = String((err as Error).message);
    const match = /"code":"([a-z_]+)"/.exec(text);
    const type = /"type":"([a-z_]+)"/.exec(text);
    return { status: 401, error: match && type ? { type: type[1]!, code: match[1]! } : null, raw: text };
  }
  try {
    const result = await session.call(tool, args);
    const error = (result.structuredContent as { error?: { type: string; code: string } } | undefined)?.error ?? null;
    return { error, raw: JSON.stringify(result) };
  } finally {
    await session.close();
  }
}

function cases(): Case[] {
  const out: Case[] = [];
  const add = (surface: string, violation: string, expected: Case['expect'], run: () => Promise<Seen>) => out.push({ surface, violation, expect: expected, run });

  // ── every surface × every bad credential ──────────────────────────────────
  const surfaces: Record<string, (token: string | undefined) => Promise<Seen>> = {
    'http get': (tok) => http('GET', '/v1/models/notes/bo1', tok),
    'http list': (tok) => http('GET', '/v1/models/notes', tok),
    'http create': (tok) => http('POST', '/v1/models/notes', tok, { data: { title: 'x', owner: 'ana' } }),
    'http update': (tok) => http('PATCH', '/v1/models/notes/ana1', tok, { data: { title: 'x' } }),
    'http delete': (tok) => http('DELETE', '/v1/models/notes/ana1', tok),
    'http commits': (tok) => http('POST', '/v1/commits', tok, { operations: [{ op: 'update', model: 'notes', id: 'ana1', data: { title: 'x' } }] }),
    'http claims': (tok) => http('POST', '/v1/models/notes/ana1/claim', tok, {}),
    'http keys': (tok) => http('GET', '/v1/keys', tok),
    'http sessions': (tok) => http('POST', '/v1/sessions', tok, { participant: { kind: 'user', id: 'x' }, syncGroups: ['user:*'], operations: ['read'] }),
    'http changes': (tok) => http('GET', '/v1/changes', tok),
    'http me': (tok) => http('GET', '/v1/me', tok),
    'http presence': (tok) => http('GET', '/v1/presence?group=user:ana', tok),
    'ws hello': (tok) => helloCall({ apiKey: tok, groups: ['user:ana'] }),
    'ws catch-up': (tok) => helloCall({ apiKey: tok, groups: ['user:ana'], lastSyncId: 0 }),
    '/mcp': (tok) => mcpCall(tok, 'notes_list', {}),
  };
  for (const [surface, run] of Object.entries(surfaces)) {
    for (const [name, expected] of Object.entries(BAD_CREDENTIALS)) add(surface, `credential: ${name}`, expected, () => run(creds[name]));
  }
  // A socket whose credential is revoked while open: its next frame is refused and it closes.
  add('ws commit', 'revoked while open', BAD_CREDENTIALS.revoked!, async () => {
    const session = await mint(t, {});
    const { s } = await anaSocket(session.token);
    expect((await t.http('DELETE', `/v1/sessions/${session.sessionId}`)).status).toBe(200);
    if (!s.closed) s.send({ type: 'commit', ref: 'late', commit: { operations: [{ op: 'update', model: 'notes', id: 'ana1', data: { title: 'late' } }] } });
    const closed = await s.waitClose();
    const err = s.frames.find((f) => f.type === 'error');
    return { status: closed.code, error: err?.error ?? null, raw: JSON.stringify(s.frames) };
  });

  // ── groups: rows of bo's are out of ana's reach ──────────────────────────
  add('http get', 'wrong group', NOT_FOUND, () => http('GET', '/v1/models/notes/bo1', creds.ana));
  add('http list', 'wrong group', 'filtered', () => http('GET', '/v1/models/notes', creds.ana));
  add('http list', 'wrong group (where)', 'filtered', () => http('GET', `/v1/models/notes?where=${encodeURIComponent(JSON.stringify({ owner: 'bo' }))}`, creds.ana));
  add('http update', 'wrong group', NOT_FOUND, () => http('PATCH', '/v1/models/notes/bo1', creds.ana, { data: { title: 'mine now' } }));
  add('http delete', 'wrong group', NOT_FOUND, () => http('DELETE', '/v1/models/notes/bo1', creds.ana));
  add('http claims', 'wrong group', NOT_FOUND, () => http('POST', '/v1/models/notes/bo1/claim', creds.ana, {}));
  add('http claims', 'wrong group (state)', NOT_FOUND, () => http('GET', '/v1/models/notes/bo1/claim', creds.ana));
  add('http changes', 'wrong group', 'filtered', () => http('GET', '/v1/changes', creds.ana));
  add('http presence', "another's group", OUT_OF_GROUP, () => http('GET', '/v1/presence?group=user:bo', creds.ana));
  add('http update', 'move a row out of its group', OUT_OF_GROUP, () => http('PATCH', '/v1/models/notes/ana1', creds.ana, { data: { owner: 'bo' } }));
  add('http create', "create in another's group", OUT_OF_GROUP, () => http('POST', '/v1/models/notes', creds.ana, { data: { title: 'planted', owner: 'bo' } }));
  add('http commits', 'move a row out of its group', OUT_OF_GROUP, () =>
    http('POST', '/v1/commits', creds.ana, { operations: [{ op: 'update', model: 'notes', id: 'ana1', data: { owner: 'bo' } }] }),
  );
  add('http commits', "create in another's group", OUT_OF_GROUP, () =>
    http('POST', '/v1/commits', creds.ana, { operations: [{ op: 'create', model: 'notes', data: { title: 'planted', owner: 'bo' } }] }),
  );
  add('http commits', 'wrong group', NOT_FOUND, () => http('POST', '/v1/commits', creds.ana, { operations: [{ op: 'update', model: 'notes', id: 'bo1', data: { title: 'x' } }] }));
  add('http commits', 'reads[] row out of scope', NOT_FOUND, () =>
    http('POST', '/v1/commits', creds.ana, {
      operations: [{ op: 'update', model: 'notes', id: 'ana1', data: { title: 'x' } }],
      reads: [{ model: 'notes', id: 'bo1', readAt: 1 }],
    }),
  );
  add('http commits', 'reads[] group out of scope', OUT_OF_GROUP, () =>
    http('POST', '/v1/commits', creds.ana, {
      operations: [{ op: 'update', model: 'notes', id: 'ana1', data: { title: 'x' } }],
      reads: [{ group: 'user:bo', readAt: 1 }],
    }),
  );
  add('ws hello', 'wrong group', OUT_OF_GROUP, () => helloCall({ apiKey: creds.ana, groups: ['user:bo'] }));
  add('ws hello', 'tampered groups', BAD_CREDENTIALS.tampered!, () => helloCall({ apiKey: creds.tampered, groups: ['user:bo'] }));
  add('ws bootstrap', 'wrong group', 'filtered', async () => ({ error: null, raw: (await anaSocket()).raw }));
  add('ws catch-up', 'wrong group', 'filtered', () => helloCall({ apiKey: creds.ana, groups: ['user:ana'], lastSyncId: 0 }));
  add('ws fanout', 'wrong group', 'filtered', async () => {
    const { s } = await anaSocket();
    // A change of bo's, then one of ana's: the socket gets ana's, and nothing of bo's before it.
    expect((await t.http('PATCH', '/v1/models/notes/bo2', { data: { title: `bo edited ${MARKER}` } })).status).toBe(200);
    expect((await t.http('PATCH', '/v1/models/notes/ana1', { data: { title: 'ana edited' } })).status).toBe(200);
    intentionalWrites += 2;
    await s.next((f) => f.type === 'changes' && JSON.stringify(f).includes('ana edited'));
    const raw = JSON.stringify(s.frames);
    s.close();
    return { error: null, raw };
  });
  const wsCommit = (violation: string, expected: Case['expect'], commit: Record<string, unknown>, token = creds.ana) =>
    add('ws commit', violation, expected, async () => {
      const { s } = await anaSocket(token);
      try {
        return await frameCall(s, { type: 'commit', commit });
      } finally {
        s.close();
      }
    });
  wsCommit('wrong group', NOT_FOUND, { operations: [{ op: 'update', model: 'notes', id: 'bo1', data: { title: 'x' } }] });
  wsCommit('move a row out of its group', OUT_OF_GROUP, { operations: [{ op: 'update', model: 'notes', id: 'ana1', data: { owner: 'bo' } }] });
  wsCommit("create in another's group", OUT_OF_GROUP, { operations: [{ op: 'create', model: 'notes', data: { title: 'planted', owner: 'bo' } }] });
  wsCommit('reads[] row out of scope', NOT_FOUND, { operations: [{ op: 'update', model: 'notes', id: 'ana1', data: { title: 'x' } }], reads: [{ model: 'notes', id: 'bo1', readAt: 1 }] });
  wsCommit('reads[] group out of scope', OUT_OF_GROUP, { operations: [{ op: 'update', model: 'notes', id: 'ana1', data: { title: 'x' } }], reads: [{ group: 'user:bo', readAt: 1 }] });
  wsCommit('missing operation', DENIED_OP('update'), { operations: [{ op: 'update', model: 'notes', id: 'ana1', data: { title: 'x' } }] }, creds.anaRead);
  const wsClaim = (violation: string, expected: Case['expect'], id: string, token = creds.ana) =>
    add('ws claim', violation, expected, async () => {
      const { s } = await anaSocket(token);
      try {
        return await frameCall(s, { type: 'claim', model: 'notes', id });
      } finally {
        s.close();
      }
    });
  wsClaim('wrong group', NOT_FOUND, 'bo1');
  wsClaim('missing operation', DENIED_OP('claim'), 'ana1', creds.anaRead);
  add('/mcp', 'wrong group', NOT_FOUND, () => mcpCall(creds.ana, 'notes_get', { id: 'bo1' }));
  add('/mcp', "create in another's group", OUT_OF_GROUP, () => mcpCall(creds.ana, 'notes_create', { data: { title: 'planted', owner: 'bo' } }));
  add('/mcp', 'move a row out of its group', OUT_OF_GROUP, () => mcpCall(creds.ana, 'notes_update', { id: 'ana1', data: { owner: 'bo' } }));
  add('/mcp', 'list filtered', 'filtered', () => mcpCall(creds.ana, 'notes_list', {}));

  // ── operations the credential lacks ──────────────────────────────────────
  add('http get', 'missing operation', DENIED_OP('read'), () => http('GET', '/v1/models/notes/ana1', creds.anaCreate));
  add('http list', 'missing operation', DENIED_OP('read'), () => http('GET', '/v1/models/notes', creds.anaCreate));
  add('http create', 'missing operation', DENIED_OP('create'), () => http('POST', '/v1/models/notes', creds.anaRead, { data: { title: 'x', owner: 'ana' } }));
  add('http update', 'missing operation', DENIED_OP('update'), () => http('PATCH', '/v1/models/notes/ana1', creds.anaCreate, { data: { title: 'x' } }));
  add('http delete', 'missing operation', DENIED_OP('delete'), () => http('DELETE', '/v1/models/notes/ana1', creds.anaCreate));
  add('http commits', 'missing operation', DENIED_OP('update'), () =>
    http('POST', '/v1/commits', creds.anaCreate, { operations: [{ op: 'update', model: 'notes', id: 'ana1', data: { title: 'x' } }] }),
  );
  add('http claims', 'missing operation', DENIED_OP('claim'), () => http('POST', '/v1/models/notes/ana1/claim', creds.anaRead, {}));
  add('http keys', 'missing operation', DENIED_OP('keys'), () => http('POST', '/v1/keys', creds.ana, { name: 'escalate' }));
  add('http sessions', 'missing operation', DENIED_OP('sessions'), () =>
    http('POST', '/v1/sessions', creds.ana, { participant: { kind: 'user', id: 'bo' }, syncGroups: ['user:bo'], operations: ['read'] }),
  );
  add('http changes', 'missing operation', DENIED_OP('read'), () => http('GET', '/v1/changes', creds.anaCreate));
  // ── a restricted key (rk_…) is held to its scope like a session ───────────
  add('http get', 'restricted key: wrong group', NOT_FOUND, () => http('GET', '/v1/models/notes/bo1', creds.anaKey));
  add('http list', 'restricted key: wrong group', 'filtered', () => http('GET', '/v1/models/notes', creds.anaKey));
  add('http changes', 'restricted key: wrong group', 'filtered', () => http('GET', '/v1/changes', creds.anaKey));
  add('http create', "restricted key: create in another's group", OUT_OF_GROUP, () => http('POST', '/v1/models/notes', creds.anaKey, { data: { title: 'planted', owner: 'bo' } }));
  add('http update', 'restricted key: missing operation', DENIED_OP('update'), () => http('PATCH', '/v1/models/notes/ana1', creds.anaKey, { data: { title: 'x' } }));
  add('http keys', 'restricted key: missing operation', DENIED_OP('keys'), () => http('POST', '/v1/keys', creds.anaKey, { name: 'wider' }));
  add('http sessions', 'restricted key: not a secret key', DENIED_OP('sessions'), () =>
    http('POST', '/v1/sessions', creds.anaKey, { participant: { kind: 'user', id: 'ana' }, syncGroups: ['user:ana'], operations: ['read'] }),
  );
  add('ws hello', 'restricted key: wrong group', OUT_OF_GROUP, () => helloCall({ apiKey: creds.anaKey, groups: ['user:bo'] }));
  add('ws bootstrap', 'restricted key: wrong group', 'filtered', async () => ({ error: null, raw: (await anaSocket(creds.anaKey)).raw }));
  add('/mcp', 'restricted key: wrong group', NOT_FOUND, () => mcpCall(creds.anaKey, 'notes_get', { id: 'bo1' }));
  add('http schema', 'missing operation', DENIED_OP('schema'), () => http('POST', '/v1/schema', creds.ana, { schema: {}, dryRun: true }));
  add('ws hello', 'missing operation', DENIED_OP('read'), () => helloCall({ apiKey: creds.anaCreate, groups: ['user:ana'] }));
  add('ws hello', 'acting as another participant', { type: 'permission_error', code: 'participant_not_allowed' }, () =>
    helloCall({ apiKey: creds.ana, groups: ['user:ana'], participant: { kind: 'user', id: 'bo' } }),
  );
  add('http update', 'acting as another participant', { type: 'permission_error', code: 'participant_not_allowed' }, async () => {
    const res = await t.http('PATCH', '/v1/models/notes/ana1', { data: { title: 'as bo' } }, { ...bearer(creds.ana), 'ablo-participant': 'user:bo' });
    return { status: res.status, error: res.body?.error ?? null, raw: JSON.stringify(res.body) };
  });
  add('/mcp', 'missing operation', { type: 'permission_error', code: 'operation_not_allowed' }, () => mcpCall(creds.anaRead, 'notes_update', { id: 'ana1', data: { title: 'x' } }));
  return out;
}

/** Writes the test makes on purpose (the fanout case). */
let intentionalWrites = 0;

describe('denial matrix', () => {
  test('every surface × every violation is denied with its typed error; nothing is written or leaked', async () => {
    const all = cases();
    const failures: string[] = [];
    let denied = 0;
    for (const c of all) {
      let seen: Seen;
      try {
        seen = await c.run();
      } catch (err) {
        failures.push(`${c.surface} × ${c.violation}: threw ${(err as Error).message}`);
        continue;
      }
      const label = `${c.surface} × ${c.violation}`;
      if (seen.raw.includes(MARKER)) failures.push(`${label}: LEAKED bo's data: ${seen.raw.slice(0, 300)}`);
      if (c.expect === 'filtered') {
        if (seen.error) failures.push(`${label}: expected a filtered answer, got ${JSON.stringify(seen.error)}`);
        else if (!seen.raw.includes(MARKER)) denied++;
        continue;
      }
      const want = c.expect;
      const ok = seen.error !== null && Object.entries(want).every(([k, v]) => (seen.error as Record<string, unknown>)[k] === v);
      if (ok) denied++;
      else failures.push(`${label}: expected ${JSON.stringify(want)}, got ${JSON.stringify(seen.error)} (status ${seen.status}) ${seen.raw.slice(0, 200)}`);
    }
    console.log(`denial matrix: ${all.length} cases, ${denied} denied, ${failures.length} not`);
    expect(failures).toEqual([]);
    expect(denied).toBe(all.length);

    // Nothing was written but the writes made on purpose; ana's and bo's rows are as they were (but for those).
    const changes = await t.http('GET', `/v1/changes?after=${seededHead}&limit=1000`);
    expect(changes.body.data).toHaveLength(intentionalWrites);
    const rows = (await t.http('GET', '/v1/models/notes')).body.data as Array<{ id: string; owner: string }>;
    expect(rows.map((r) => `${r.id}:${r.owner}`).sort()).toEqual(['ana1:ana', 'bo1:bo', 'bo2:bo']);
    expect(memoryClaims(t.engine).size).toBe(0);
  }, 120_000);
});
