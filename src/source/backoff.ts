/**
 * Reconnect delays of the source connector: 250 ms doubling to 10 s, each
 * drawn between half and all of that step. The jitter matters when an engine
 * restarts: every connector lost its socket at the same moment, and without
 * it they would all dial back at the same moments too.
 */
export const BACKOFF_MIN_MS = 250;
export const BACKOFF_MAX_MS = 10_000;

/** The delay before reconnect attempt `attempt` (0 for the first after a drop). */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const step = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt, 16));
  return Math.round(step / 2 + random() * (step / 2));
}
