// cli/status — the view the operator in the NAT64 story needed instead of watching `top`:
// per-CPU interrupt and softirq rates over an interval, which queues each CPU serves, and a
// one-line verdict when one CPU carries most of the load.

import { FsRoot } from '../snapshot/fsroot.js';
import { parseProcInterrupts } from '../snapshot/interrupts.js';
import { parseProcStat, parseSoftirqs } from '../snapshot/softirqs.js';
import { parseSoftnetStat, stuckBacklogs, type SoftnetRow } from '../snapshot/softnet.js';
import { takeSnapshot } from '../snapshot/snapshot.js';
import { table } from './render.js';
import type { Args } from './main.js';

interface Sample {
  at: number;
  irqs: Map<number, Record<number, number>>;
  softirq: ReturnType<typeof parseSoftirqs>;
  stat: ReturnType<typeof parseProcStat>;
  softnet?: SoftnetRow[];
}

function sample(fs: FsRoot): Sample {
  const parsed = parseProcInterrupts(fs.read('/proc/interrupts') ?? '', fs.abs('/proc/interrupts'));
  return {
    // milliseconds, monotonic
    at: Number(process.hrtime.bigint() / 1000n) / 1000,
    irqs: new Map(parsed.irqs.map((r) => [r.irq, r.counts])),
    softirq: parseSoftirqs(fs.read('/proc/softirqs') ?? ''),
    stat: parseProcStat(fs.read('/proc/stat') ?? ''),
    softnet: parseSoftnetStat(fs.read('/proc/net/softnet_stat') ?? ''),
  };
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

export function computeStatus(a: Sample, b: Sample, queuesByCpu: Map<number, string[]>): StatusReport {
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
  const soft = cpus.map((cpu) => Math.max(0, (b.stat[cpu]?.softirq ?? 0) - (a.stat[cpu]?.softirq ?? 0)));
  const total = soft.reduce((x, y) => x + y, 0);
  const hot = soft.indexOf(Math.max(...soft, 0));
  const hottestShare = total > 0 ? soft[hot]! / total : NaN;
  let verdict: string;
  if (!(total > 0)) verdict = 'idle: no softirq time in the interval';
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

function queuesByCpu(root: string): Map<number, string[]> {
  const snap = takeSnapshot(root);
  const out = new Map<number, string[]>();
  const add = (cpu: number, label: string) => out.set(cpu, [...(out.get(cpu) ?? []), label]);
  for (const irq of snap.irqs) {
    if (!irq.queue) continue;
    const where = irq.effective ?? irq.affinity ?? [];
    for (const c of where) add(c, `${irq.queue.interface}:${irq.queue.role}-${irq.queue.queue}`);
  }
  for (const nic of snap.nics)
    for (const rx of nic.rx) if (rx.rpsCpus && rx.rpsCpus.length) for (const c of rx.rpsCpus) add(c, `${nic.name}:rps-${rx.index}`);
  return out;
}

export function statusText(r: StatusReport): string {
  const rows = r.cpus.map((c) => [
    `${c.cpu}`,
    c.irqPerSec.toFixed(0),
    c.netRxPerSec.toFixed(0),
    c.netTxPerSec.toFixed(0),
    `${(c.softirqBusy * 100).toFixed(1)}%`,
    c.queues.join(' ') || '-',
  ]);
  return [table(['CPU', 'IRQ/s', 'NET_RX/s', 'NET_TX/s', 'SOFTIRQ', 'SERVES'], rows), '', r.verdict].join('\n');
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

export async function statusCommand(args: Args, out: (s: string) => void): Promise<number> {
  const fs = new FsRoot(args.root);
  do {
    const a = sample(fs);
    await sleep(args.interval * 1000);
    const b = sample(fs);
    const r = computeStatus(a, b, queuesByCpu(args.root));
    if (args.json) out(JSON.stringify({ ...r, hottestShare: Number.isNaN(r.hottestShare) ? null : r.hottestShare }));
    else out((args.watch ? '\x1b[2J\x1b[H' : '') + statusText(r));
  } while (args.watch);
  return 0;
}
