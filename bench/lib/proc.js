/**
 * Child processes for benches: spawn a Node script with an IPC channel and
 * talk to it by request/response messages (`{ id, ...request }` answered by
 * `{ id, ok, result | error }`).
 *
 * Children started here exit when the parent disconnects (see `serve`), so a
 * crashed bench does not leave processes behind.
 */
import { fork } from 'node:child_process';
import { wallNow } from './stats.js';

export class Child {
  constructor(script, { name = script, env = {}, execArgv = [] } = {}) {
    this.name = name;
    this.nextId = 1;
    this.waiting = new Map();
    this.exited = null;
    this.proc = fork(script, [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...env },
      execArgv,
      serialization: 'advanced',
    });
    this.proc.on('message', (m) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok) w.resolve(m.result);
      else w.reject(Object.assign(new Error(`${this.name}: ${m.error}`), { remoteStack: m.stack }));
    });
    this.proc.on('exit', (code, signal) => {
      this.exited = { code, signal };
      for (const w of this.waiting.values()) w.reject(new Error(`${this.name} exited (${signal ?? code}) before answering`));
      this.waiting.clear();
    });
  }

  get pid() {
    return this.proc.pid;
  }

  /** Send a request; resolves with the child's result. */
  call(type, args = {}, timeoutMs = 120_000) {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name}: "${type}" timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.proc.send({ id, type, ...args });
    });
  }

  /** Ask nicely (`close` request), then kill if it does not exit in time. */
  async stop(timeoutMs = 10_000) {
    if (this.exited) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    try {
      await this.call('close', {}, timeoutMs);
    } catch {
      // Killed below.
    }
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  kill() {
    if (!this.exited) this.proc.kill('SIGKILL');
  }
}

/**
 * In a child: answer requests with `handlers[type](msg)`. A `close` handler
 * runs, then the process exits. Losing the parent exits too.
 */
export function serve(handlers) {
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (msg) => {
    const { id, type } = msg;
    try {
      const handler = handlers[type];
      if (!handler && type !== 'close') throw new Error(`unknown request "${type}"`);
      const result = handler ? await handler(msg) : undefined;
      process.send({ id, ok: true, result }, () => {
        if (type === 'close') process.disconnect();
      });
    } catch (err) {
      process.send({ id, ok: false, error: err && err.message ? err.message : String(err), stack: err && err.stack });
    }
  });
}

/** CPU time (ms, user + system) of this process since `since` (a `process.cpuUsage()` value). */
export function cpuMs(since) {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

/**
 * Offset of a child's wall clock from ours (child − parent), from the probe
 * with the smallest round trip of 40. The child answers `clock` with its
 * `wallNow()`.
 */
export async function clockOffset(child) {
  let best = { rtt: Infinity, offset: 0 };
  for (let i = 0; i < 40; i++) {
    const t0 = wallNow();
    const c = await child.call('clock');
    const t2 = wallNow();
    if (t2 - t0 < best.rtt) best = { rtt: t2 - t0, offset: c - (t0 + t2) / 2 };
  }
  return best;
}
