// snapshot/softnet — per-CPU packet backlog health from /proc/net/softnet_stat.
//
// Why: on this project's VMs (kernel 6.18), many CPU offline/online cycles under RPS traffic
// left one CPU's NET_RX backlog marked scheduled but never polled: packets RPS steered to that
// CPU queued up and were dropped, and only a reboot cleared it. A balancer that keeps putting
// that CPU into rps_cpus blackholes a share of every flow. So the planner leaves a CPU whose
// backlog holds packets but processes none out of RPS masks, and says why.

import type { FsRoot } from './fsroot.js';

export interface SoftnetRow {
  cpu: number;
  processed: number;
  dropped: number;
  /** Packets waiting in the backlog (input + process queue); column 12 on kernels ≥ 6.x. */
  backlog: number;
}

/** Parse softnet_stat: one hex row per CPU; column 13 is the CPU index where present. */
export function parseSoftnetStat(text: string, online: readonly number[] = []): SoftnetRow[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      const v = l.trim().split(/\s+/).map((x) => parseInt(x, 16));
      return { cpu: v.length > 12 ? v[12]! : (online[i] ?? i), processed: v[0] ?? 0, dropped: v[1] ?? 0, backlog: v.length > 11 ? v[11]! : 0 };
    });
}

/** CPUs whose backlog held packets in both samples while their processed count did not move. */
export function stuckBacklogs(a: readonly SoftnetRow[], b: readonly SoftnetRow[]): number[] {
  const before = new Map(a.map((r) => [r.cpu, r]));
  return b.filter((r) => r.backlog > 0 && (before.get(r.cpu)?.backlog ?? 0) > 0 && before.get(r.cpu)?.processed === r.processed).map((r) => r.cpu);
}

/**
 * Sample twice, `gapMs` apart, but only when the first sample shows a non-empty backlog: a
 * healthy CPU drains its backlog within microseconds, so the common case costs one read.
 */
export function readStuckBacklogs(fs: FsRoot, online: readonly number[], gapMs = 20): number[] {
  const first = fs.read('/proc/net/softnet_stat');
  if (first === null) return [];
  const a = parseSoftnetStat(first, online);
  if (!a.some((r) => r.backlog > 0)) return [];
  // A synchronous pause keeps the snapshot a single synchronous step (it is rare: see above).
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, gapMs);
  const second = fs.read('/proc/net/softnet_stat');
  return second === null ? [] : stuckBacklogs(a, parseSoftnetStat(second, online));
}
