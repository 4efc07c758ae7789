// status/load — the load math of `affinityd status` and of the benchmarks (pure): per-CPU
// softirq time between two samples, the hottest CPU's share of all softirq time (the
// headline number), and the one-line verdict. One module, so the bench measures exactly
// what the operator is shown.

import type { CpuTimes, SoftirqCounts } from '../snapshot/softirqs.js';
import { stuckBacklogs, type SoftnetRow } from '../snapshot/softnet.js';

/** Counters read at one moment (milliseconds on a monotonic clock). */
export interface LoadSample {
  at: number;
  irqs: Map<number, Record<number, number>>;
  softirq: SoftirqCounts;
  stat: CpuTimes;
  softnet?: SoftnetRow[];
}

export interface CpuLoad {
  cpu: number;
  irqPerSec: number;
  netRxPerSec: number;
  netTxPerSec: number;
  /** Share of this CPU's time in softirq over the interval, 0..1. */
  softirqBusy: number;
  queues: string[];
}

export interface StatusReport {
  intervalS: number;
  cpus: CpuLoad[];
  /** Hottest CPU's share of all softirq time, 0..1 (NaN when there was none). */
  hottestShare: number;
  verdict: string;
  /** CPUs whose NET_RX backlog held packets in both samples and processed none. */
  stuckBacklogCpus: number[];
}

export function computeStatus(a: LoadSample, b: LoadSample, queuesByCpu: Map<number, string[]>): StatusReport {
  const dt = Math.max((b.at - a.at) / 1000, 1e-3);
  const cpus = b.softirq.cpus.length ? b.softirq.cpus : Object.keys(b.stat).map(Number);
  const loads: CpuLoad[] = cpus.map((cpu) => {
    let irq = 0;
    for (const [n, counts] of b.irqs) irq += (counts[cpu] ?? 0) - (a.irqs.get(n)?.[cpu] ?? 0);
    const d = (label: string) => (b.softirq.rows[label]?.[cpu] ?? 0) - (a.softirq.rows[label]?.[cpu] ?? 0);
    const sa = a.stat[cpu];
    const sb = b.stat[cpu];
    const busy = sa && sb && sb.total > sa.total ? (sb.softirq - sa.softirq) / (sb.total - sa.total) : 0;
    return { cpu, irqPerSec: irq / dt, netRxPerSec: d('NET_RX') / dt, netTxPerSec: d('NET_TX') / dt, softirqBusy: busy, queues: queuesByCpu.get(cpu) ?? [] };
  });
  const top = hottest(cpus.map((cpu) => ({ cpu, softirqTicks: softirqTicks(a.stat, b.stat, cpu) })));
  const hot = top === null ? 0 : cpus.indexOf(top.cpu);
  const hottestShare = top?.share ?? NaN;
  let verdict: string;
  if (top === null) verdict = 'idle: no softirq time in the interval';
  else if (cpus.length > 1 && hottestShare > Math.max(0.6, 1.5 / cpus.length))
    verdict = `imbalanced: cpu${cpus[hot]} carries ${(hottestShare * 100).toFixed(0)}% of softirq time (${(loads[hot]!.softirqBusy * 100).toFixed(0)}% busy) — run 'affinityd plan' to see the fix`;
  else verdict = `balanced: hottest cpu${cpus[hot]} has ${(hottestShare * 100).toFixed(0)}% of softirq time across ${cpus.length} CPUs`;
  // A wedged backlog outranks any balance verdict: packets RPS sends there are lost.
  const stuck = a.softnet && b.softnet ? stuckBacklogs(a.softnet, b.softnet) : [];
  if (stuck.length) {
    const queued = stuck.map((c) => `cpu${c} (${b.softnet!.find((r) => r.cpu === c)?.backlog ?? 0} queued)`).join(', ');
    verdict = `wedged: the NET_RX backlog of ${queued} holds packets and processes none — a kernel problem that a reboot clears; affinityd keeps these CPUs out of RPS. ${verdict}`;
  }
  return { intervalS: dt, cpus: loads, hottestShare, verdict, stuckBacklogCpus: stuck };
}


/** USER_HZ ticks `cpu` spent in softirq between two /proc/stat samples (a counter that went back: 0). */
export function softirqTicks(a: CpuTimes, b: CpuTimes, cpu: number): number {
  return Math.max(0, (b[cpu]?.softirq ?? 0) - (a[cpu]?.softirq ?? 0));
}

/** The CPU with the most softirq time and its share of all CPUs' softirq time; null when there was none. */
export function hottest(perCpu: readonly { cpu: number; softirqTicks: number }[]): { cpu: number; share: number } | null {
  const total = perCpu.reduce((s, d) => s + d.softirqTicks, 0);
  if (!(total > 0)) return null;
  let best = perCpu[0]!;
  for (const d of perCpu) if (d.softirqTicks > best.softirqTicks) best = d;
  return { cpu: best.cpu, share: best.softirqTicks / total };
}
