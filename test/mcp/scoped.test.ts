/**
 * MCP with scoped credentials, against a real engine, driven by the SDK's
 * own client: `ablo mcp` (the built CLI over stdio) and the engine's `/mcp`
 * (Streamable HTTP), with session tokens (`ek_…`) and a secret key that
 * mints its own session for a participant. The credential decides which
 * tools are listed and which rows they reach; every denial of the matrix
 * (no credential, expired, revoked, wrong group, missing operation, tampered,
 * another engine's token) is refused with the typed error and writes nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { ablobin, runCli } from '../helpers/tempProject.js';
import { assertDistFresh } from '../setup/dist-stamp.mjs';
import { api, httpSession, inProcessSession, sleep, startTestEngine, structured, textOf, type McpSession, type TestEngine } from './helpers.js';
import { tamper } from '../helpers/tokens.js';

const schema = defineSchema({
  notes: model({ title: z.string(), owner: z.string() }, {}, { syncGroupFormat: 'user:{owner}' }),
});

const READ_TOOLS = ['notes_list', 'notes_get', 'ablo_schema', 'ablo_presence'];

let engine: TestEngine;
/** Another engine (its own signing keys): its tokens mean nothing to `engine`. */
let other: TestEngine;
let dir: string;
const open: McpSession[] = [];
/** Denials checked, printed at the end (the acceptance matrix's MCP rows). */
const denials: string[] = [];

beforeAll(async () => {
  [engine, other] = await Promise.all([startTestEngine({ schema }), startTestEngine({ schema })]);
  dir = mkdtempSync(join(tmpdir(), 'ablo-mcp-scoped-'));
  const seeded = await api(engine.url, engine.apiKey, 'POST', '/v1/commits', {
    operations: [
      { op: 'create', model: 'notes', id: 'ana1', data: { title: 'A1', owner: 'ana' } },
      { op: 'create', model: 'notes', id: 'ana2', data: { title: 'A2', owner: 'ana' } },
      { op: 'create', model: 'notes', id: 'bo1', data: { title: 'B1', owner: 'bo' } },
    ],
  });
  expect(seeded.status).toBe(200);
});

afterAll(async () => {
  for (const s of open) await s.close().catch(() => undefined);
  await Promise.all([engine?.stop(), other?.stop()]);
  rmSync(dir, { recursive: true, force: true });
  console.log(`MCP denial matrix: ${denials.length} cases denied (${[...new Set(denials)].join('; ')})`);
});

interface Minted {
  token: string;
  sessionId: string;
  expiresAt: string;
}

async function mint(on: TestEngine, body: Record<string, unknown> = {}): Promise<Minted> {
  const res = await api(on.url, on.apiKey, 'POST', '/v1/sessions', {
    participant: { kind: 'user', id: 'ana' },
    syncGroups: ['user:ana'],
    operations: ['read'],
    ...body,
  });
  expect(res.status).toBe(201);
  return res.body;
}


/** Tokens the engine refuses (expired, revoked, another engine's) and a good one to tamper with; waits until `expired` is. */
async function refusableTokens(): Promise<{ expired: Minted; revoked: Minted; good: Minted; foreign: Minted }> {
  const expired = await mint(engine, { ttlSeconds: 1 });
  const revoked = await mint(engine);
  await api(engine.url, engine.apiKey, 'DELETE', `/v1/sessions/${revoked.sessionId}`);
  const good = await mint(engine);
  const foreign = await mint(other);
  await sleep(Math.max(0, Date.parse(expired.expiresAt) - Date.now()) + 100);
  return { expired, revoked, good, foreign };
}

/** The engine's last sync id and rows: compared before and after a denial, nothing may change. */
async function state(): Promise<{ lastSyncId: number; rows: string }> {
  const changes = await api(engine.url, engine.apiKey, 'GET', '/v1/changes?after=0&limit=10000');
  const rows = await api(engine.url, engine.apiKey, 'GET', '/v1/models/notes?limit=1000');
  return { lastSyncId: changes.body.lastSyncId, rows: JSON.stringify(rows.body.data.map((r: any) => [r.id, r.title, r.owner])) };
}

/** `ablo mcp ...args` (no credential unless the args or env give one) with an SDK client on its stdio. */
async function stdio(args: string[], env: Record<string, string> = {}): Promise<McpSession> {
  assertDistFresh();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [ablobin, 'mcp', '--url', engine.url, ...args],
    cwd: dir,
    stderr: 'pipe',
    env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...env },
  });
  let err = '';
  transport.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const client = new Client({ name: 'ablo-test', version: '1.0.0' });
  await client.connect(transport);
  const s: McpSession = {
    client,
    stderr: () => err,
    transportErrors: [],
    call: async (name, a = {}) => (await client.callTool({ name, arguments: a })) as CallToolResult,
    close: () => client.close(),
  };
  open.push(s);
  return s;
}

async function http(token: string, headers: Record<string, string> = {}): Promise<McpSession> {
  const s = await httpSession(engine.url, token, headers);
  open.push(s);
  return s;
}

async function toolNames(s: McpSession): Promise<string[]> {
  return (await s.client.listTools()).tools.map((t) => t.name);
}

/** A tool call refused with the typed error: isError, `structuredContent.error` of this type and code, nothing written. */
async function expectDenied(label: string, s: McpSession, tool: string, args: Record<string, unknown>, type: string, code: string): Promise<CallToolResult> {
  const before = await state();
  const result = await s.call(tool, args);
  expect(result.isError, `${label}: ${textOf(result)}`).toBe(true);
  expect(structured(result).error, label).toMatchObject({ type, code });
  expect(await state(), `${label}: nothing written`).toEqual(before);
  denials.push(label);
  return result;
}

/** `POST /mcp` initialize with this bearer (or none): the HTTP answer. */
async function initialize(token: string | undefined, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${engine.url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // An event stream (a successful initialize).
  }
  return { status: res.status, body };
}

describe('ablo mcp (stdio) with a session token', () => {
  test('read-only for user:ana: only list/get/schema are listed, naming the groups; the list has only ana rows; bo1 is not found; create is operation_not_allowed', async () => {
    const { token } = await mint(engine);
    const s = await stdio(['--session-token', token]);
    expect(await toolNames(s)).toEqual(READ_TOOLS);
    const { tools } = await s.client.listTools();
    expect(tools.find((t) => t.name === 'notes_list')!.description).toContain('user:ana');
    expect(s.stderr()).toMatch(/session acting as user:ana; groups user:ana; may read/);

    const list = structured(await s.call('notes_list')).data;
    expect(list.map((r: any) => r.id)).toEqual(expect.arrayContaining(['ana1', 'ana2']));
    expect(list.filter((r: any) => r.owner !== 'ana')).toEqual([]);
    expect((await s.call('notes_get', { id: 'ana1' })).structuredContent).toMatchObject({ row: { id: 'ana1', title: 'A1' } });

    await expectDenied('stdio: wrong group (get)', s, 'notes_get', { id: 'bo1' }, 'not_found', 'row_not_found');
    const refused = await expectDenied('stdio: missing operation (create tool)', s, 'notes_create', { data: { title: 'x', owner: 'ana' } }, 'permission_error', 'operation_not_allowed');
    expect(structured(refused).error).toMatchObject({ operation: 'create', allowed: ['read'] });
    await expectDenied('stdio: missing operation (commit tool)', s, 'ablo_commit', { operations: [{ op: 'create', model: 'notes', data: { title: 'x', owner: 'ana' } }] }, 'permission_error', 'operation_not_allowed');
    await expectDenied('stdio: missing operation (claim tool)', s, 'notes_claim', { id: 'ana1' }, 'permission_error', 'operation_not_allowed');
  });

  test('ABLO_SESSION_TOKEN works like --session-token; read+create offers create and commit but not update, delete or claim', async () => {
    const { token } = await mint(engine, { operations: ['read', 'create'] });
    const s = await stdio([], { ABLO_SESSION_TOKEN: token });
    expect(await toolNames(s)).toEqual(['notes_list', 'notes_get', 'notes_create', 'ablo_schema', 'ablo_commit', 'ablo_presence']);
    const { tools } = await s.client.listTools();
    expect(tools.find((t) => t.name === 'ablo_commit')!.description).toContain('Operations this credential may use: create.');

    const created = await s.call('notes_create', { id: 'ana-c1', data: { title: 'mine', owner: 'ana' } });
    expect(created.isError, textOf(created)).toBeFalsy();
    const changes = await api(engine.url, engine.apiKey, 'GET', '/v1/changes?after=0&limit=10000');
    expect(changes.body.data.find((c: any) => c.id === 'ana-c1').participant).toEqual({ kind: 'user', id: 'ana' });

    await expectDenied('stdio: wrong group (create in another group)', s, 'notes_create', { data: { title: 'x', owner: 'bo' } }, 'permission_error', 'group_not_allowed');
    const upd = await expectDenied('stdio: missing operation (update in a commit)', s, 'ablo_commit', { operations: [{ op: 'update', model: 'notes', id: 'ana1', data: { title: 'x' } }] }, 'permission_error', 'operation_not_allowed');
    expect(structured(upd).error.operation).toBe('update');
    await expectDenied('stdio: missing operation (update tool)', s, 'notes_update', { id: 'ana1', data: { title: 'x' } }, 'permission_error', 'operation_not_allowed');
  });

  test('read+write for user:ana: a row cannot be moved out of the groups, nor another group be written', async () => {
    const { token } = await mint(engine, { operations: ['read', 'write'] });
    const s = await stdio(['--session-token', token]);
    await expectDenied('stdio: moving a row out of the groups', s, 'notes_update', { id: 'ana2', data: { owner: 'bo' } }, 'permission_error', 'group_not_allowed');
    await expectDenied('stdio: wrong group (update)', s, 'notes_update', { id: 'bo1', data: { title: 'x' } }, 'not_found', 'row_not_found');
    await expectDenied('stdio: wrong group (delete)', s, 'notes_delete', { id: 'bo1' }, 'not_found', 'row_not_found');
  });

  test('a token that expires or is revoked while the server runs: tool calls are typed authentication errors saying what to do, nothing is written', async () => {
    const short = await mint(engine, { operations: ['read', 'write'], ttlSeconds: 2 });
    const expiring = await stdio(['--session-token', short.token]);
    expect(await toolNames(expiring)).toContain('notes_create');
    await sleep(Math.max(0, Date.parse(short.expiresAt) - Date.now()) + 100);
    const expired = await expectDenied('stdio: expired token (mid-session)', expiring, 'notes_create', { data: { title: 'late', owner: 'ana' } }, 'authentication_error', 'token_expired');
    expect(textOf(expired)).toMatch(/expired.*Nothing was written.*--session-token/s);

    const revokedToken = await mint(engine, { operations: ['read', 'write'] });
    const revoked = await stdio(['--session-token', revokedToken.token]);
    expect((await api(engine.url, engine.apiKey, 'DELETE', `/v1/sessions/${revokedToken.sessionId}`)).status).toBe(200);
    const r = await expectDenied('stdio: revoked token (mid-session)', revoked, 'notes_create', { data: { title: 'late', owner: 'ana' } }, 'authentication_error', 'revoked_token');
    expect(textOf(r)).toMatch(/revoked.*Nothing was written/s);
    await expectDenied('stdio: revoked token (read)', revoked, 'notes_list', {}, 'authentication_error', 'revoked_token');
  });

  test('a credential the engine refuses at start: one line on stderr, exit 1, nothing written (no credential, expired, revoked, tampered, another engine)', async () => {
    const { expired, revoked, good, foreign } = await refusableTokens();
    const cases: Array<[string, string[], RegExp]> = [
      ['no credential', [], /no API key/],
      ['expired token', ['--session-token', expired.token], /refused the session token from --session-token: .*expired/],
      ['revoked token', ['--session-token', revoked.token], /refused the session token .*revoked/],
      ['tampered token', ['--session-token', tamper(good.token)], /refused the session token/],
      ["another engine's token", ['--session-token', foreign.token], /refused the session token/],
      ['unknown secret key', ['--api-key', `sk_test_${'x'.repeat(32)}`], /refused the API key/],
    ];
    for (const [label, args, message] of cases) {
      const before = await state();
      const run = await runCli(['mcp', '--url', engine.url, ...args], dir, { env: { ABLO_API_KEY: '', ABLO_SESSION_TOKEN: '' } });
      expect(run.code, `${label}: ${run.stderr}`).toBe(1);
      expect(run.stdout, label).toBe('');
      expect(run.stderr.trim().split('\n'), label).toHaveLength(1);
      expect(run.stderr, label).toMatch(message);
      expect(await state(), `${label}: nothing written`).toEqual(before);
      denials.push(`stdio start: ${label}`);
    }
    // A session token cannot name another participant (it acts as its own): a usage error.
    const named = await runCli(['mcp', '--url', engine.url, '--session-token', good.token, '--participant', 'agent:claude'], dir, { env: { ABLO_API_KEY: '' } });
    expect(named.code).toBe(2);
    expect(named.stderr).toMatch(/--participant: .*secret key/);
  });
});

describe('ablo mcp --participant with a secret key', () => {
  test('mints its own scoped session: tools and rows follow --ops/--groups, writes carry the participant, the session is refreshed before it expires', async () => {
    const s = await stdio(['--api-key', engine.apiKey, '--participant', 'agent:claude', '--ops', 'read,create,update', '--groups', 'user:ana', '--session-ttl', '2']);
    expect(await toolNames(s)).toEqual(['notes_list', 'notes_get', 'notes_create', 'notes_update', 'ablo_schema', 'ablo_commit', 'ablo_presence']);
    expect(s.stderr()).toMatch(/acting as agent:claude with session ses_/);
    expect(structured(await s.call('notes_list')).data.map((r: any) => r.id)).not.toContain('bo1');
    await expectDenied('stdio self-minted: wrong group', s, 'notes_get', { id: 'bo1' }, 'not_found', 'row_not_found');

    const first = await s.call('notes_create', { id: 'claude-1', data: { title: 'by claude', owner: 'ana' } });
    expect(first.isError, textOf(first)).toBeFalsy();
    // Past the first session's lifetime: it was replaced at 80% (1.6 s), so calls go on.
    await sleep(2600);
    expect(s.stderr()).toMatch(/refreshed the session of agent:claude/);
    const second = await s.call('notes_update', { id: 'claude-1', data: { title: 'still claude' } });
    expect(second.isError, textOf(second)).toBeFalsy();

    const changes = (await api(engine.url, engine.apiKey, 'GET', '/v1/changes?after=0&limit=10000')).body.data.filter((c: any) => c.id === 'claude-1');
    expect(changes.map((c: any) => c.action)).toEqual(['create', 'update']);
    for (const c of changes) expect(c.participant).toEqual({ kind: 'agent', id: 'claude' });
  });

  test('a call refused with token_expired refreshes the session and is sent once more', async () => {
    // The engine is asked for 2-second sessions while the server plans for 60: no early refresh, so the token expires under it.
    const tokens: string[] = [];
    const shortSessions: typeof fetch = async (input, init) => {
      const body = init?.body;
      const minting = String(input).endsWith('/v1/sessions') && init?.method === 'POST' && typeof body === 'string';
      if (minting) init = { ...init, body: JSON.stringify({ ...JSON.parse(body), ttlSeconds: 2 }) };
      const res = await fetch(input, init);
      if (minting && res.ok) tokens.push((await res.clone().json()).token);
      return res;
    };
    const s = await inProcessSession({ engineUrl: engine.url, apiKey: engine.apiKey, participant: 'agent:retry', session: { ttlSeconds: 60, groups: ['user:ana'] }, fetch: shortSessions });
    open.push(s);
    expect(s.mcp.session()!.minted).toBe(1);
    await sleep(Math.max(0, Date.parse(s.mcp.session()!.expiresAt) - Date.now()) + 100);
    const created = await s.call('notes_create', { id: 'retry-1', data: { title: 'after expiry', owner: 'ana' } });
    expect(created.isError, textOf(created)).toBeFalsy();
    expect(s.mcp.session()!.minted).toBe(2);
    const change = (await api(engine.url, engine.apiKey, 'GET', '/v1/changes?after=0&limit=10000')).body.data.find((c: any) => c.id === 'retry-1');
    expect(change.participant).toEqual({ kind: 'agent', id: 'retry' });

    // Closing revokes the session it holds.
    expect(tokens).toHaveLength(2);
    expect((await api(engine.url, tokens[1]!, 'GET', '/v1/me')).status).toBe(200);
    await s.close();
    const after = await api(engine.url, tokens[1]!, 'GET', '/v1/me');
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('revoked_token');
  });

  test('bad session flags are usage errors (exit 2) naming the way out: an unknown operation, --ops/--groups without --participant, a TTL out of range', async () => {
    for (const [args, message] of [
      [['--participant', 'agent:x', '--ops', 'read,admin'], /--ops: unknown operation "admin".*read, create, update, delete, write, claim, presence/s],
      [['--groups', 'user:ana'], /pass --participant too/],
      [['--participant', 'agent:x', '--session-ttl', '0'], /--session-ttl must be a whole number of seconds from 1 to 86400/],
    ] as Array<[string[], RegExp]>) {
      const run = await runCli(['mcp', '--url', engine.url, '--api-key', engine.apiKey, ...args], dir);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(message);
    }
  });

  test('without --participant a secret key behaves as before: every tool, agent:mcp', async () => {
    const s = await stdio(['--api-key', engine.apiKey]);
    expect((await toolNames(s)).length).toBe(10);
    expect(s.stderr()).toMatch(/secret key acting as agent:mcp/);
  });
});

describe('/mcp (HTTP) with a session token', () => {
  test('lists only what the token allows; reads are scoped; a missing operation and another group are typed errors', async () => {
    const { token } = await mint(engine);
    const s = await http(token);
    expect(await toolNames(s)).toEqual(READ_TOOLS);
    const rows = structured(await s.call('notes_list')).data;
    expect(rows.map((r: any) => r.id)).toEqual(expect.arrayContaining(['ana1', 'ana2']));
    expect(rows.filter((r: any) => r.owner !== 'ana')).toEqual([]);
    await expectDenied('/mcp: wrong group (get)', s, 'notes_get', { id: 'bo1' }, 'not_found', 'row_not_found');
    await expectDenied('/mcp: missing operation (create tool)', s, 'notes_create', { data: { title: 'x', owner: 'ana' } }, 'permission_error', 'operation_not_allowed');

    const writer = await mint(engine, { operations: ['read', 'create'] });
    const w = await http(writer.token);
    const created = await w.call('notes_create', { id: 'http-ana', data: { title: 'over http', owner: 'ana' } });
    expect(created.isError, textOf(created)).toBeFalsy();
    const change = (await api(engine.url, engine.apiKey, 'GET', '/v1/changes?after=0&limit=10000')).body.data.find((c: any) => c.id === 'http-ana');
    expect(change.participant).toEqual({ kind: 'user', id: 'ana' });
    await expectDenied('/mcp: wrong group (create)', w, 'notes_create', { data: { title: 'x', owner: 'bo' } }, 'permission_error', 'group_not_allowed');
    await expectDenied('/mcp: missing operation (update in a commit)', w, 'ablo_commit', { operations: [{ op: 'delete', model: 'notes', id: 'ana1' }] }, 'permission_error', 'operation_not_allowed');
  });

  test('refused credentials get 401 with the typed envelope and open no session; a session whose token is revoked or expires is refused on its next request', async () => {
    const { expired, revoked, good, foreign } = await refusableTokens();
    const cases: Array<[string, string | undefined, string]> = [
      ['no credential', undefined, 'missing_api_key'],
      ['expired token', expired.token, 'token_expired'],
      ['revoked token', revoked.token, 'revoked_token'],
      ['tampered token', tamper(good.token), 'unauthorized'],
      ["another engine's token", foreign.token, 'unauthorized'],
    ];
    for (const [label, token, code] of cases) {
      const before = await state();
      const res = await initialize(token);
      expect(res.status, label).toBe(401);
      expect(res.body.error, label).toMatchObject({ type: 'authentication_error', code });
      expect(await state(), label).toEqual(before);
      denials.push(`/mcp: ${label}`);
    }
    // A session token names no other participant.
    const other_ = await initialize(good.token, { 'ablo-participant': 'agent:someone' });
    expect(other_.status).toBe(403);
    expect(other_.body.error).toMatchObject({ type: 'permission_error', code: 'participant_not_allowed' });
    denials.push('/mcp: another participant');

    // Revoked while the session is open: its next request is refused (and the session ends).
    const live = await mint(engine, { operations: ['read', 'write'] });
    const s = await http(live.token);
    expect(await toolNames(s)).toContain('notes_create');
    await api(engine.url, engine.apiKey, 'DELETE', `/v1/sessions/${live.sessionId}`);
    const before = await state();
    await expect(s.call('notes_create', { data: { title: 'late', owner: 'ana' } })).rejects.toThrow(/401|revoked/i);
    expect(await state()).toEqual(before);
    denials.push('/mcp: revoked token (mid-session)');

    // Expired while the session is open.
    const brief = await mint(engine, { operations: ['read', 'write'], ttlSeconds: 2 });
    const e = await http(brief.token);
    await sleep(Math.max(0, Date.parse(brief.expiresAt) - Date.now()) + 100);
    const beforeExpired = await state();
    await expect(e.call('notes_create', { data: { title: 'late', owner: 'ana' } })).rejects.toThrow(/401|expired/i);
    expect(await state()).toEqual(beforeExpired);
    denials.push('/mcp: expired token (mid-session)');
  });
});
