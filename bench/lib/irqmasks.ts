// bench/lib/irqmasks — irqbalance rewrites /proc/irq/*/smp_affinity for every IRQ on the host
// (the host's virtio-net ones included). Save them all before it starts and put back the ones
// that differ after it is killed, so the host ends as it began.

import * as fs from 'node:fs';
import * as path from 'node:path';

/** IRQ → smp_affinity_list, for every /proc/irq/N that has one. */
export function readIrqAffinities(procIrq = '/proc/irq'): Map<number, string> {
  const out = new Map<number, string>();
  for (const n of fs.readdirSync(procIrq)) {
    if (!/^\d+$/.test(n)) continue;
    try {
      out.set(Number(n), fs.readFileSync(path.join(procIrq, n, 'smp_affinity_list'), 'utf8').trim());
    } catch {
      // vanished while listing, or no affinity file (IRQ 0 on some machines)
    }
  }
  return out;
}

export interface RestoreReport {
  restored: { irq: number; from: string; to: string }[];
  failed: { irq: number; to: string; error: string }[];
}

/** Write back every saved mask that changed; never touches an IRQ whose mask is unchanged. */
export function restoreIrqAffinities(saved: Map<number, string>, procIrq = '/proc/irq'): RestoreReport {
  const now = readIrqAffinities(procIrq);
  const report: RestoreReport = { restored: [], failed: [] };
  for (const [irq, want] of saved) {
    const cur = now.get(irq);
    if (cur === undefined || cur === want) continue;
    try {
      fs.writeFileSync(path.join(procIrq, String(irq), 'smp_affinity_list'), want);
      report.restored.push({ irq, from: cur, to: want });
    } catch (e) {
      // EIO/EINVAL: kernel-managed, or the saved CPUs are offline now; nothing more to do.
      report.failed.push({ irq, to: want, error: (e as NodeJS.ErrnoException).code ?? (e as Error).message });
    }
  }
  return report;
}
