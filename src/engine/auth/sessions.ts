/**
 * Session tokens `ek_…` (SPEC §8, docs/auth.md): minted by a secret key with
 * `POST /v1/sessions`, each one participant, some sync groups, some
 * operations, until it expires.
 *
 * A token is `ek_<payload>.<signature>`: the payload is base64url JSON
 * `{ v, k, s, p, g, o, e }` (version, signing key id, session id, participant
 * `[kind, id]`, groups, operations, expiry in epoch seconds) and the signature
 * HMAC-SHA256 over `ek_<payload>` with the signing key `k`. Verifying needs no
 * storage read: the signing keys are loaded once (and again when a token names
 * a key id this process has not seen, at most every 500 ms).
 *
 * Signing keys are 32 random bytes in the storage's engine records
 * (`session_signing_key:<nnnn>`), so every engine process on one database signs
 * and verifies alike. Rotation (`rotate()`) adds the next key id; the newest
 * key signs, the newest two verify.
 *
 * Revocations (`DELETE /v1/sessions/:id`) are engine records too
 * (`session_revoked:<id>` → the latest time the session could expire), written
 * as revocations (`ensureMeta(…, { revocation: true })`: the other processes
 * get a hint and their write path sees it, ./revocations.ts). This process
 * hears at once (`onRevoked`: the guard, its sockets and claims); the others
 * when the engine's revocation watcher reads the records (`refreshRevoked`,
 * at once on the hint, at most every 500 ms otherwise), which tells their
 * listeners of every session newly seen revoked. Per request, the cache is
 * read again when it is older than 500 ms.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AbloAuthenticationError, AbloNotFoundError, abloError } from '../../errors.js';
import { ulid } from '../../protocol/ids.js';
import { SESSION_TTL_DEFAULT_SECONDS, SESSION_TTL_MAX_SECONDS, type CreateSessionBody } from '../../protocol/sessions.js';
import { KeyRevocations } from '../apiKeys.js';
import { SerialLoad } from './revocations.js';
import { resolveSyncGroups, type IdentityRoles } from '../../schema/identityRoles.js';
import type { Storage } from '../storage/types.js';
import { expandOperations, OPERATIONS, type Authenticator, type CredentialRevoked, type Operation, type Principal } from './principal.js';

const KEY_PREFIX = 'session_signing_key:';
const REVOKED_PREFIX = 'session_revoked:';
/** How stale this process's view of the signing keys and revocations may be. */
export const SESSION_REFRESH_MS = 500;
const ULID_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const SESSION_ID = /^ses_[0-9A-HJKMNP-TV-Z]{26}$/;

interface SigningKey {
  id: string;
  secret: Buffer;
}

interface TokenPayload {
  v: 1;
  k: string;
  s: string;
  p: [kind: 'user' | 'agent', id: string];
  g: string[];
  o: (Operation | 'write')[];
  e: number;
}

export interface MintedSession {
  token: string;
  sessionId: string;
  expiresAt: string;
}

const b64 = (buf: Buffer | string): string => Buffer.from(buf).toString('base64url');

function invalid(): AbloAuthenticationError {
  return abloError('unauthorized');
}

/** The mint time a session id carries (its ULID's time part), in ms. */
function mintedAt(sessionId: string): number {
  let t = 0;
  for (const c of sessionId.slice(4, 14)) t = t * 32 + ULID_ALPHABET.indexOf(c);
  return t;
}

/** Parse the payload of a token's first part, or null when it is not one. */
function decodePayload(part: string): TokenPayload | null {
  try {
    const p = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as TokenPayload;
    const ok =
      p.v === 1 &&
      typeof p.k === 'string' &&
      typeof p.s === 'string' &&
      Array.isArray(p.p) &&
      (p.p[0] === 'user' || p.p[0] === 'agent') &&
      typeof p.p[1] === 'string' &&
      Array.isArray(p.g) &&
      p.g.every((g) => typeof g === 'string') &&
      Array.isArray(p.o) &&
      // `write` is how tokens minted before create/update/delete were split said all three.
      p.o.every((o) => o === 'write' || (OPERATIONS as readonly string[]).includes(o)) &&
      typeof p.e === 'number';
    return ok ? p : null;
  } catch {
    return null;
  }
}

/** Session tokens, and every other credential through `fallback` (API keys). */
export class SessionAuthenticator implements Authenticator {
  private keys: SigningKey[] = [];
  private keysLoadedAt = -Infinity;
  private readonly revoked = new Map<string, number>();
  private revokedLoadedAt = -Infinity;
  private readonly revokedLoads = new SerialLoad(() => this.loadRevoked());
  private readonly revocations = new KeyRevocations();

  constructor(
    private readonly storage: Storage,
    private readonly fallback: Authenticator,
    private readonly now: () => number = Date.now,
  ) {}

  /** Load the signing keys, making the first one when the database has none (every process converges on one). */
  async open(): Promise<void> {
    await this.storage.ensureMeta(`${KEY_PREFIX}0001`, b64(randomBytes(32)));
    await this.loadKeys();
    await this.refreshRevoked();
  }

  /** Add the next signing key: it signs from now on; tokens of the one before it still verify. Answers its id. */
  async rotate(): Promise<string> {
    await this.loadKeys();
    const next = String(Number(this.keys.at(-1)?.id ?? '0') + 1).padStart(4, '0');
    await this.storage.ensureMeta(`${KEY_PREFIX}${next}`, b64(randomBytes(32)));
    await this.loadKeys();
    return next;
  }

  private async loadKeys(): Promise<void> {
    const rows = await this.storage.listMeta(KEY_PREFIX);
    this.keys = rows.map((r) => ({ id: r.key.slice(KEY_PREFIX.length), secret: Buffer.from(r.value, 'base64url') }));
    this.keysLoadedAt = this.now();
  }

  /** The newest two keys verify. */
  private verifyingKey(id: string): SigningKey | undefined {
    return this.keys.slice(-2).find((k) => k.id === id);
  }

  /**
   * Mint a token for `body`. Its groups are `body.syncGroups` with each
   * `@role` expanded from `identityRoles` for the participant, or, when it has
   * none, every identity role expanded (../../schema/identityRoles.ts).
   */
  mint(body: CreateSessionBody, identityRoles?: IdentityRoles): MintedSession {
    const key = this.keys.at(-1);
    if (!key) throw new Error('SessionAuthenticator.open() was not called');
    const groups = resolveSyncGroups(body.syncGroups, identityRoles, body.participant);
    const ttl = body.ttlSeconds ?? SESSION_TTL_DEFAULT_SECONDS;
    const sessionId = `ses_${ulid(this.now())}`;
    const e = Math.floor(this.now() / 1000) + ttl;
    const payload: TokenPayload = { v: 1, k: key.id, s: sessionId, p: [body.participant.kind, body.participant.id], g: groups, o: expandOperations(body.operations), e };
    const head = `ek_${b64(JSON.stringify(payload))}`;
    const sig = createHmac('sha256', key.secret).update(head).digest('base64url');
    return { token: `${head}.${sig}`, sessionId, expiresAt: new Date(e * 1000).toISOString() };
  }

  async authenticate(credential: string | undefined): Promise<Principal> {
    if (!credential?.startsWith('ek_')) return this.fallback.authenticate(credential);
    const principal = await this.verify(credential);
    if (await this.isRevoked(principal.credentialId)) throw revokedSessionError();
    return principal;
  }

  /** The token's principal when its signature is good and it has not expired; no storage read unless the key id is new here. */
  private async verify(token: string): Promise<Principal> {
    const dot = token.lastIndexOf('.');
    if (dot < 0) throw invalid();
    const head = token.slice(0, dot);
    const payload = decodePayload(head.slice(3));
    if (!payload) throw invalid();
    let key = this.verifyingKey(payload.k);
    if (!key && this.now() - this.keysLoadedAt >= SESSION_REFRESH_MS) {
      await this.loadKeys();
      key = this.verifyingKey(payload.k);
    }
    if (!key) throw invalid();
    const expected = createHmac('sha256', key.secret).update(head).digest();
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
    const expiresAt = new Date(payload.e * 1000).toISOString();
    if (payload.e * 1000 <= this.now()) {
      throw new AbloAuthenticationError(`This session token expired at ${expiresAt}. Get a new one and reconnect.`, { code: 'token_expired', expiresAt });
    }
    return {
      kind: 'session',
      participant: { kind: payload.p[0], id: payload.p[1] },
      groups: payload.g,
      operations: expandOperations(payload.o),
      expiresAt,
      credentialId: payload.s,
    };
  }

  private async isRevoked(sessionId: string): Promise<boolean> {
    if (this.now() - this.revokedLoadedAt >= SESSION_REFRESH_MS) await this.revokedLoads.recent();
    return this.revoked.has(sessionId);
  }

  /**
   * Read the revocation records (a read that starts after this call) and tell the listeners of every session
   * newly seen revoked: revoked in another process (its sockets close, its queued commits are refused).
   */
  refreshRevoked(): Promise<void> {
    return this.revokedLoads.fresh();
  }

  private async loadRevoked(): Promise<void> {
    const rows = await this.storage.listMeta(REVOKED_PREFIX);
    const now = this.now();
    const fresh: string[] = [];
    for (const r of rows) {
      const id = r.key.slice(REVOKED_PREFIX.length);
      const until = Date.parse(r.value);
      // Past the latest expiry the token is refused as expired anyway.
      if (until <= now) {
        this.revoked.delete(id);
        continue;
      }
      if (!this.revoked.has(id)) fresh.push(id);
      this.revoked.set(id, until);
    }
    this.revokedLoadedAt = this.now();
    for (const id of fresh) this.revocations.notify({ credentialId: id, error: revokedSessionError() });
  }

  /**
   * Revoke session `sessionId` (in every process within 500 ms; in this one at
   * once). Kept until the latest time it could expire (mint time + the largest
   * TTL). 404 `session_not_found` when the id is not a session id.
   */
  async revoke(sessionId: string): Promise<{ sessionId: string; expiresAt: string }> {
    if (!SESSION_ID.test(sessionId)) {
      throw new AbloNotFoundError(`No session with id "${sessionId}".`, { code: 'session_not_found', id: sessionId });
    }
    const until = new Date(mintedAt(sessionId) + SESSION_TTL_MAX_SECONDS * 1000).toISOString();
    await this.storage.ensureMeta(`${REVOKED_PREFIX}${sessionId}`, until, { revocation: true });
    this.revoked.set(sessionId, Date.parse(until));
    this.revocations.notify({ credentialId: sessionId, error: revokedSessionError() });
    return { sessionId, expiresAt: until };
  }

  onRevoked(listener: (event: CredentialRevoked) => void): () => void {
    const offOwn = this.revocations.subscribe(listener);
    const offFallback = this.fallback.onRevoked(listener);
    return () => {
      offOwn();
      offFallback();
    };
  }
}

function revokedSessionError(): AbloAuthenticationError {
  return new AbloAuthenticationError('This session token was revoked. Ask the app for a new one.', { code: 'revoked_token' });
}
