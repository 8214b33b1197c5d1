/**
 * Session tokens (`ek_…`), on the wire: the body of `POST /v1/sessions` (strict)
 * and its answer. A session acts as one participant, within some sync groups,
 * with some operations, until it expires (SPEC §8, docs/auth.md).
 */
import { z } from 'zod';

/** Default and largest lifetime of a session token, in seconds. */
export const SESSION_TTL_DEFAULT_SECONDS = 900;
export const SESSION_TTL_MAX_SECONDS = 24 * 60 * 60;

/**
 * What a session may be given: reading, the three writes (`write` stands for
 * all three), claims and presence. Keys, sessions and schema pushes, and
 * acting as another participant, stay with secret keys.
 */
export const SESSION_OPERATIONS = ['read', 'create', 'update', 'delete', 'write', 'claim', 'presence'] as const;
export type SessionOperation = (typeof SESSION_OPERATIONS)[number];

/** A sync group pattern: an exact group, a prefix ending in `*` (`board:*`), or `@role` (a schema identity role, expanded for the participant). */
export const groupPatternSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^\s*]*\*?$/, 'a group, a prefix ending in * (board:*), or @role (an identity role of the schema)');

/** `POST /v1/sessions` body. */
export const createSessionBodySchema = z.strictObject({
  participant: z.strictObject({ kind: z.enum(['user', 'agent']), id: z.string().min(1).max(200) }),
  syncGroups: z.array(groupPatternSchema).max(100).optional(),
  operations: z.array(z.enum(SESSION_OPERATIONS)).min(1).max(SESSION_OPERATIONS.length * 2),
  ttlSeconds: z.number().int().min(1).max(SESSION_TTL_MAX_SECONDS).optional(),
});
export type CreateSessionBody = z.infer<typeof createSessionBodySchema>;

/** `POST /v1/sessions` answer (the token is in this answer only) and `DELETE /v1/sessions/:id` answer. */
export const sessionObjectSchema = z.object({
  object: z.literal('session'),
  sessionId: z.string(),
  token: z.string().optional(),
  expiresAt: z.string(),
  revoked: z.boolean().optional(),
});
export type SessionObject = z.infer<typeof sessionObjectSchema>;
