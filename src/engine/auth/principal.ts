/**
 * Identity: who is asking, and what they may do.
 *
 * Every surface (HTTP requests, the WebSocket hello and the frames after it,
 * `/mcp` sessions, claims) asks the engine's `Authenticator` once per request
 * or connection for a `Principal`, then checks what it asks for through the
 * guard (./guard.ts). API keys are the first authenticator (./apiKeys in
 * ../apiKeys.ts); scoped session tokens fit the same shape (expiry, groups,
 * a fixed participant).
 */
import type { AbloError } from '../../errors.js';
import type { ParticipantRef } from '../../protocol/commit.js';

export { expandOperations, OPERATIONS, WRITE_OPERATIONS, type Operation, type OperationInput } from '../../protocol/operations.js';
import type { CredentialKind, Operation } from '../../protocol/operations.js';
export type { CredentialKind } from '../../protocol/operations.js';

/**
 * What kind of credential a principal comes from: a secret key (`sk_…`), a
 * restricted key (`rk_…`), a session token (`ek_…`). Rate limits depend on it
 * (./rateLimits.ts: on for sessions and restricted keys by default).
 */
/** The kind of a principal's credential (see `Principal.kind`). */
export type PrincipalKind = CredentialKind;

export interface Principal {
  /**
   * What stands behind it: `secret` (an `sk_…` key: every operation, every
   * group, may act as any participant and mint sessions), `restricted` (an
   * `rk_…` key: the groups and operations it was made with), `session` (an
   * `ek_…` token: one participant, until it expires), `custom` (an embedder's
   * own authenticator; also when absent).
   */
  kind?: CredentialKind;
  /** Who it is: its writes are recorded as written by it (a secret key may act on behalf of another: `Actor`). */
  participant: ParticipantRef;
  /**
   * Sync groups it may see and use: `'all'`, or patterns — an exact group
   * (`board:a`) or a prefix ending in `*` (`board:*`; `*` alone is every group).
   */
  groups: 'all' | readonly string[];
  operations: readonly Operation[];
  /** ISO time after which the credential is refused (null: no expiry). */
  expiresAt: string | null;
  /** The credential's id (`key_…` for API keys, `ses_…` for sessions): revocation, claims, `/mcp` sessions and the change log track it. */
  credentialId: string;
}

/**
 * Who does a write or a claim, as the change log records it: the
 * credential's own participant (`writtenBy`), the participant it named and
 * acts for (`onBehalfOf`: an API key naming `user:ana` with
 * `Ablo-Participant`; absent when it names nobody or itself) and the
 * credential. Claims are held by the participant acted for: `actingAs`.
 */
export interface Actor {
  writtenBy: ParticipantRef;
  onBehalfOf?: ParticipantRef;
  credentialId: string;
}

/** The participant an actor acts as: the one it acts for, else its own. Claims are held by it. */
export function actingAs(actor: Actor): ParticipantRef {
  return actor.onBehalfOf ?? actor.writtenBy;
}

/** A credential that stopped being valid before its expiry; `error` is what its holders are told. */
export interface CredentialRevoked {
  credentialId: string;
  error: AbloError;
}

/** The identity port. */
export interface Authenticator {
  /**
   * The principal of a bearer credential (API key; session token later), or
   * an `AbloAuthenticationError` that says what is wrong (missing, malformed,
   * unknown, revoked, expired).
   */
  authenticate(credential: string | undefined): Promise<Principal>;
  /**
   * Hear of revocations at once (sockets close, queued work is refused,
   * claims and `/mcp` sessions end). Listeners run synchronously, in the
   * order they subscribed; returns the unsubscribe function.
   */
  onRevoked(listener: (event: CredentialRevoked) => void): () => void;
}
