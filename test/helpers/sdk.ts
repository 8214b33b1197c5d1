/** Waiting on SDK clients in tests without sleeps. */

interface Subscribable {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  subscribe<R>(selector: (ablo: any) => R, listener: (value: R, previous: R) => void): () => void;
}

/** Resolve with `check()`'s value once it is truthy, re-checking on every local change of `client`. */
export function until<T>(client: Subscribable, check: () => T | undefined | false | null, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const first = check();
    if (first) {
      resolve(first);
      return;
    }
    const timer = setTimeout(() => {
      stop();
      reject(new Error('condition not reached in time'));
    }, timeoutMs);
    const stop = client.subscribe(
      () => check(),
      (value) => {
        if (value) {
          clearTimeout(timer);
          stop();
          resolve(value as T);
        }
      },
    );
  });
}
