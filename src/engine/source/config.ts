/**
 * Data Source configuration as the engine takes it (`createEngine({ sources })`,
 * built by the CLI from `ablo.config.json` + the environment).
 */
export interface SourceConfig {
  /**
   * The app's endpoint (`https://app.example.com/api/ablo`). Absent: the
   * source dials in over the reverse channel (`createSourceConnector`).
   */
  url?: string;
  /** The models this source holds; their commits go to it. */
  models: readonly string[];
  /** `whsec_…` secret(s): several (an array, or space-separated) while rotating; requests are signed with each. */
  signingSecret: string | readonly string[];
  /** Per attempt (default 10 s). */
  timeoutMs?: number;
  /** Attempts for a commit after a timeout or 5xx, same `webhook-id` (default 3). */
  attempts?: number;
  /** How often the engine pulls `events` (default 2 s; 0: only on push). */
  pollIntervalMs?: number;
}

export type SourcesConfig = Readonly<Record<string, SourceConfig>>;

/** Source names: what `POST /v1/source/:name/events` and `ablo source` use. */
export const SOURCE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
