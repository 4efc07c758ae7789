// planner — the pure heart of affinityd: (snapshot, policy, previous assignment) → plan.
// No I/O, no clock, no randomness: the same input always yields the same plan, which is what
// makes "write only what changed" and the churn bound testable.
//
// Spread placement works on *units*: one unit per NIC queue (virtio-net's input.N and
// output.N vectors are one unit, so rx and tx of a queue pair land on the same CPU, which is
// also where XPS sends that queue's transmits). Placement is two-phase:
//   1. quotas: a greedy fill, most-constrained units first, always onto a least-loaded
//      candidate CPU, ties broken by (a) where units were before, (b) the NIC's own units,
//      (c) physical-core load — distinct cores before SMT siblings —, (d) last-level-cache
//      load, (e) CPU number. This yields how many units each CPU should carry.
//   2. keep-then-fill: every unit whose previous CPU is still a candidate and still has quota
//      stays; the rest fill the remaining quota.
// Churn bound (tested in test/planner-churn.test.ts): with all spread units sharing one
// candidate set of C CPUs, onlining one CPU moves exactly the new CPU's quota — at most
// ceil(U/(C+1)) of U units — and offlining one moves only the units that were on it
// (at most ceil(U/C)). No balanced plan can move fewer.

import { equalSets, formatCpuList, intersect, normalize, subtract, type CpuSet } from '../cpumask/cpumask.js';
import type { CpuInfo, IrqInfo, NicInfo, Plan, PlannedIrq, PlannedQueue, Policy, PolicySection, Snapshot } from '../types.js';
import { matchIrqSection, matchNicSection } from '../policy/match.js';

/** Where each unit was last placed: key `iface/queue` (NIC queue) or `irq/N`. */
export type PreviousAssignment = ReadonlyMap<string, number>;

export interface PlanOptions {
  /** Last applied placement (state file / running agent); improves stability across re-plans. */
  previous?: PreviousAssignment;
  /** IRQs the kernel refused to move (EPERM/EIO): kernel-managed, never planned again. */
  managedIrqs?: ReadonlySet<number>;
}

interface Unit {
  key: string;
  nic: string | null;
  irqs: IrqInfo[];
  candidates: number[];
  prev: number | null;
  why: string;
  policy: string;
}

type Settings = Omit<PolicySection, 'name' | 'kind' | 'match' | 'file' | 'line'> & { policy: string };

/** CPUs device interrupts may use, and why others are out. */
export function allowedCpus(snapshot: Snapshot, policy: Policy): { cpus: number[]; warnings: string[] } {
  const t = snapshot.topology;
  const warnings: string[] = [];
  let base = policy.cpus === null ? [...t.online] : intersect(policy.cpus, t.online);
  if (policy.cpus !== null) {
    const offline = subtract(policy.cpus, t.online);
    if (offline.length) warnings.push(`cpus: ${formatCpuList(offline)} not online, left out`);
  }
  base = subtract(base, policy.excludeCpus);
  if (!policy.allowIsolated) base = subtract(base, t.isolated);
  if (!policy.allowNohzFull) base = subtract(base, t.nohzFull);
  if (base.length === 0) {
    // Never leave interrupts with nowhere to go: the housekeeping CPUs are the safe fallback.
    const fallback = subtract(subtract(t.online, t.isolated), t.nohzFull);
    const cpus = fallback.length ? fallback : [...t.online];
    warnings.push(`no allowed CPU is online; falling back to ${formatCpuList(cpus)}`);
    return { cpus, warnings };
  }
  return { cpus: base, warnings };
}

function settingsFor(policy: Policy, section: PolicySection | null): Settings {
  if (section === null) return { ...policy.defaults, policy: 'defaults' };
  return {
    strategy: section.strategy,
    pin: section.pin,
    rps: section.rps,
    xps: section.xps,
    rpsFlowCnt: section.rpsFlowCnt,
    crossNode: section.crossNode,
    policy: section.name,
  };
}

/** Candidate CPUs of a NIC: its node's allowed CPUs, unless it has none there (or no node). */
function nicCandidates(nic: NicInfo, allowed: number[], nodeCpus: Map<number, number[]>, crossNode: boolean): { cpus: number[]; scope: string } {
  if (nic.numaNode >= 0) {
    const local = intersect(allowed, nodeCpus.get(nic.numaNode) ?? []);
    if (local.length > 0 && !crossNode) return { cpus: local, scope: `node ${nic.numaNode}` };
    if (local.length > 0) return { cpus: [...local, ...subtract(allowed, local)], scope: `node ${nic.numaNode} first` };
    return { cpus: allowed, scope: `all nodes (node ${nic.numaNode} has no allowed CPU)` };
  }
  return { cpus: allowed, scope: 'all allowed CPUs' };
}

class Loads {
  readonly cpu = new Map<number, number>();
  readonly core = new Map<string, number>();
  readonly llc = new Map<number, number>();
  readonly nic = new Map<string, number>();
  constructor(private readonly info: Map<number, CpuInfo>) {}
  add(cpu: number, nic: string | null, n = 1): void {
    this.cpu.set(cpu, (this.cpu.get(cpu) ?? 0) + n);
    const ci = this.info.get(cpu);
    if (ci) {
      this.core.set(ci.coreKey, (this.core.get(ci.coreKey) ?? 0) + n);
      this.llc.set(ci.llc, (this.llc.get(ci.llc) ?? 0) + n);
    }
    if (nic !== null) this.nic.set(`${nic}@${cpu}`, (this.nic.get(`${nic}@${cpu}`) ?? 0) + n);
  }
  cpuLoad(c: number): number {
    return this.cpu.get(c) ?? 0;
  }
  coreLoad(c: number): number {
    const ci = this.info.get(c);
    return ci ? (this.core.get(ci.coreKey) ?? 0) : this.cpuLoad(c);
  }
  llcLoad(c: number): number {
    const ci = this.info.get(c);
    return ci ? (this.llc.get(ci.llc) ?? 0) : 0;
  }
  nicLoad(nic: string | null, c: number): number {
    return nic === null ? 0 : (this.nic.get(`${nic}@${c}`) ?? 0);
  }
}

/** Best CPU for a unit: the ordering described at the top of this file. */
function pickCpu(unit: Unit, cands: number[], loads: Loads, prevDemand: (c: number) => number): number {
  let best = cands[0]!;
  for (let i = 1; i < cands.length; i++) {
    const c = cands[i]!;
    const d =
      loads.cpuLoad(c) - loads.cpuLoad(best) ||
      prevDemand(best) - prevDemand(c) ||
      loads.nicLoad(unit.nic, c) - loads.nicLoad(unit.nic, best) ||
      loads.coreLoad(c) - loads.coreLoad(best) ||
      loads.llcLoad(c) - loads.llcLoad(best);
    // Candidates are ordered by preference (local node first), so the first wins a full tie.
    if (d < 0) best = c;
  }
  return best;
}

function placeUnits(units: Unit[], cpuInfo: Map<number, CpuInfo>): Map<string, { cpu: number; kept: boolean }> {
  // Most constrained first, then a stable order.
  const order = [...units].sort((a, b) => a.candidates.length - b.candidates.length || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const prevCount = new Map<number, number>();
  for (const u of order) if (u.prev !== null && u.candidates.includes(u.prev)) prevCount.set(u.prev, (prevCount.get(u.prev) ?? 0) + 1);

  // Phase 1: quotas.
  const quotaLoads = new Loads(cpuInfo);
  for (const u of order) {
    const c = pickCpu(u, u.candidates, quotaLoads, (cpu) => (prevCount.get(cpu) ?? 0) - quotaLoads.cpuLoad(cpu));
    quotaLoads.add(c, u.nic);
  }
  const quota = quotaLoads.cpu;

  // Phase 2: keep what still fits, then fill.
  const loads = new Loads(cpuInfo);
  const result = new Map<string, { cpu: number; kept: boolean }>();
  for (const u of order) {
    if (u.prev !== null && u.candidates.includes(u.prev) && loads.cpuLoad(u.prev) < (quota.get(u.prev) ?? 0)) {
      loads.add(u.prev, u.nic);
      result.set(u.key, { cpu: u.prev, kept: true });
    }
  }
  for (const u of order) {
    if (result.has(u.key)) continue;
    const open = u.candidates.filter((c) => loads.cpuLoad(c) < (quota.get(c) ?? 0));
    const c = pickCpu(u, open.length ? open : u.candidates, loads, () => 0);
    loads.add(c, u.nic);
    result.set(u.key, { cpu: c, kept: false });
  }
  return result;
}

/** Previous CPU of a unit: the recorded one, else a current single-CPU mask (an earlier run). */
function previousCpu(key: string, irqs: IrqInfo[], opts: PlanOptions): number | null {
  const recorded = opts.previous?.get(key);
  if (recorded !== undefined) return recorded;
  const aff = irqs[0]?.affinity;
  if (aff && aff.length === 1 && irqs.every((i) => i.affinity !== null && equalSets(i.affinity, aff))) return aff[0]!;
  return null;
}

/** Split CPUs among tx queues for XPS: each queue's IRQ CPU, the rest to the closest queue. */
function xpsMasks(queueCpus: Map<number, number>, txIndexes: number[], candidates: number[], cpuInfo: Map<number, CpuInfo>): Map<number, number[]> {
  const masks = new Map<number, number[]>(txIndexes.map((i) => [i, []]));
  const owner = new Map<number, number>(); // cpu → tx queue
  for (const q of txIndexes) {
    const c = queueCpus.get(q);
    if (c !== undefined && !owner.has(c)) owner.set(c, q);
  }
  // Queues without an IRQ (veth) and CPUs without a queue: round-robin, siblings and shared
  // caches first so a CPU transmits on a queue whose completion runs close by.
  let rr = 0;
  for (const c of candidates) {
    if (owner.has(c)) continue;
    const ci = cpuInfo.get(c);
    let q: number | undefined;
    const free = txIndexes.filter((i) => !queueCpus.has(i) && ![...owner.values()].includes(i));
    if (free.length) q = free[0];
    if (q === undefined && ci) {
      for (const [oc, oq] of owner) {
        const oi = cpuInfo.get(oc);
        if (oi && (oi.coreKey === ci.coreKey || oi.llc === ci.llc)) {
          q = oq;
          break;
        }
      }
    }
    if (q === undefined) q = txIndexes[rr++ % txIndexes.length];
    if (q !== undefined) owner.set(c, q);
  }
  for (const [c, q] of owner) masks.get(q)?.push(c);
  for (const [q, m] of masks) masks.set(q, normalize(m));
  return masks;
}

export function plan(snapshot: Snapshot, policy: Policy, opts: PlanOptions = {}): Plan {
  const { cpus: allowed, warnings } = allowedCpus(snapshot, policy);
  const cpuInfo = new Map(snapshot.topology.cpus.map((c) => [c.cpu, c]));
  const nodeCpus = new Map(snapshot.topology.nodes.map((n) => [n.id, n.cpus]));
  const managed = opts.managedIrqs ?? new Set<number>();
  const nicByName = new Map(snapshot.nics.map((n) => [n.name, n]));

  const nicSettings = new Map<string, Settings>();
  const nicScope = new Map<string, { cpus: number[]; scope: string }>();
  for (const nic of snapshot.nics) {
    const s = settingsFor(policy, matchNicSection(policy, nic));
    nicSettings.set(nic.name, s);
    nicScope.set(nic.name, nicCandidates(nic, allowed, nodeCpus, s.crossNode));
  }

  const planned = new Map<number, PlannedIrq>();
  const base = (irq: IrqInfo): PlannedIrq => ({
    irq: irq.irq,
    name: irq.name,
    device: irq.virtio ?? irq.pci,
    interface: irq.queue?.interface ?? null,
    queue: irq.queue?.queue ?? null,
    role: irq.queue?.role ?? null,
    node: irq.queue ? (nicByName.get(irq.queue.interface)?.numaNode ?? irq.node) : irq.node,
    current: irq.affinity,
    desired: null,
    reason: 'not a NIC queue and no [irq:] section names it',
    policy: null,
  });

  // Group spread units.
  const units = new Map<string, Unit>();
  for (const irq of snapshot.irqs) {
    const p = base(irq);
    planned.set(irq.irq, p);
    if (managed.has(irq.irq)) {
      p.reason = 'kernel-managed (refused writes): left to the kernel';
      continue;
    }
    if (irq.affinity === null) {
      p.reason = '/proc/irq entry vanished or unreadable';
      continue;
    }
    const nic = irq.queue ? nicByName.get(irq.queue.interface) : undefined;
    const section = nic ? null : matchIrqSection(policy, irq.name, irq.irq);
    if (!nic && !section) continue;
    const s = nic ? nicSettings.get(nic.name)! : settingsFor(policy, section);
    p.policy = s.policy;
    const scope = nic ? nicScope.get(nic.name)! : { cpus: allowed, scope: 'all allowed CPUs' };
    switch (s.strategy) {
      case 'ignore':
        p.reason = `ignore (${s.policy})`;
        break;
      case 'pin': {
        const pin = intersect(s.pin ?? [], allowed);
        if (pin.length === 0) {
          p.reason = `pin ${formatCpuList(s.pin ?? [])}: none of these CPUs is allowed and online; left alone`;
          warnings.push(`irq ${irq.irq} (${irq.name}): ${p.reason}`);
        } else {
          p.desired = pin;
          p.reason = `pin ${formatCpuList(pin)} (${s.policy})`;
        }
        break;
      }
      case 'node':
        p.desired = normalize(scope.cpus);
        p.reason = `node: ${scope.scope}`;
        break;
      case 'spread': {
        const key = nic ? `${nic.name}/${irq.queue!.queue}` : `irq/${irq.irq}`;
        let u = units.get(key);
        if (!u) {
          u = { key, nic: nic?.name ?? null, irqs: [], candidates: scope.cpus, prev: null, why: scope.scope, policy: s.policy };
          units.set(key, u);
        }
        u.irqs.push(irq);
        break;
      }
    }
  }

  for (const u of units.values()) u.prev = previousCpu(u.key, u.irqs, opts);
  const placement = placeUnits([...units.values()], cpuInfo);
  const queueCpu = new Map<string, number>(); // "iface/queue" → cpu
  for (const u of units.values()) {
    const { cpu, kept } = placement.get(u.key)!;
    if (u.nic) queueCpu.set(u.key, cpu);
    for (const irq of u.irqs) {
      const p = planned.get(irq.irq)!;
      p.desired = [cpu];
      const moved = u.prev !== null && u.prev !== cpu ? (allowed.includes(u.prev) ? `, moved from ${u.prev} to rebalance` : `, moved: cpu${u.prev} not allowed/online`) : '';
      p.reason = `spread over ${u.why}${kept ? ', kept' : moved}`;
    }
  }

  // RPS / XPS per NIC.
  const queues: PlannedQueue[] = [];
  for (const nic of snapshot.nics) {
    const s = nicSettings.get(nic.name)!;
    const scope = nicScope.get(nic.name)!;
    const localCpus = normalize(scope.cpus);
    const rpsOn = s.strategy !== 'ignore' && (s.rps === 'on' || (s.rps === 'auto' && nic.rx.length < localCpus.length));
    for (const rx of nic.rx) {
      if (rx.rpsCpus === null) continue; // kernel without CONFIG_RPS, or the file vanished
      const desired = s.strategy === 'ignore' ? null : rpsOn ? localCpus : [];
      queues.push({
        interface: nic.name,
        queue: rx.index,
        kind: 'rps',
        current: rx.rpsCpus,
        desired,
        flowCnt: rpsOn && s.rpsFlowCnt !== null ? s.rpsFlowCnt : null,
        currentFlowCnt: rx.rpsFlowCnt,
        policy: s.policy,
      });
    }
    const xpsOn = s.strategy !== 'ignore' && (s.xps === 'on' || (s.xps === 'auto' && nic.tx.length > 1));
    const txWithFile = nic.tx.filter((t) => t.xpsCpus !== null);
    const qc = new Map<number, number>();
    for (const t of txWithFile) {
      const c = queueCpu.get(`${nic.name}/${t.index}`);
      if (c !== undefined) qc.set(t.index, c);
    }
    const masks = xpsOn ? xpsMasks(qc, txWithFile.map((t) => t.index), localCpus, cpuInfo) : null;
    for (const tx of txWithFile) {
      const desired = s.strategy === 'ignore' || (s.xps === 'auto' && !xpsOn) ? null : (masks?.get(tx.index) ?? []);
      queues.push({ interface: nic.name, queue: tx.index, kind: 'xps', current: tx.xpsCpus, desired, flowCnt: null, currentFlowCnt: null, policy: s.policy });
    }
  }

  return {
    allowedCpus: allowed,
    irqs: [...planned.values()].sort((a, b) => a.irq - b.irq),
    queues,
    rpsSockFlowEntries: { current: snapshot.rpsSockFlowEntries, desired: policy.rpsSockFlowEntries },
    warnings,
  };
}

/** The placement to remember for the next re-plan (state file, running agent). */
export function assignmentOf(p: Plan): Map<string, number> {
  const out = new Map<string, number>();
  for (const i of p.irqs) {
    if (!i.desired || i.desired.length !== 1) continue;
    out.set(i.interface !== null && i.queue !== null ? `${i.interface}/${i.queue}` : `irq/${i.irq}`, i.desired[0]!);
  }
  return out;
}

export type { CpuSet };
