/**
 * Whole-machine CPU time from /proc/stat (Linux), so a bench can say how much
 * of the machine other processes used while it measured.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

const TICK_MS = 10; // USER_HZ is 100 on Linux.

/** Busy CPU milliseconds of the whole machine so far, or null where /proc/stat is missing. */
export function machineBusyMs() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const [, ...fields] = line.trim().split(/\s+/);
    const n = fields.map(Number);
    // user nice system idle iowait irq softirq steal
    const busy = n[0] + n[1] + n[2] + n[5] + n[6] + n[7];
    return busy * TICK_MS;
  } catch {
    return null;
  }
}

/**
 * Share of the machine's cores (0..1) that processes other than ours used over
 * `wallMs`: (machine busy − our CPU) / (wall × cores). Null when unknown.
 */
export function otherCpuShare(busyBefore, busyAfter, ourCpuMs, wallMs) {
  if (busyBefore === null || busyAfter === null || !(wallMs > 0)) return null;
  const other = Math.max(0, busyAfter - busyBefore - ourCpuMs);
  return other / (wallMs * cpus().length);
}

/**
 * Scheduler times of this process's main thread so far (Linux
 * /proc/<pid>/task/<pid>/schedstat): `runMs` on a CPU, `waitMs` runnable but
 * waiting for a CPU (the machine is full). Null where unavailable. With the
 * event loop's busy time, what is left is time blocked in synchronous calls
 * (a COMMIT's fsync).
 */
export function mainThreadSched() {
  try {
    const [run, wait] = readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return { runMs: run / 1e6, waitMs: wait / 1e6 };
  } catch {
    return null;
  }
}
