/**
 * A client without `syncGroups` receives every group its credential may read
 * (a secret key: every row). When such a bootstrap brings more than
 * LARGE_BOOTSTRAP_ROWS rows, the client says so once and suggests
 * `syncGroups`: a large database is usually better read in parts.
 */

/** Rows a bootstrap without `syncGroups` may bring before the client warns. */
export const LARGE_BOOTSTRAP_ROWS = 100_000;

export class BootstrapSizeWarning {
  private rows = 0;
  private warned = false;

  constructor(
    private readonly warn: (message: string, details?: Record<string, unknown>) => void,
    private readonly threshold: number = LARGE_BOOTSTRAP_ROWS,
  ) {}

  /** A bootstrap starts: count from zero (the warning stays said once per client). */
  reset(): void {
    this.rows = 0;
  }

  /** `n` more rows arrived in a bootstrap frame. */
  add(n: number): void {
    this.rows += n;
    if (this.warned || this.rows <= this.threshold) return;
    this.warned = true;
    this.warn(
      `This client has no syncGroups, so it receives every group its credential may read: its bootstrap passed ${this.threshold.toLocaleString('en-US')} rows. ` +
        "Pass Ablo({ syncGroups: [...] }) with the groups this client needs (e.g. ['board:b1']) to load less.",
      { warning: 'large_bootstrap', rows: this.rows, threshold: this.threshold },
    );
  }
}
