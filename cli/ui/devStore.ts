/**
 * The state behind `ablo dev`'s live view: what the engine serves and what
 * just happened. The command writes to it; the ink view (DevView.tsx) reads
 * it. No React here, so the plain-output path never loads React.
 */

export interface DevHeader {
  url: string;
  apiKey: string;
  keyFrom: string;
  db: string;
  schemaFile: string;
  mcp: string;
  version: string;
  readyMs: number;
  /** Data Sources: which models each source holds (`url` null: it dials in over the reverse channel). */
  sources?: Array<{ name: string; url: string | null; models: string[] }>;
}

export interface RecentCommit {
  at: number;
  lastSyncId: number;
  changes: number;
  models: string[];
}

export interface LogEntry {
  at: number;
  level: 'info' | 'warn' | 'error';
  text: string;
  detail?: string[];
}

export interface HeldClaim {
  /** `model/id` */
  key: string;
  /** `kind:id` of the holder. */
  holder: string;
  action: string | null;
  /** Requests waiting in line. */
  waiting: number;
  since: number;
}

export interface PendingQuestion {
  question: string;
  lines: string[];
  resolve: (yes: boolean) => void;
}

export interface DevState {
  header: DevHeader;
  schema: { version: number; hash: string; models: number };
  connections: number;
  lastSyncId: number;
  totalCommits: number;
  /** Times of recent commits, for the rate. */
  commitTimes: number[];
  recent: RecentCommit[];
  /** Rows claimed now, oldest first. */
  claims: HeldClaim[];
  log: LogEntry[];
  pending: PendingQuestion | null;
}

const RECENT = 6;
const LOG = 8;
const RATE_WINDOW_MS = 5000;

export class DevStore {
  private listeners = new Set<() => void>();

  constructor(public state: DevState) {}

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  set(patch: Partial<DevState>): void {
    this.state = { ...this.state, ...patch };
    this.changed();
  }

  commit(c: Omit<RecentCommit, 'at'>): void {
    const now = Date.now();
    const s = this.state;
    this.state = {
      ...s,
      lastSyncId: Math.max(s.lastSyncId, c.lastSyncId),
      totalCommits: s.totalCommits + 1,
      commitTimes: [...s.commitTimes.filter((t) => now - t < RATE_WINDOW_MS), now],
      recent: [{ ...c, at: now }, ...s.recent].slice(0, RECENT),
    };
    this.changed();
  }

  /** A claim changed: held (with its queue) or free. */
  claim(key: string, held: Omit<HeldClaim, 'key' | 'since'> | null): void {
    const others = this.state.claims.filter((c) => c.key !== key);
    const before = this.state.claims.find((c) => c.key === key);
    const claims = held ? [...others, { key, ...held, since: before && before.holder === held.holder ? before.since : Date.now() }] : others;
    this.state = { ...this.state, claims: claims.sort((a, b) => a.since - b.since) };
    this.changed();
  }

  log(level: LogEntry['level'], text: string, detail?: string[]): void {
    this.state = { ...this.state, log: [...this.state.log, { at: Date.now(), level, text, ...(detail?.length ? { detail } : {}) }].slice(-LOG) };
    this.changed();
  }

  /** Commits per second over the last few seconds. */
  rate(now = Date.now()): number {
    const n = this.state.commitTimes.filter((t) => now - t < RATE_WINDOW_MS).length;
    return n / (RATE_WINDOW_MS / 1000);
  }

  ask(question: string, lines: string[]): Promise<boolean> {
    return new Promise((resolve) => {
      this.set({
        pending: {
          question,
          lines,
          resolve: (yes) => {
            this.set({ pending: null });
            resolve(yes);
          },
        },
      });
    });
  }

  answer(yes: boolean): void {
    this.state.pending?.resolve(yes);
  }
}

export function clock(at: number): string {
  return new Date(at).toTimeString().slice(0, 8);
}
