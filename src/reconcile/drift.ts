// reconcile/drift — what changed behind our back since the last applied plan (a reboot, a
// CPU hotplug reset, another tool). Reported once at agent start as one audit record, then
// the pass re-applies.

import { formatCpuList } from '../cpumask/cpumask.js';
import { irqTarget, queueTarget } from '../targets.js';
import type { AppliedState } from '../state/state.js';
import type { Snapshot } from '../types.js';

export interface Drift {
  target: string;
  recorded: string;
  current: string;
}

export function driftOf(state: AppliedState, snapshot: Snapshot): Drift[] {
  const current = new Map<string, string>();
  for (const irq of snapshot.irqs) if (irq.affinity) current.set(irqTarget(irq.irq), formatCpuList(irq.affinity));
  for (const nic of snapshot.nics) {
    for (const rx of nic.rx) if (rx.rpsCpus) current.set(queueTarget(nic.name, 'rps', rx.index), formatCpuList(rx.rpsCpus));
    for (const tx of nic.tx) if (tx.xpsCpus) current.set(queueTarget(nic.name, 'xps', tx.index), formatCpuList(tx.xpsCpus));
  }
  const out: Drift[] = [];
  for (const [target, recorded] of Object.entries(state.targets)) {
    const now = current.get(target);
    // A target that no longer exists (NIC gone, IRQ renumbered) is not drift: it is history.
    if (now !== undefined && now !== recorded) out.push({ target, recorded, current: now });
  }
  return out;
}
