/**
 * The credential an MCP session runs with, and what it lets the session do.
 *
 * At start the session asks the engine who it is (`GET /v1/me`): the
 * credential's kind, participant, sync groups and operations decide which
 * tools are offered (../server.ts) and who the writes are attributed to.
 *
 * - A secret key acts as the participant it is given (`Ablo-Participant`,
 *   default `agent:mcp`), as before — or, asked to (`session`), mints a
 *   session token for that participant (`POST /v1/sessions`), uses it for
 *   every call, and mints the next one at 80% of its lifetime, so the agent
 *   is attributed and scoped like any session.
 * - A restricted key or a session token acts as its own participant; naming
 *   another one is refused here, at start, as the engine would refuse it.
 */
import { EngineApiClient } from '../src/client/engineApi.js';
import { AbloError, AbloPermissionError, AbloValidationError } from '../src/errors.js';
import type { ParticipantRef } from '../src/protocol/commit.js';
import type { Operation, PrincipalObject } from '../src/protocol/operations.js';
import { SESSION_TTL_DEFAULT_SECONDS, type SessionOperation } from '../src/protocol/sessions.js';
import { EngineApi } from './engineApi.js';

/** What a self-minted session may do (defaults: read, write, claim; every group the key may: `*`; 15 minutes). */
export interface McpSessionOptions {
  operations?: readonly SessionOperation[];
  groups?: readonly string[];
  ttlSeconds?: number;
}

export const DEFAULT_SESSION_OPERATIONS: readonly SessionOperation[] = ['read', 'write', 'claim'];
export const DEFAULT_SESSION_GROUPS: readonly string[] = ['*'];
/** A self-minted session is replaced after this share of its lifetime. */
export const REFRESH_AT = 0.8;

export interface OpenCredentialOptions {
  engineUrl: string;
  apiKey: string;
  /** Who acts: with a secret key, whom to act as (or to mint the session for). */
  participant?: ParticipantRef;
  /** Mint a session for `participant` with the (secret) key and use it. */
  session?: McpSessionOptions;
  fetch?: typeof fetch;
  log: (line: string) => void;
}

export interface McpCredential {
  api: EngineApi;
  /** The credential in use as the engine sees it; null for an engine without `GET /v1/me` (every tool is offered). */
  principal: PrincipalObject | null;
  /** Who the session's writes are attributed to. */
  participant: ParticipantRef;
  /** The self-minted session, when there is one. */
  minted: MintedSession | null;
  /** Stop refreshing (and revoke a self-minted session). */
  close(): Promise<void>;
}

const same = (a: ParticipantRef, b: ParticipantRef): boolean => a.kind === b.kind && a.id === b.id;
const named = (p: ParticipantRef): string => `${p.kind}:${p.id}`;

/** `GET /v1/me`, or null when the engine predates it (404 `route_not_found`). */
async function whoAmI(api: EngineApi): Promise<PrincipalObject | null> {
  try {
    return await api.me();
  } catch (err) {
    if (err instanceof AbloError && err.code === 'route_not_found') return null;
    throw err;
  }
}

/**
 * The session's credential: asks `GET /v1/me` (an invalid, expired or
 * revoked credential fails here with the engine's authentication error),
 * mints a session when asked to, and checks a named participant.
 */
export async function openCredential(options: OpenCredentialOptions): Promise<McpCredential> {
  const { engineUrl, apiKey, log } = options;
  const base = { url: engineUrl, ...(options.fetch ? { fetch: options.fetch } : {}) };
  const probe = new EngineApi({ ...base, apiKey });
  const me = await whoAmI(probe);

  if (options.session) {
    const participant = options.participant ?? { kind: 'agent', id: 'mcp' };
    if (me && me.kind !== 'secret') {
      throw new AbloPermissionError(
        `Minting a session for ${named(participant)} takes a secret key (sk_…); this credential is ${me.kind === 'session' ? 'a session token' : `a ${me.kind} credential`} acting as ${named(me.participant)}. ` +
          `Leave the participant out (it acts as ${named(me.participant)}), or use a secret key.`,
        { code: 'secret_key_required', credentialKind: me.kind },
      );
    }
    const minted = new MintedSession({ ...base, secretKey: apiKey, participant, session: options.session, log });
    const api = await minted.start();
    const principal = await api.me();
    return { api, principal, participant, minted, close: () => minted.close() };
  }

  if (me && me.kind !== 'secret') {
    // Restricted keys and session tokens act as their own participant.
    if (options.participant && !same(options.participant, me.participant)) {
      throw new AbloPermissionError(
        `This credential acts as ${named(me.participant)}; it may not act as ${named(options.participant)}. Leave the participant out.`,
        { code: 'participant_not_allowed', participant: me.participant },
      );
    }
    return { api: probe, principal: me, participant: me.participant, minted: null, close: async () => {} };
  }
  const participant = options.participant ?? { kind: 'agent', id: 'mcp' };
  return { api: new EngineApi({ ...base, apiKey, participant }), principal: me, participant, minted: null, close: async () => {} };
}

/**
 * A session token this MCP server minted for itself with a secret key, kept
 * fresh: the next one is minted at `REFRESH_AT` of the lifetime (and at once
 * when a call is refused with `token_expired`); the old one simply expires,
 * so calls in flight with it finish. Closing revokes the current one.
 */
export class MintedSession {
  private readonly secret: EngineApiClient;
  private api: EngineApi | null = null;
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  private closed = false;
  /** The current session's id and expiry. */
  sessionId = '';
  expiresAt = '';
  /** How many sessions were minted (1 + refreshes). */
  minted = 0;

  constructor(
    private readonly options: {
      url: string;
      fetch?: typeof fetch;
      secretKey: string;
      participant: ParticipantRef;
      session: McpSessionOptions;
      log: (line: string) => void;
    },
  ) {
    this.secret = new EngineApiClient({
      baseURL: options.url.split(','),
      apiKey: options.secretKey,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      timeoutMs: 10_000,
    });
  }

  private get ttlSeconds(): number {
    return this.options.session.ttlSeconds ?? SESSION_TTL_DEFAULT_SECONDS;
  }

  private async mint(): Promise<string> {
    const { participant, session } = this.options;
    if (participant.kind === 'system') {
      throw new AbloValidationError(`Sessions are for users and agents; ${named(participant)} cannot have one. Name a user:… or agent:… participant.`, {
        code: 'invalid_participant',
        field: 'participant',
      });
    }
    const s = await this.secret.createSession({
      participant: { kind: participant.kind, id: participant.id },
      syncGroups: [...(session.groups ?? DEFAULT_SESSION_GROUPS)],
      operations: [...(session.operations ?? DEFAULT_SESSION_OPERATIONS)],
      ttlSeconds: this.ttlSeconds,
    });
    this.sessionId = s.sessionId;
    this.expiresAt = s.expiresAt;
    this.minted++;
    this.schedule(this.ttlSeconds * 1000 * REFRESH_AT);
    return s.token;
  }

  /** Mint the first session; the API client that uses it (and refreshes on `token_expired`). */
  async start(): Promise<EngineApi> {
    const token = await this.mint();
    const api = new EngineApi({ url: this.options.url, apiKey: token, ...(this.options.fetch ? { fetch: this.options.fetch } : {}) });
    api.refreshOnExpiry(() => this.refresh());
    this.api = api;
    this.options.log(`acting as ${named(this.options.participant)} with session ${this.sessionId} (expires ${this.expiresAt}; refreshed at ${Math.round(REFRESH_AT * 100)}% of its lifetime)`);
    return api;
  }

  /** Mint the next session now and use it (concurrent callers share one refresh). */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const token = await this.mint();
        this.api?.useCredential(token);
        this.options.log(`refreshed the session of ${named(this.options.participant)}: now ${this.sessionId} (expires ${this.expiresAt})`);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.refresh().catch((err: unknown) => {
        // Try again soon; a call refused meanwhile with token_expired tries too.
        this.options.log(`refreshing the session of ${named(this.options.participant)} failed: ${(err as Error)?.message ?? String(err)}`);
        this.schedule(Math.min(5000, Math.max(250, this.ttlSeconds * 100)));
      });
    }, Math.max(100, ms));
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.refreshing?.catch(() => undefined);
    if (this.sessionId) await this.secret.revokeSession(this.sessionId).catch(() => undefined);
  }
}

/** The operations a principal lacks for a tool that needs any one of `needs`; null when it may use it. */
export function missingOperation(principal: PrincipalObject | null, needs: readonly Operation[]): Operation | null {
  if (!principal || needs.length === 0) return null;
  return needs.some((op) => principal.operations.includes(op)) ? null : needs[0]!;
}

/** What tool descriptions add for a scoped credential: who acts and which sync groups it sees. */
export function scopeNote(principal: PrincipalObject | null): string {
  if (!principal || principal.groups === 'all') return '';
  const groups = principal.groups.length ? principal.groups.join(', ') : 'none';
  return ` This session acts as ${named(principal.participant)} and sees only rows in sync groups ${groups}; other rows are not found, and writes must keep rows inside these groups.`;
}
