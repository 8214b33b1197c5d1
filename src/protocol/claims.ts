/**
 * Claim wire shapes: an advisory lease on one row with a fair FIFO queue.
 * Shared by the engine (HTTP and WebSocket), the SDK and MCP.
 */
import { z } from 'zod';
import { participantSchema, rowIdSchema, rowSchema } from './commit.js';

/** Lease bounds, in seconds. */
export const CLAIM_LEASE_DEFAULT_SECONDS = 30;
export const CLAIM_LEASE_MIN_SECONDS = 1;
export const CLAIM_LEASE_MAX_SECONDS = 3600;
/** How long an HTTP claim request long-polls for its turn, in seconds. */
export const CLAIM_WAIT_DEFAULT_SECONDS = 30;
export const CLAIM_WAIT_MAX_SECONDS = 300;
export const CLAIM_ACTION_MAX_CHARS = 200;
/** HTTP header that presents an HTTP claim on a write: `Ablo-Claim: clm_…` (several: comma-separated). */
export const CLAIM_HEADER = 'ablo-claim';

const modelName = z.string().min(1).max(63);
export const claimIdSchema = z.string().min(1).max(64);
const leaseSecondsSchema = z.number().int().min(CLAIM_LEASE_MIN_SECONDS).max(CLAIM_LEASE_MAX_SECONDS);
const waitSecondsSchema = z.number().positive().max(CLAIM_WAIT_MAX_SECONDS);

/** A held claim. `holder` is who holds it; the owner (connection or claim id) is not on the wire. */
export const claimSchema = z.object({
  object: z.literal('claim'),
  id: z.string(),
  model: z.string(),
  rowId: z.string(),
  holder: participantSchema,
  /** What the holder said it is doing, e.g. `"summarizing"`. */
  action: z.string().nullable(),
  acquiredAt: z.string(),
  expiresAt: z.string(),
  leaseSeconds: z.number().int(),
});
export type Claim = z.infer<typeof claimSchema>;

/** A claim as granted: with the row as it was at grant time. */
export const claimGrantSchema = claimSchema.extend({ data: rowSchema });
export type ClaimGrant = z.infer<typeof claimGrantSchema>;

/** One request waiting for a row; `position` 1 is next in line. */
export const claimQueueEntrySchema = z.object({
  participant: participantSchema,
  action: z.string().nullable(),
  requestedAt: z.string(),
  position: z.number().int().positive(),
});
export type ClaimQueueEntry = z.infer<typeof claimQueueEntrySchema>;

/** `GET /v1/models/:model/:id/claim` and the WebSocket `claim_state` answer. */
export const claimStateSchema = z.object({
  claim: claimSchema.nullable(),
  queue: z.array(claimQueueEntrySchema),
});
export type ClaimState = z.infer<typeof claimStateSchema>;

/** Options every claim request takes. */
export const claimOptionsSchema = z.strictObject({
  /** Wait in line when the row is held (default true); false fails at once with `row_claimed`. */
  wait: z.boolean().optional(),
  /** Lease length (default 30, 1..3600); renew before it runs out. */
  leaseSeconds: leaseSecondsSchema.optional(),
  action: z.string().max(CLAIM_ACTION_MAX_CHARS).optional(),
  /** Refuse (`queue_full`) when this many requests or more already wait ahead. */
  maxQueueDepth: z.number().int().nonnegative().optional(),
});
export type ClaimOptions = z.infer<typeof claimOptionsSchema>;

/** `POST /v1/models/:model/:id/claim` body. */
export const claimRequestBodySchema = claimOptionsSchema.extend({
  /** How long the request long-polls for its turn (default 30, max 300). */
  waitSeconds: waitSecondsSchema.optional(),
  /**
   * Keep the request's place in line this long after the long-poll ends
   * without the row; the `claim_wait_timeout` error then carries a `ticket`
   * to resume it with. Default (and 0): it leaves the line. A client that
   * goes away mid-poll withdraws it.
   */
  keepPlaceSeconds: z.number().nonnegative().max(CLAIM_WAIT_MAX_SECONDS).optional(),
  /**
   * Resume a request that kept its place (the `ticket` of its
   * `claim_wait_timeout` error); same credential only. It keeps the options
   * it was made with; `waitSeconds` and `keepPlaceSeconds` apply to this poll on.
   */
  ticket: z.string().min(1).max(128).optional(),
});
export type ClaimRequestBody = z.infer<typeof claimRequestBodySchema>;

/** `POST /v1/claims/:claimId/renew` body. */
export const claimRenewBodySchema = z.strictObject({ leaseSeconds: leaseSecondsSchema.optional() });

/** `DELETE /v1/claims/:claimId` answer. */
export const claimReleasedSchema = z.object({ object: z.literal('claim'), id: z.string(), released: z.literal(true) });
export type ClaimReleased = z.infer<typeof claimReleasedSchema>;

// WebSocket frames (client → engine).

export const claimFrameSchema = claimOptionsSchema.extend({
  type: z.literal('claim'),
  ref: z.string().min(1).max(128),
  model: modelName,
  id: rowIdSchema,
  /** Give up waiting after this many seconds (`claim_wait_timeout`); default: wait until granted or disconnected. */
  waitSeconds: waitSecondsSchema.optional(),
  /**
   * Take over the claim with this id, still held on this row, as this
   * connection (same credential): a holder that reconnected, possibly to
   * another engine process, keeps its claim. The lease starts again; the
   * answer is `claim_granted` with the row as it is now, or 404
   * `claim_not_found` once the claim is gone. The other options are ignored.
   */
  resume: claimIdSchema.optional(),
});
/**
 * Release a claim by `claimId`, or by `model` + `id`: that releases this
 * connection's claim on the row and/or drops its waiting request for it.
 */
export const releaseFrameSchema = z.strictObject({
  type: z.literal('release'),
  ref: z.string().min(1).max(128),
  claimId: claimIdSchema.optional(),
  model: modelName.optional(),
  id: rowIdSchema.optional(),
});
export const renewFrameSchema = z.strictObject({
  type: z.literal('renew'),
  ref: z.string().min(1).max(128).optional(),
  claimId: claimIdSchema,
  leaseSeconds: leaseSecondsSchema.optional(),
});
export const claimStateRequestFrameSchema = z.strictObject({
  type: z.literal('claim_state'),
  ref: z.string().min(1).max(128),
  model: modelName,
  id: rowIdSchema,
});
export type ClaimFrame = z.infer<typeof claimFrameSchema>;
export type ReleaseFrame = z.infer<typeof releaseFrameSchema>;
export type RenewFrame = z.infer<typeof renewFrameSchema>;
export type ClaimStateRequestFrame = z.infer<typeof claimStateRequestFrameSchema>;

// WebSocket frames (engine → client).

export const claimGrantedFrameSchema = z.object({ type: z.literal('claim_granted'), ref: z.string(), claim: claimGrantSchema });
export const releasedFrameSchema = z.object({ type: z.literal('released'), ref: z.string(), claimId: z.string() });
export const renewedFrameSchema = z.object({ type: z.literal('renewed'), ref: z.string().optional(), claim: claimSchema });
export const claimStateFrameSchema = claimStateSchema.extend({ type: z.literal('claim_state'), ref: z.string() });
/** Pushed on every change of a row's claim state to connections whose sync groups include the row. */
export const claimsFrameSchema = claimStateSchema.extend({ type: z.literal('claims'), model: z.string(), id: z.string() });
export type ClaimGrantedFrame = z.infer<typeof claimGrantedFrameSchema>;
export type ReleasedFrame = z.infer<typeof releasedFrameSchema>;
export type RenewedFrame = z.infer<typeof renewedFrameSchema>;
export type ClaimStateFrame = z.infer<typeof claimStateFrameSchema>;
export type ClaimsFrame = z.infer<typeof claimsFrameSchema>;
