/**
 * Readiness and draining of one engine process (`engine.drain()`, `GET /v1/ready`).
 *
 * `DrainState` is what the HTTP handler and the sync server consult: whether
 * the engine takes new work, and how many keyed HTTP requests are still being
 * answered (a drain waits for them). Health (`/v1/health`) and readiness
 * (`/v1/ready`) are open routes and never refused.
 */

export type Readiness = { ready: true } | { ready: false; reason: 'starting' | 'draining' | 'closed' };

export class DrainState {
  private state: 'starting' | 'ready' | 'draining' | 'closed' = 'starting';
  private active = 0;
  private idleWaiters: Array<() => void> = [];

  /** The storage is open and the engine listens. */
  markReady(): void {
    if (this.state === 'starting') this.state = 'ready';
  }

  /** From now on new requests, sockets and commit frames are refused (`draining`). */
  startDraining(): void {
    if (this.state !== 'closed') this.state = 'draining';
  }

  markClosed(): void {
    this.state = 'closed';
  }

  get draining(): boolean {
    return this.state === 'draining' || this.state === 'closed';
  }

  readiness(): Readiness {
    return this.state === 'ready' ? { ready: true } : { ready: false, reason: this.state };
  }

  /** A keyed request is being answered; call the returned function when it is done (once). */
  enter(): () => void {
    this.active++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.active--;
      if (this.active === 0) for (const w of this.idleWaiters.splice(0)) w();
    };
  }

  /** Resolves when no keyed request is being answered. */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
