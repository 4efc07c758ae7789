// cli/status — the view the operator in the NAT64 story needed instead of watching `top`:
// per-CPU interrupt and softirq rates over an interval, which queues each CPU serves, and a
// one-line verdict when one CPU carries most of the load.

import { setTimeout } from 'node:timers/promises';
import { FsRoot } from '../snapshot/fsroot.js';
import { parseProcInterrupts } from '../snapshot/interrupts.js';
import { parseProcStat, parseSoftirqs } from '../snapshot/softirqs.js';
import { parseSoftnetStat } from '../snapshot/softnet.js';
import { takeSnapshot } from '../snapshot/snapshot.js';
import { table } from './render.js';
import type { Args } from './args.js';
import { computeStatus, type LoadSample, type StatusReport } from '../status/load.js';

function sample(fs: FsRoot): LoadSample {
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

export async function statusCommand(args: Args, out: (s: string) => void): Promise<number> {
  const fs = new FsRoot(args.root);
  do {
    const a = sample(fs);
    await setTimeout(args.interval * 1000);
    const b = sample(fs);
    const r = computeStatus(a, b, queuesByCpu(args.root));
    if (args.json) out(JSON.stringify({ ...r, hottestShare: Number.isNaN(r.hottestShare) ? null : r.hottestShare }));
    else out((args.watch ? '\x1b[2J\x1b[H' : '') + statusText(r));
  } while (args.watch);
  return 0;
}
