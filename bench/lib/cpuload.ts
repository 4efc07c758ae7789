// bench/lib/cpuload — the measurement math (pure): per-CPU softirq time from /proc/stat and
// NET_RX/NET_TX counts from /proc/softirqs between two samples, the hottest CPU's share of
// all softirq time (the headline number, as `affinityd status` computes it), the time series
// for the plots, and whether CPU hotplug disturbed a run.

import { parseProcStat, parseSoftirqs, type CpuTimes, type SoftirqCounts } from '../../src/snapshot/softirqs.js';
import { hottest, softirqTicks } from '../../src/status/load.js';

export { hottest };

export interface CpuSample {
  /** Milliseconds (monotonic clock). */
  t: number;
  /** /sys/devices/system/cpu/online at that moment, e.g. "0-1". */
  online: string;
  stat: CpuTimes;
  softirqs: SoftirqCounts;
}

export function parseCpuSample(t: number, texts: { stat: string; softirqs: string; online: string }): CpuSample {
  return { t, online: texts.online.trim(), stat: parseProcStat(texts.stat), softirqs: parseSoftirqs(texts.softirqs) };
}

export interface CpuDelta {
  cpu: number;
  /** USER_HZ ticks spent in softirq between the samples. */
  softirqTicks: number;
  totalTicks: number;
  /** Share of this CPU's own time in softirq, 0..1. */
  busy: number;
  netRx: number;
  netTx: number;
}

/** Per-CPU deltas for the CPUs present in both samples (a CPU offline in either is left out). */
export function cpuDeltas(a: CpuSample, b: CpuSample): CpuDelta[] {
  const cpus = Object.keys(b.stat)
    .map(Number)
    .filter((c) => a.stat[c] !== undefined)
    .sort((x, y) => x - y);
  return cpus.map((cpu) => {
    const sa = a.stat[cpu]!;
    const sb = b.stat[cpu]!;
    // Counters only go forward; a negative delta means the CPU went away and came back.
    const soft = softirqTicks(a.stat, b.stat, cpu);
    const total = Math.max(0, sb.total - sa.total);
    const d = (label: string) => Math.max(0, (b.softirqs.rows[label]?.[cpu] ?? 0) - (a.softirqs.rows[label]?.[cpu] ?? 0));
    return { cpu, softirqTicks: soft, totalTicks: total, busy: total > 0 ? Math.min(1, soft / total) : 0, netRx: d('NET_RX'), netTx: d('NET_TX') };
  });
}

export interface SeriesPoint {
  /** Seconds since `t0`, at the end of the interval. */
  t: number;
  cpu: number;
  /** Share of the CPU's time in softirq over the interval, 0..1. */
  busy: number;
}

/**
 * Consecutive-sample deltas: one point per CPU per sampling interval. Intervals shorter than
 * `minIntervalMs` are dropped: with /proc/stat counting in 10 ms ticks, the few-ms tail after
 * the last timer sample would show as a meaningless 0 % or 100 % spike.
 */
export function series(samples: CpuSample[], t0: number, minIntervalMs = 0): SeriesPoint[] {
  const out: SeriesPoint[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    if (b.t - a.t < minIntervalMs) continue;
    for (const d of cpuDeltas(a, b)) if (d.totalTicks > 0) out.push({ t: Math.round((b.t - t0)) / 1000, cpu: d.cpu, busy: d.busy });
  }
  return out;
}

/**
 * Why a run cannot be trusted because of CPU hotplug (another test offlining cpu1), or null:
 * the online set before, during (every sample) and after must equal the expected one.
 */
export function hotplugDisturbance(expected: string, before: string, samples: CpuSample[], after: string): string | null {
  if (before !== expected) return `cpus online before the run were ${before}, expected ${expected}`;
  const bad = samples.find((s) => s.online !== expected);
  if (bad) return `cpus online changed to ${bad.online} during the run (expected ${expected})`;
  if (after !== expected) return `cpus online after the run were ${after}, expected ${expected}`;
  return null;
}

/** A kernel CPU uevent seen while the bench ran (performance.now() ms). */
export interface CpuUevent {
  t: number;
  action: string;
  cpu: number;
}

/**
 * The kernel's own word that a CPU changed during the window [from, to]: any cpu uevent
 * (online, offline, add, remove). Hotplug tests cycle cpu1 offline for ~0.1 s at a time, which
 * 250 ms samples of the online mask can miss; the uevent cannot be missed. (Comparing per-CPU
 * /proc/stat tick totals, the check this replaces, flagged 22 runs of a VM where nothing
 * touched a CPU: a vCPU the host deschedules accrues fewer ticks too.)
 */
export function cpuEventDisturbance(events: readonly CpuUevent[], from: number, to: number): string | null {
  const hit = events.filter((e) => e.t >= from && e.t <= to);
  if (hit.length === 0) return null;
  return `kernel cpu uevents during the run: ${hit.map((e) => `cpu${e.cpu} ${e.action}`).join(', ')}`;
}

// Backlog health: the same reader affinityd's planner uses to keep wedged CPUs out of RPS.
export { parseSoftnetStat, stuckBacklogs, type SoftnetRow } from '../../src/snapshot/softnet.js';
