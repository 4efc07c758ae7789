// bench/lib/report — results of the traffic bench (pure): the per-run record, the summary per
// configuration and stream count, and the Markdown table TRAFFIC.md shows.

import type { CpuDelta, SeriesPoint } from './cpuload.js';
import type { IperfResult } from './iperf.js';

export type ConfigName = 'kernel' | 'irqbalance' | 'affinityd';
export const CONFIGS: readonly ConfigName[] = ['kernel', 'irqbalance', 'affinityd'];

export const CONFIG_LABEL: Record<ConfigName, string> = {
  kernel: 'kernel defaults (RPS off)',
  irqbalance: 'irqbalance --foreground',
  affinityd: 'affinityd (shipped policy)',
};

export interface RunRecord {
  config: ConfigName;
  streams: number;
  repeat: number;
  attempt: number;
  startedAt: string;
  /** Seconds the measurement window lasted (client start → exit). */
  windowS: number;
  onlineBefore: string;
  onlineAfter: string;
  /** Why CPU hotplug makes this run untrustworthy, or null. */
  disturbed: string | null;
  /** rps_cpus of each lab veth during the run ("rtr/veth1": "3"). */
  rps: Record<string, string>;
  /** irqbalance processes NOT started by this bench running at the start of the run (PIDs). */
  foreignIrqbalance: number[];
  iperf: IperfResult;
  perCpu: CpuDelta[];
  hottestCpu: number | null;
  /** Hottest CPU's share of all CPUs' softirq time, 0..1 (null: no softirq time). */
  hottestShare: number | null;
  /** Per-CPU softirq load every sampling interval, t in seconds since the run started. */
  series: SeriesPoint[];
}

export interface SummaryRow {
  config: ConfigName;
  streams: number;
  runs: number;
  hottestShareMean: number | null;
  hottestShareMin: number | null;
  hottestShareMax: number | null;
  /** Receiver goodput, Gbit/s. */
  gbpsMean: number;
  gbpsMin: number;
  gbpsMax: number;
  /** Softirq time of all CPUs together, as a share of one CPU's time over the window. */
  softirqCpusMean: number;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** One row per (config, stream count), over the undisturbed runs; in CONFIGS then stream order. */
export function summarize(runs: RunRecord[]): SummaryRow[] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of runs) {
    if (r.disturbed) continue;
    const k = `${r.config}/${r.streams}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const rows: SummaryRow[] = [];
  for (const [, rs] of groups) {
    const shares = rs.map((r) => r.hottestShare).filter((x): x is number => x !== null);
    const gbps = rs.map((r) => r.iperf.receivedBps / 1e9);
    const soft = rs.map((r) => {
      const perCpuTotal = Math.max(...r.perCpu.map((d) => d.totalTicks), 1);
      return r.perCpu.reduce((s, d) => s + d.softirqTicks, 0) / perCpuTotal;
    });
    rows.push({
      config: rs[0]!.config,
      streams: rs[0]!.streams,
      runs: rs.length,
      hottestShareMean: shares.length ? mean(shares) : null,
      hottestShareMin: shares.length ? Math.min(...shares) : null,
      hottestShareMax: shares.length ? Math.max(...shares) : null,
      gbpsMean: mean(gbps),
      gbpsMin: Math.min(...gbps),
      gbpsMax: Math.max(...gbps),
      softirqCpusMean: mean(soft),
    });
  }
  return rows.sort((a, b) => CONFIGS.indexOf(a.config) - CONFIGS.indexOf(b.config) || a.streams - b.streams);
}

const p0 = (x: number) => (x * 100).toFixed(0);

function shareCell(r: SummaryRow): string {
  if (r.hottestShareMean === null) return '–';
  const spread = r.runs > 1 && r.hottestShareMin !== null && r.hottestShareMax !== null ? ` (${p0(r.hottestShareMin)}–${p0(r.hottestShareMax)})` : '';
  return `${p0(r.hottestShareMean)} %${spread}`;
}

function gbpsCell(r: SummaryRow): string {
  return `${r.gbpsMean.toFixed(2)}${r.runs > 1 ? ` (${r.gbpsMin.toFixed(2)}–${r.gbpsMax.toFixed(2)})` : ''}`;
}

/** Markdown: a row per stream count, hottest-CPU share and throughput per configuration. */
export function markdownTable(rows: SummaryRow[]): string {
  const configs = CONFIGS.filter((c) => rows.some((r) => r.config === c));
  const streams = [...new Set(rows.map((r) => r.streams))].sort((a, b) => a - b);
  const head = ['streams', ...configs.map((c) => `${c}: hottest CPU`), ...configs.map((c) => `${c}: Gbit/s`)];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---:').join(' | ')} |`];
  for (const s of streams) {
    const cell = (c: ConfigName, f: (r: SummaryRow) => string) => {
      const r = rows.find((x) => x.config === c && x.streams === s);
      return r ? f(r) : '–';
    };
    lines.push(
      `| ${[
        String(s),
        ...configs.map((c) => cell(c, shareCell)),
        ...configs.map((c) => cell(c, gbpsCell)),
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}
