// snapshot/refresh — the snapshot after a CPU went online or offline, built from the previous
// one by re-reading only what that can change: the CPU sets (online, and the topology, which
// keeps its per-CPU cache), every IRQ's affinity and effective affinity, every NIC queue's
// RPS/XPS mask, the backlog health and rps_sock_flow_entries. What a CPU state change cannot
// touch — which IRQs exist, their names, owners, nodes and hints, which NICs and queues exist,
// their drivers and PCI functions — is kept. That is most of a pass's reads, and right after a
// CPU comes online, while the kernel is still busy with it, every read costs several times more.
//
// Why it is safe: those kept facts change only with device, driver, link or queue changes,
// each of which has its own event, and the agent takes a full snapshot for any batch holding
// one (or a resync, an overrun, a reload). Whatever is written is still read back by the
// applier. When the previous picture no longer holds — an IRQ or a queue directory vanished —
// this returns null and the caller takes a full snapshot.

import { irqTarget, queueTarget } from '../targets.js';
import type { CpuTopology, IrqInfo, NicInfo, Snapshot } from '../types.js';
import { readCpuTopology, readCpus, type TopologyCache } from './cpus.js';
import { FsRoot } from './fsroot.js';
import { readStuckBacklogs } from './softnet.js';

function withOnline(prev: CpuTopology, online: number[]): CpuTopology {
  const set = new Set(online);
  return { ...prev, online, cpus: prev.cpus.map((c) => ({ ...c, online: set.has(c.cpu) })) };
}

function affinityOf(fs: FsRoot, dir: string, list: string, mask: string, warnings: string[]): number[] | null {
  // The list form first (what the applier writes); the mask where a kernel has no list file.
  return readCpus(fs, `${dir}/${list}`, warnings, 'list') ?? readCpus(fs, `${dir}/${mask}`, warnings, 'mask');
}

/** The snapshot after a CPU online/offline, or null when a full snapshot is needed. */
export function refreshAfterCpuChange(prev: Snapshot, topologyCache?: TopologyCache): Snapshot | null {
  const fs = new FsRoot(prev.root);
  const warnings: string[] = [];
  const topology = readCpuTopology(fs, warnings, topologyCache);
  const irqs: IrqInfo[] = [];
  for (const old of prev.irqs) {
    const dir = `/proc/irq/${old.irq}`;
    const affinity = affinityOf(fs, dir, 'smp_affinity_list', 'smp_affinity', warnings);
    // A vanished IRQ (a driver unbound while its event is still queued): start afresh.
    if (affinity === null && old.affinity !== null) return null;
    const effective = affinityOf(fs, dir, 'effective_affinity_list', 'effective_affinity', warnings);
    irqs.push({ ...old, affinity, effective });
  }
  const nics: NicInfo[] = [];
  for (const old of prev.nics) {
    const q = `/sys/class/net/${old.name}/queues`;
    const rx = [];
    for (const r of old.rx) {
      const rpsCpus = readCpus(fs, `${q}/rx-${r.index}/rps_cpus`, warnings, 'mask');
      if (rpsCpus === null && r.rpsCpus !== null) return null;
      rx.push({ ...r, rpsCpus });
    }
    const tx = [];
    for (const t of old.tx) {
      const xpsCpus = readCpus(fs, `${q}/tx-${t.index}/xps_cpus`, warnings, 'mask');
      if (xpsCpus === null && t.xpsCpus !== null) return null;
      tx.push({ ...t, xpsCpus });
    }
    nics.push({ ...old, rx, tx });
  }
  const stuckBacklogCpus = readStuckBacklogs(fs, topology.online);
  const rpsSockFlowEntries = fs.readInt('/proc/sys/net/core/rps_sock_flow_entries');
  warnings.push(...fs.problems);
  return { ...prev, topology, irqs, nics, stuckBacklogCpus, rpsSockFlowEntries, warnings };
}

/**
 * The snapshot to write first from, after a CPU went online/offline: the CPU sets read again,
 * and the current masks of `targets` only (what the last pass applied: the IRQs and queues
 * the plan is likely to move), everything else kept from `prev`. Fewer reads before the
 * first write, right when the kernel makes every read slow; the caller must follow it with a
 * full refreshAfterCpuChange and plan again, which corrects whatever the kept masks got
 * wrong. null when a target vanished.
 */
export function refreshTargets(prev: Snapshot, targets: ReadonlySet<string>, topologyCache?: TopologyCache): Snapshot | null {
  const fs = new FsRoot(prev.root);
  const warnings: string[] = [];
  // Of the CPU sets, only the online one changes when a CPU goes online or offline: one read
  // instead of the ten or so a topology takes (the full refresh that follows reads them all).
  // A CPU the last snapshot does not know (hot-added) needs the topology read whole.
  const online = readCpus(fs, '/sys/devices/system/cpu/online', warnings);
  const known = new Set(prev.topology.cpus.map((c) => c.cpu));
  const topology = online && online.every((c) => known.has(c)) ? withOnline(prev.topology, online) : readCpuTopology(fs, warnings, topologyCache);
  const irqs = prev.irqs.map((old): IrqInfo | null => {
    if (!targets.has(irqTarget(old.irq))) return old;
    const affinity = affinityOf(fs, `/proc/irq/${old.irq}`, 'smp_affinity_list', 'smp_affinity', warnings);
    return affinity === null && old.affinity !== null ? null : { ...old, affinity };
  });
  if (irqs.includes(null)) return null;
  let vanished = false;
  const nics = prev.nics.map((old): NicInfo => {
    const q = `/sys/class/net/${old.name}/queues`;
    const rx = old.rx.map((r) => {
      if (!targets.has(queueTarget(old.name, 'rps', r.index))) return r;
      const rpsCpus = readCpus(fs, `${q}/rx-${r.index}/rps_cpus`, warnings, 'mask');
      if (rpsCpus === null && r.rpsCpus !== null) vanished = true;
      return { ...r, rpsCpus };
    });
    const tx = old.tx.map((t) => {
      if (!targets.has(queueTarget(old.name, 'xps', t.index))) return t;
      const xpsCpus = readCpus(fs, `${q}/tx-${t.index}/xps_cpus`, warnings, 'mask');
      if (xpsCpus === null && t.xpsCpus !== null) vanished = true;
      return { ...t, xpsCpus };
    });
    return { ...old, rx, tx };
  });
  if (vanished) return null;
  warnings.push(...fs.problems);
  return { ...prev, topology, irqs: irqs as IrqInfo[], nics, warnings };
}
