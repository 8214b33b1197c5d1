/**
 * The engine's presence settings (`createEngine({ presence })`): the TTL of a
 * member whose connections all dropped, and the caps that keep presence small
 * and cheap (state size and keys, updates per second per connection, members
 * per group). Checked once at start: a bad value is `invalid_option`.
 */
import { AbloValidationError } from '../../errors.js';
import { PRESENCE_DEFAULTS } from '../../protocol/presence.js';

export interface PresenceOptions {
  /** How long a member whose connections all dropped stays (`reconnecting`) before it leaves. Default 30 s. */
  ttlMs?: number;
  /** Largest state as JSON, in bytes. Default 4096; at most 6144 (a Postgres NOTIFY carries one state). */
  maxStateBytes?: number;
  /** Most top-level keys in a state. Default 32. */
  maxKeys?: number;
  /** Most `presence_set` frames one connection may send per second (burst: as many). Default 30. */
  maxUpdatesPerSecond?: number;
  /** Most members one group holds. Default 500. */
  maxMembersPerGroup?: number;
}

export type PresenceSettings = Required<PresenceOptions>;

/**
 * The largest state the engine can take: a Postgres NOTIFY payload holds at most 8000 bytes, and one carries a
 * state with its group, participant and envelope (at most ~1,000 bytes more).
 */
export const MAX_PRESENCE_STATE_BYTES = 6144;

/** The bounds of each setting: [least, most]. */
const BOUNDS: Record<keyof PresenceOptions, [number, number]> = {
  ttlMs: [1, 24 * 60 * 60 * 1000],
  maxStateBytes: [2, MAX_PRESENCE_STATE_BYTES],
  maxKeys: [1, 10_000],
  maxUpdatesPerSecond: [1, 10_000],
  maxMembersPerGroup: [1, 1_000_000],
};

/** `options` with the defaults filled in; a value out of bounds (or not an integer) is `invalid_option`. */
export function resolvePresenceOptions(options: PresenceOptions | undefined): PresenceSettings {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw new AbloValidationError('presence must be an object: { ttlMs?, maxStateBytes?, maxKeys?, maxUpdatesPerSecond?, maxMembersPerGroup? }.', {
      code: 'invalid_option',
      field: 'presence',
    });
  }
  const given = (options ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!(name in BOUNDS)) {
      throw new AbloValidationError(`Unknown presence option "${name}". Options: ${Object.keys(BOUNDS).join(', ')}.`, { code: 'invalid_option', field: `presence.${name}` });
    }
  }
  const settings = {} as PresenceSettings;
  for (const [name, [least, most]] of Object.entries(BOUNDS) as Array<[keyof PresenceOptions, [number, number]]>) {
    const value = given[name] ?? PRESENCE_DEFAULTS[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < least || value > most) {
      throw new AbloValidationError(`presence.${name} must be a whole number from ${least} to ${most} (got ${JSON.stringify(value)}).`, {
        code: 'invalid_option',
        field: `presence.${name}`,
      });
    }
    settings[name] = value;
  }
  return settings;
}
