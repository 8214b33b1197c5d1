/**
 * Jobs run one at a time, in call order: a storage's writer queue
 * (transactions, schema pushes, key writes, prune chunks). A job that throws
 * does not stop the ones after it.
 */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    return (async () => {
      try {
        await previous;
        return await fn();
      } finally {
        release();
      }
    })();
  }
}
