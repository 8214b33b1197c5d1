/**
 * API keys: secret keys `sk_test_…` / `sk_live_…` and restricted keys
 * `rk_test_…` / `rk_live_…`, 32 random base62 characters after the prefix.
 * Only the sha256 of a key is stored (with a restricted key's sync groups
 * and operations); the key itself is shown once.
 *
 * `ApiKeyAuthenticator` is the engine's default `Authenticator`: a secret key
 * is a principal with every sync group and every operation, no expiry, acting
 * as the key's participant (or on behalf of any participant it names); a restricted key
 * has only its stored groups and operations and acts as its own participant.
 */
import { createHash, randomBytes } from 'node:crypto';
import { AbloAuthenticationError, abloError } from '../errors.js';
import type { ParticipantRef } from '../protocol/commit.js';
import { ulid } from '../protocol/ids.js';
import { expandOperations, OPERATIONS, type Authenticator, type CredentialRevoked, type OperationInput, type Principal } from './auth/principal.js';
import type { ApiKeyRecord, Storage } from './storage/types.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KEY_SHAPE = /^(sk|rk)_(test|live)_[0-9A-Za-z]{32}$/;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new key: `sk_…` (secret) or, with `kind: 'restricted'`, `rk_…`. */
export function generateApiKey(mode: 'test' | 'live' = 'test', kind: 'secret' | 'restricted' = 'secret'): string {
  let body = '';
  while (body.length < 32) {
    for (const byte of randomBytes(48)) {
      // 248 = 4 * 62: reject the tail to keep every character equally likely.
      if (byte < 248 && body.length < 32) body += BASE62[byte % 62];
    }
  }
  return `${kind === 'restricted' ? 'rk' : 'sk'}_${mode}_${body}`;
}

export function isApiKeyShape(key: string): boolean {
  return KEY_SHAPE.test(key);
}

export interface CreatedApiKey {
  /** The key itself; returned once, never stored. */
  key: string;
  record: ApiKeyRecord;
}

/** What a restricted key may do: sync group patterns and operations (`write` stands for create, update, delete). */
export interface RestrictedScope {
  groups: readonly string[];
  operations: readonly OperationInput[];
}

/**
 * Create a key and store its hash. With `restricted`, an `rk_…` key limited
 * to those groups and operations (stored with `write` expanded); otherwise an
 * `sk_…` secret key. A given `key` must match the kind.
 */
export async function createApiKey(
  storage: Storage,
  options: { id?: string; name?: string; mode?: 'test' | 'live'; key?: string; participant?: ParticipantRef; restricted?: RestrictedScope } = {},
): Promise<CreatedApiKey> {
  const kind = options.restricted ? 'restricted' : 'secret';
  const key = options.key ?? generateApiKey(options.mode ?? 'test', kind);
  if (!isApiKeyShape(key) || key.startsWith('rk_') !== (kind === 'restricted')) {
    throw abloError('malformed_api_key');
  }
  const id = options.id ?? `key_${ulid()}`;
  const record: ApiKeyRecord = {
    id,
    name: options.name ?? 'default',
    prefix: key.slice(0, 12),
    hash: hashApiKey(key),
    createdAt: new Date().toISOString(),
    revokedAt: null,
    participant: options.participant ?? { kind: 'system', id },
    kind,
    groups: options.restricted ? [...new Set(options.restricted.groups)] : null,
    operations: options.restricted ? expandOperations(options.restricted.operations) : null,
  };
  await storage.insertApiKey(record);
  return { key, record };
}

/** Resolve a bearer key to its record, or throw an authentication error that says what is wrong. */
export async function authenticateApiKey(storage: Storage, key: string | undefined): Promise<ApiKeyRecord> {
  if (!key) {
    throw abloError('missing_api_key');
  }
  if (!isApiKeyShape(key)) {
    throw new AbloAuthenticationError('That is not an Ablo API key: keys look like sk_test_…, sk_live_…, rk_test_… or rk_live_… .', { code: 'malformed_api_key' });
  }
  const record = await storage.findApiKeyByHash(hashApiKey(key));
  if (!record) throw new AbloAuthenticationError('Unknown API key for this engine. Check ABLO_API_KEY and ABLO_URL.', { code: 'invalid_api_key' });
  if (record.revokedAt) throw revokedKeyError(record);
  return record;
}

/** What a revoked key gets, on the request that uses it or on what it still had in flight. */
export function revokedKeyError(record: Pick<ApiKeyRecord, 'prefix'>): AbloAuthenticationError {
  return new AbloAuthenticationError(`API key ${record.prefix}… was revoked. Create a new one with \`ablo keys create\`.`, { code: 'revoked_api_key' });
}

/**
 * Who must hear when a credential is revoked (the guard, sockets, claim
 * queues, MCP sessions): a small list of listeners. Each listener runs
 * synchronously, in order; one that throws does not stop the others.
 */
export class KeyRevocations<E = CredentialRevoked> {
  private readonly listeners = new Set<(event: E) => void>();

  /** Listen; returns the unsubscribe function. */
  subscribe(listener: (event: E) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(event: E): void {
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch {
        // One listener's failure never keeps the credential alive elsewhere.
      }
    }
  }
}

/**
 * The principal of an API key, no expiry: a secret key has every group and
 * every operation; a restricted key its stored groups and operations.
 */
export function apiKeyPrincipal(record: ApiKeyRecord): Principal {
  if (record.kind === 'restricted') {
    return {
      kind: 'restricted',
      participant: record.participant,
      groups: [...(record.groups ?? [])],
      operations: expandOperations(record.operations ?? []),
      expiresAt: null,
      credentialId: record.id,
    };
  }
  return { kind: 'secret', participant: record.participant, groups: 'all', operations: OPERATIONS, expiresAt: null, credentialId: record.id };
}

/** API keys over the engine's storage: the default `Authenticator`. */
export class ApiKeyAuthenticator implements Authenticator {
  private readonly revocations = new KeyRevocations();

  constructor(private readonly storage: Storage) {}

  async authenticate(credential: string | undefined): Promise<Principal> {
    return apiKeyPrincipal(await authenticateApiKey(this.storage, credential));
  }

  onRevoked(listener: (event: CredentialRevoked) => void): () => void {
    return this.revocations.subscribe(listener);
  }

  /** Key `record` was revoked (DELETE /v1/keys/:id): everyone holding something of it hears now. */
  revoked(record: ApiKeyRecord): void {
    this.revocations.notify({ credentialId: record.id, error: revokedKeyError(record) });
  }
}
