/**
 * Operations and credential kinds, on the wire: what a credential may do
 * (restricted keys, session tokens, `GET /v1/me`), shared by the engine's
 * guard, the SDK, the CLI and MCP.
 */
import { z } from 'zod';

/**
 * What a principal may do. A small, closed set:
 *
 * - `read`:     rows, lists, the change log, the schema, claim state; a sync hello.
 * - `create`, `update`, `delete`: the operations of a commit, each on its own
 *               (over HTTP and the socket); `write` is shorthand for the three.
 * - `claim`:    claim, release and renew rows.
 * - `presence`: publish presence on a row or view.
 * - `keys`:     create, list and revoke API keys.
 * - `sessions`: mint and revoke session tokens (secret keys only).
 * - `schema`:   push a schema.
 *
 * Acting as another participant (`Ablo-Participant`, `hello.participant`) is
 * not an operation: only a secret key may, and the change records it
 * (`onBehalfOf`).
 */
export const OPERATIONS = ['read', 'create', 'update', 'delete', 'claim', 'presence', 'keys', 'sessions', 'schema'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** The operations `write` stands for. */
export const WRITE_OPERATIONS = ['create', 'update', 'delete'] as const satisfies readonly Operation[];

/** An operation as a caller may name it: one of `OPERATIONS`, or `write` (create, update and delete). */
export type OperationInput = Operation | 'write';

/** Operations as named by a caller, `write` expanded, duplicates dropped, in `OPERATIONS` order. */
export function expandOperations(input: readonly OperationInput[]): Operation[] {
  const wanted = new Set<string>();
  for (const op of input) {
    if (op === 'write') for (const w of WRITE_OPERATIONS) wanted.add(w);
    else wanted.add(op);
  }
  return OPERATIONS.filter((op) => wanted.has(op));
}

/** Kinds of credential: `sk_…` secret keys, `rk_…` restricted keys, `ek_…` session tokens, or an embedder's own (`custom`). */
export type CredentialKind = 'secret' | 'restricted' | 'session' | 'custom';

/** `GET /v1/me`: the credential that asks, as the engine sees it (never the secret itself). */
export const principalObjectSchema = z.object({
  object: z.literal('principal'),
  kind: z.enum(['secret', 'restricted', 'session', 'custom']),
  credentialId: z.string(),
  participant: z.object({ kind: z.enum(['user', 'agent', 'system']), id: z.string() }),
  groups: z.union([z.literal('all'), z.array(z.string())]),
  operations: z.array(z.enum(OPERATIONS)),
  expiresAt: z.string().nullable(),
});
export type PrincipalObject = z.infer<typeof principalObjectSchema>;
