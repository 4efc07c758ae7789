// planner — the pure heart of affinityd: (snapshot, policy, previous assignment) → plan.
// No I/O, no clock, no randomness: the same input always yields the same plan, which is what
// makes "write only what changed" and the churn bound testable.
//
// Spread placement works on *units*: one unit per NIC queue (virtio-net's input.N and
// output.N vectors are one unit, so rx and tx of a queue pair land on the same CPU, which is
// also where XPS sends that queue's transmits). Placement is two-phase:
//   1. quotas: a greedy fill, most-constrained units first, each onto the best candidate
//      CPU by TIE_BREAKS (least loaded first). This yields how many units each CPU should carry.
//   2. keep-then-fill: every unit whose previous CPU is still a candidate and still has quota
//      stays; the rest fill the remaining quota.
// Churn bound (tested in test/planner-churn.test.ts): with all spread units sharing one
// candidate set of C CPUs, onlining one CPU moves exactly the new CPU's quota — at most
// ceil(U/(C+1)) of U units — and offlining one moves only the units that were on it
// (at most ceil(U/C)). No balanced plan can move fewer.

import { equalSets, formatCpuList, intersect, normalize, subtract, type CpuSet } from '../cpumask/cpumask.js';
import type { CpuInfo, IrqInfo, NicInfo, Plan, PlannedIrq, PlannedQueue, Policy, PolicySection, Snapshot } from '../types.js';
import { matchIrqSection, matchNicSection } from '../policy/match.js';
import { planSerial } from './serial.js';

/** Where each unit was last placed: key `iface/queue` (NIC queue) or `irq:N` (unitKey). */
export type PreviousAssignment = ReadonlyMap<string, number>;

export interface PlanOptions {
  /** Last applied placement (state file / running agent); improves stability across re-plans. */
  previous?: PreviousAssignment;
  /** IRQs the kernel refused to move (EPERM/EIO): kernel-managed, never planned again. */
  managedIrqs?: ReadonlySet<number>;
  /**
   * The comparator's rules, in order; TIE_BREAKS unless given. Only tests pass another
   * order, to show that the order of each adjacent pair changes some plan.
   */
  tieBreaks?: readonly TieBreak[];
}

interface Unit {
  key: string;
  nic: string | null;
  irqs: IrqInfo[];
  candidates: number[];
  candidateSet: Set<number>;
  /** Placement result: CPU (-1 until placed), and whether it stayed where it was. */
  cpu: number;
  kept: boolean;
  prev: number | null;
  why: string;
  policy: string;
}

type Settings = Omit<PolicySection, 'name' | 'kind' | 'match' | 'file' | 'line'> & { policy: string };

/** CPUs device interrupts may use, and why others are out. */
export function allowedCpus(snapshot: Snapshot, policy: Policy): { cpus: number[]; warnings: string[] } {
  const t = snapshot.topology;
  const warnings: string[] = [];
  // `cpus = all` honours the kernel's irqaffinity= (the operator's housekeeping CPUs for
  // device interrupts); an explicit cpus list overrides it.
  const all = t.irqAffinityDefault !== null && intersect(t.irqAffinityDefault, t.online).length > 0 ? intersect(t.irqAffinityDefault, t.online) : [...t.online];
  let base = policy.cpus === null ? all : intersect(policy.cpus, t.online);
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
    warnings.push(cpus.length ? `no allowed CPU is online; falling back to ${formatCpuList(cpus)}` : 'no CPU is online (unreadable or empty online list): nothing is moved');
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

/**
 * Load counters of one placement phase. Typed arrays indexed by CPU number (and by dense
 * core / LLC ids) because pickCpu runs units × candidates times: with 4096 queues on
 * 128-CPU nodes that is half a million comparisons per plan, and string-keyed maps there
 * cost ~20x the plan-time budget.
 */
class Loads {
  private readonly cpu: Int32Array;
  private readonly core: Int32Array;
  private readonly llc: Int32Array;
  private readonly nic = new Map<string, Int32Array>();
  constructor(private readonly topo: TopoIndex) {
    this.cpu = new Int32Array(topo.size);
    this.core = new Int32Array(topo.coreCount);
    this.llc = new Int32Array(topo.llcCount);
  }
  add(cpu: number, nic: string | null): void {
    this.cpu[cpu]!++;
    this.core[this.topo.coreOf[cpu]!]!++;
    this.llc[this.topo.llcOf[cpu]!]!++;
    if (nic !== null) {
      let a = this.nic.get(nic);
      if (!a) this.nic.set(nic, (a = new Int32Array(this.topo.size)));
      a[cpu]!++;
    }
  }
  remove(cpu: number, nic: string | null): void {
    this.cpu[cpu]!--;
    this.core[this.topo.coreOf[cpu]!]!--;
    this.llc[this.topo.llcOf[cpu]!]!--;
    if (nic !== null) this.nic.get(nic)![cpu]!--;
  }
  cpuLoad(c: number): number {
    return this.cpu[c]!;
  }
  coreLoad(c: number): number {
    return this.core[this.topo.coreOf[c]!]!;
  }
  llcLoad(c: number): number {
    return this.llc[this.topo.llcOf[c]!]!;
  }
  nicArray(nic: string | null): Int32Array | undefined {
    return nic === null ? undefined : this.nic.get(nic);
  }
  /** Units per CPU, for quotas. */
  counts(): Int32Array {
    return this.cpu;
  }
}

/** Dense ids for physical cores and last-level caches, indexed by CPU number. */
interface TopoIndex {
  size: number;
  coreOf: Int32Array;
  llcOf: Int32Array;
  coreCount: number;
  llcCount: number;
}

function indexTopology(snapshot: Snapshot): TopoIndex {
  // Every CPU a plan can index: candidates are online CPUs, and an odd capture can list one
  // beyond nr_cpu_ids (a short `possible` file) or without a topology directory.
  const t = snapshot.topology;
  const size = Math.max(t.nrCpuIds, ...t.cpus.map((c) => c.cpu + 1), ...t.online.map((c) => c + 1), 1);
  const coreOf = new Int32Array(size).fill(-1);
  const llcOf = new Int32Array(size);
  const coreIds = new Map<string, number>();
  const llcIds = new Map<number, number>();
  for (const ci of t.cpus) {
    if (!coreIds.has(ci.coreKey)) coreIds.set(ci.coreKey, coreIds.size);
    if (!llcIds.has(ci.llc)) llcIds.set(ci.llc, llcIds.size);
    coreOf[ci.cpu] = coreIds.get(ci.coreKey)!;
    llcOf[ci.cpu] = llcIds.get(ci.llc)!;
  }
  // CPUs without topology (odd captures) are their own core.
  let coreCount = coreIds.size;
  for (let c = 0; c < size; c++) if (coreOf[c] === -1) coreOf[c] = coreCount++;
  return { size, coreOf, llcOf, coreCount, llcCount: Math.max(llcIds.size, 1) };
}

/**
 * How pickCpu orders candidate CPUs: a CPU beats the best so far on the first of these rules
 * that tells them apart (fewer is better), and a full tie keeps the earlier candidate
 * (candidates are in preference order: local node first). pickCpu walks this list: it is the
 * comparator, not a description of one. Each rule, and the order of each adjacent pair, is
 * tested on the smallest machine where it changes the plan (test/planner-ties.test.ts).
 */
export const TIE_BREAKS = [
  /** Units already on the CPU. */
  'cpu',
  /**
   * Quota phase only: units that were on the CPU before and are not placed back yet
   * (more is better). Giving the quota to where units are waiting keeps the churn bound.
   */
  'waiting',
  /** Units of the unit's own NIC on the CPU: a NIC's queues spread before doubling up. */
  'nic',
  /** Units on the CPU's physical core: distinct cores before SMT siblings. */
  'core',
  /** Units on the CPU's last-level cache. */
  'cache',
] as const;

export type TieBreak = (typeof TIE_BREAKS)[number];

/**
 * One rule of TIE_BREAKS applied to candidate `c` against `best`: < 0 when c is better, 0
 * when the rule cannot tell. A switch rather than a closure per rule: pickCpu runs units ×
 * candidates times (half a million with 4096 queues on 128-CPU nodes), and a call through a
 * list of five closures tripled the plan time (bench/plan.ts).
 */
function tieBreak(rule: TieBreak, c: number, best: number, loads: Loads, nicLoad: Int32Array | undefined, prev: Int32Array | null): number {
  switch (rule) {
    case 'cpu':
      return loads.cpuLoad(c) - loads.cpuLoad(best);
    case 'waiting':
      return prev === null ? 0 : prev[best]! - loads.cpuLoad(best) - (prev[c]! - loads.cpuLoad(c));
    case 'nic':
      return nicLoad === undefined ? 0 : nicLoad[c]! - nicLoad[best]!;
    case 'core':
      return loads.coreLoad(c) - loads.coreLoad(best);
    case 'cache':
      return loads.llcLoad(c) - loads.llcLoad(best);
  }
}

/**
 * Best CPU for a unit, by `ties` (TIE_BREAKS). `prev` (phase 1 only) counts units previously
 * on each CPU. `quota` (phase 2 only) restricts the choice to CPUs with quota left: -1 when
 * none has any (the caller then makes room: makeRoom).
 */
function pickCpu(unit: Unit, loads: Loads, prev: Int32Array | null, quota: Int32Array | null, ties: readonly TieBreak[]): number {
  const cands = unit.candidates;
  const nicLoad = loads.nicArray(unit.nic);
  let best = -1;
  for (let i = 0; i < cands.length; i++) {
    const c = cands[i]!;
    if (quota !== null && loads.cpuLoad(c) >= quota[c]!) continue;
    if (best < 0) {
      best = c;
      continue;
    }
    let d = 0;
    for (let t = 0; t < ties.length && d === 0; t++) d = tieBreak(ties[t]!, c, best, loads, nicLoad, prev);
    // Candidates are ordered by preference (local node first), so the first wins a full tie.
    if (d < 0) best = c;
  }
  return best;
}

/**
 * A CPU for `u` when each of its candidates is at its quota: a unit on one of them that has
 * an open CPU of its own steps aside to it, and `u` takes its place. -1 when none can.
 *
 * Why: phase 1 placed every unit within the quotas, so the quotas can hold them all, but
 * keeping units on their previous CPUs first can fill a CPU that a more constrained unit
 * needs (a node-local NIC's queue, when a node-less NIC's queue was on the node's only CPU).
 * Squeezing it in there left another CPU idle, and the next pass moved the kept unit anyway:
 * the plan was not a fixed point of itself.
 *
 * One step aside is always enough, because a candidate set is either one node's allowed CPUs
 * or all allowed CPUs. If u's node were full of units that may not leave it, the node would
 * hold more than phase 1 put there; so some unit on it may use any CPU, and some CPU has
 * quota left (the quotas add up to the units).
 */
function makeRoom(u: Unit, order: Unit[], loads: Loads, quota: Int32Array, ties: readonly TieBreak[]): number {
  // Units by CPU (unplaced ones under -1, never a candidate).
  const on = new Map<number, Unit[]>();
  for (const v of order) {
    const list = on.get(v.cpu);
    if (list) list.push(v);
    else on.set(v.cpu, [v]);
  }
  for (const c of u.candidates) {
    for (const v of on.get(c) ?? []) {
      const open = pickCpu(v, loads, null, quota, ties);
      if (open < 0) continue;
      loads.remove(c, v.nic);
      loads.add(open, v.nic);
      v.cpu = open;
      v.kept = false;
      loads.add(c, u.nic);
      return c;
    }
  }
  return -1;
}

/** An rx (tx) vector for a queue index the NIC does not have in sysfs: allocated, not in use. */
function inactiveQueue(irq: IrqInfo, nic: NicInfo): boolean {
  const q = irq.queue!;
  const have = q.role === 'rx' ? nic.rx.length : q.role === 'tx' ? nic.tx.length : 0;
  return have > 0 && q.queue >= have;
}

function placeUnits(units: Unit[], topo: TopoIndex, ties: readonly TieBreak[]): void {
  // Most constrained first; the sort is stable, so units with as many candidates keep their
  // creation order (IRQ number order: deterministic).
  const order = [...units].sort((a, b) => a.candidates.length - b.candidates.length);
  const prevCount = new Int32Array(topo.size);
  // Candidates are online CPUs, all below topo.size (indexTopology): no bound check needed.
  const prevOk = (u: Unit) => u.prev !== null && u.candidateSet.has(u.prev);
  for (const u of order) if (prevOk(u)) prevCount[u.prev!]!++;

  // Phase 1: quotas.
  const quotaLoads = new Loads(topo);
  for (const u of order) {
    const c = pickCpu(u, quotaLoads, prevCount, null, ties);
    if (c >= 0) quotaLoads.add(c, u.nic);
  }
  const quota = quotaLoads.counts();

  // Phase 2: keep what still fits, then fill.
  const loads = new Loads(topo);
  for (const u of order) {
    if (prevOk(u) && loads.cpuLoad(u.prev!) < quota[u.prev!]!) {
      loads.add(u.prev!, u.nic);
      u.cpu = u.prev!;
      u.kept = true;
    }
  }
  for (const u of order) {
    if (u.cpu >= 0) continue;
    const open = pickCpu(u, loads, null, quota, ties);
    if (open >= 0) {
      u.cpu = open;
      loads.add(open, u.nic);
      continue;
    }
    // Room is always made for a unit phase 1 placed (makeRoom says why). A unit without
    // candidates (no CPU online: a broken tree) stays at -1 and is left alone.
    u.cpu = makeRoom(u, order, loads, quota, ties);
  }
}

/** Previous CPU of a unit: the recorded one, else a current single-CPU mask (an earlier run). */
function previousCpu(key: string, irqs: IrqInfo[], opts: PlanOptions): number | null {
  const recorded = opts.previous?.get(key);
  if (recorded !== undefined) return recorded;
  // A unit has at least one IRQ, and only IRQs with a readable mask (decideIrq leaves the rest alone).
  const aff = irqs[0]!.affinity!;
  if (aff.length === 1 && irqs.every((i) => equalSets(i.affinity!, aff))) return aff[0]!;
  return null;
}

/** Split CPUs among tx queues for XPS: each queue's IRQ CPU, the rest to the closest queue. */
function xpsMasks(queueCpus: Map<number, number>, txIndexes: number[], candidates: number[], cpuInfo: Map<number, CpuInfo>): Map<number, number[]> {
  const masks = new Map<number, number[]>(txIndexes.map((i) => [i, []]));
  const owner = new Map<number, number>(); // cpu → tx queue
  const served = new Set<number>(); // tx queues that have a CPU
  for (const q of txIndexes) {
    const c = queueCpus.get(q);
    if (c !== undefined && !owner.has(c)) {
      owner.set(c, q);
      served.add(q);
    }
  }
  // Queues without an IRQ CPU (veth) first get one CPU each; the remaining CPUs go to a queue
  // whose CPU is an SMT sibling or shares the cache, else round-robin.
  const unserved = txIndexes.filter((q) => !served.has(q));
  const nearest = new Map<string, number>(); // coreKey / llc → queue
  for (const [oc, oq] of owner) {
    const oi = cpuInfo.get(oc);
    if (!oi) continue;
    if (!nearest.has(`c${oi.coreKey}`)) nearest.set(`c${oi.coreKey}`, oq);
    if (!nearest.has(`l${oi.llc}`)) nearest.set(`l${oi.llc}`, oq);
  }
  let rr = 0;
  for (const c of candidates) {
    if (owner.has(c)) continue;
    const ci = cpuInfo.get(c);
    let q: number | undefined = unserved.shift();
    if (q === undefined && ci) q = nearest.get(`c${ci.coreKey}`) ?? nearest.get(`l${ci.llc}`);
    if (q === undefined) q = txIndexes[rr++ % txIndexes.length];
    if (q !== undefined) owner.set(c, q);
  }
  for (const [c, q] of owner) masks.get(q)!.push(c);
  for (const [q, m] of masks) masks.set(q, normalize(m));
  return masks;
}

/** What every step of one plan() call reads: the machine, the policy, and decisions made up front. */
interface PlanContext {
  snapshot: Snapshot;
  policy: Policy;
  allowed: number[];
  warnings: string[];
  managed: ReadonlySet<number>;
  nicByName: Map<string, NicInfo>;
  nicSettings: Map<string, Settings>;
  nicScope: Map<string, { cpus: number[]; scope: string }>;
  serial: ReturnType<typeof planSerial>;
}

/**
 * The plan: each IRQ decided on its own (decideIrq) except spread ones, which become units
 * placed together (placeUnits, placementResults); then RPS/XPS per NIC (planSteering).
 */
export function plan(snapshot: Snapshot, policy: Policy, opts: PlanOptions = {}): Plan {
  const { cpus: allowed, warnings } = allowedCpus(snapshot, policy);
  const nodeCpus = new Map(snapshot.topology.nodes.map((n) => [n.id, n.cpus]));
  // [serial:*] decides the IRQs behind the serial ports it matches (src/planner/serial.ts).
  const serial = planSerial(snapshot, policy, allowed);
  warnings.push(...serial.warnings);
  const ctx: PlanContext = { snapshot, policy, allowed, warnings, managed: opts.managedIrqs ?? new Set<number>(), nicByName: new Map(snapshot.nics.map((n) => [n.name, n])), nicSettings: new Map(), nicScope: new Map(), serial };
  for (const nic of snapshot.nics) {
    const s = settingsFor(policy, matchNicSection(policy, nic));
    ctx.nicSettings.set(nic.name, s);
    ctx.nicScope.set(nic.name, nicCandidates(nic, allowed, nodeCpus, s.crossNode));
  }

  const planned = new Map<number, PlannedIrq>();
  // Group spread units. Units of one NIC share one candidate array, so share its Set too.
  const units = new Map<string, Unit>();
  const sets = new Map<number[], Set<number>>();
  const scopeSet = (cpus: number[]) => {
    let set = sets.get(cpus);
    if (!set) sets.set(cpus, (set = new Set(cpus)));
    return set;
  };
  for (const irq of snapshot.irqs) {
    const p = baseRow(ctx, irq);
    planned.set(irq.irq, p);
    const spread = decideIrq(ctx, irq, p);
    if (spread === null) continue;
    let u = units.get(spread.key);
    if (!u) {
      u = { key: spread.key, nic: spread.nic, irqs: [], candidates: spread.scope.cpus, candidateSet: scopeSet(spread.scope.cpus), cpu: -1, kept: false, prev: null, why: spread.scope.scope, policy: spread.policy };
      units.set(spread.key, u);
    }
    u.irqs.push(irq);
  }

  for (const u of units.values()) u.prev = previousCpu(u.key, u.irqs, opts);
  placeUnits([...units.values()], indexTopology(snapshot), opts.tieBreaks ?? TIE_BREAKS);
  const queueCpu = placementResults(units.values(), planned, allowed);

  return {
    allowedCpus: allowed,
    irqs: [...planned.values()].sort((a, b) => a.irq - b.irq),
    queues: planSteering(ctx, queueCpu),
    rpsSockFlowEntries: { current: snapshot.rpsSockFlowEntries, desired: policy.rpsSockFlowEntries },
    warnings,
  };
}

/** An IRQ's row before any decision: what it is, where it is now, left alone. */
function baseRow(ctx: PlanContext, irq: IrqInfo): PlannedIrq {
  return {
    irq: irq.irq,
    name: irq.name,
    device: irq.virtio ?? irq.pci,
    interface: irq.queue?.interface ?? null,
    queue: irq.queue?.queue ?? null,
    role: irq.queue?.role ?? null,
    node: irq.queue ? (ctx.nicByName.get(irq.queue.interface)?.numaNode ?? irq.node) : irq.node,
    current: irq.affinity,
    desired: null,
    reason: 'not a NIC queue and no [irq:] section names it',
    policy: null,
    ...(ctx.serial.ports.has(irq.irq) ? { serial: ctx.serial.ports.get(irq.irq)! } : {}),
  };
}

/**
 * Decide one IRQ's row in place. A spread IRQ is not decided alone: the unit it joins is
 * returned (key, NIC, candidate scope) for placement with the others; null otherwise.
 */
function decideIrq(ctx: PlanContext, irq: IrqInfo, p: PlannedIrq): { key: string; nic: string | null; scope: { cpus: number[]; scope: string }; policy: string } | null {
  if (ctx.managed.has(irq.irq)) {
    p.reason = 'kernel-managed (refused writes): left to the kernel';
    return null;
  }
  if (irq.affinity === null) {
    p.reason = '/proc/irq entry vanished or unreadable';
    return null;
  }
  const nic = irq.queue ? ctx.nicByName.get(irq.queue.interface) : undefined;
  // A port named by what it is beats an [irq:] glob on its name; a NIC queue never is one.
  const serialDecision = nic ? undefined : ctx.serial.irqs.get(irq.irq);
  if (serialDecision) {
    p.desired = serialDecision.desired;
    p.reason = serialDecision.reason;
    p.policy = serialDecision.policy;
    return null;
  }
  if (nic && inactiveQueue(irq, nic)) {
    // virtio-net enables min(queue pairs, online CPUs) pairs at probe and keeps the rest's
    // vectors idle until `ethtool -L`; counting them would skew the balance (seen in the
    // guest lab: a 4-queue NIC on 3 CPUs). A `queues add` uevent re-plans when they start.
    p.reason = `queue not enabled (${nic.name} uses ${irq.queue!.role === 'rx' ? nic.rx.length : nic.tx.length}): left alone`;
    return null;
  }
  const section = nic ? null : matchIrqSection(ctx.policy, irq.name, irq.irq);
  if (!nic && !section) return null;
  const s = nic ? ctx.nicSettings.get(nic.name)! : settingsFor(ctx.policy, section);
  p.policy = s.policy;
  const scope = nic ? ctx.nicScope.get(nic.name)! : { cpus: ctx.allowed, scope: 'all allowed CPUs' };
  switch (s.strategy) {
    case 'ignore':
      p.reason = `ignore (${s.policy})`;
      return null;
    case 'pin': {
      const wanted = s.pin ?? []; // parsePolicy requires a pin; a hand-built policy may lack one
      const pin = intersect(wanted, ctx.allowed);
      if (pin.length === 0) {
        p.reason = `pin ${formatCpuList(wanted)}: none of these CPUs is allowed and online; left alone`;
        ctx.warnings.push(`irq ${irq.irq} (${irq.name}): ${p.reason}`);
      } else {
        p.desired = pin;
        p.reason = `pin ${formatCpuList(pin)} (${s.policy})`;
      }
      return null;
    }
    case 'node':
      if (scope.cpus.length === 0) {
        p.reason = 'node: no CPU to use (none online?): left alone';
        return null;
      }
      p.desired = normalize(scope.cpus);
      p.reason = `node: ${scope.scope}`;
      return null;
    case 'spread':
      return { key: unitKey(nic ? nic.name : null, nic ? irq.queue!.queue : null, irq.irq), nic: nic?.name ?? null, scope, policy: s.policy };
  }
}

/** Write each placed unit's CPU into its IRQs' rows; returns the CPU of each NIC queue ("iface/queue"). */
function placementResults(units: Iterable<Unit>, planned: Map<number, PlannedIrq>, allowed: readonly number[]): Map<string, number> {
  const queueCpu = new Map<string, number>();
  for (const u of units) {
    const { cpu, kept } = u;
    if (cpu < 0) {
      // No candidate CPU at all: leave the IRQ where it is rather than write an empty mask.
      for (const irq of u.irqs) planned.get(irq.irq)!.reason = 'no CPU to spread over (none online?): left alone';
      continue;
    }
    if (u.nic) queueCpu.set(u.key, cpu);
    for (const irq of u.irqs) {
      const p = planned.get(irq.irq)!;
      p.desired = [cpu];
      // A unit that is not kept is never on its previous CPU: a CPU's load only grows after
      // the keep step (makeRoom takes one unit off and puts another on), so a previous CPU
      // with room at the end had room when its unit was considered for keeping.
      const moved = u.prev !== null ? (allowed.includes(u.prev) ? `, moved from ${u.prev} to rebalance` : `, moved: cpu${u.prev} not allowed/online`) : '';
      p.reason = `spread over ${u.why}${kept ? ', kept' : moved}`;
    }
  }
  return queueCpu;
}

/**
 * A queue's RPS CPUs without the CPU its interrupt is placed on, while any other remains. That
 * CPU already runs the driver's poll and GRO for every packet of the queue, and under load it
 * is the one that saturates: Documentation/networking/scaling.rst ("it might be wise to exclude
 * the interrupting CPU from the map since that already performs much work"), and measured in
 * the gateway guest of `npm run bench:gateway` (README). A queue whose IRQ the plan does not
 * place (a veth has none) keeps every CPU.
 */
export function withoutIrqCpu(rpsCpus: readonly number[], irqCpu: number | undefined): number[] {
  if (irqCpu === undefined || rpsCpus.length < 2 || !rpsCpus.includes(irqCpu)) return [...rpsCpus];
  return rpsCpus.filter((c) => c !== irqCpu);
}

/** RPS and XPS per NIC queue. A CPU whose backlog is wedged would drop every packet RPS sends it. */
function planSteering(ctx: PlanContext, queueCpu: ReadonlyMap<string, number>): PlannedQueue[] {
  const cpuInfo = new Map(ctx.snapshot.topology.cpus.map((c) => [c.cpu, c]));
  const stuck = ctx.snapshot.stuckBacklogCpus ?? [];
  if (stuck.length) ctx.warnings.push(`cpu${stuck.join(', cpu')}: NET_RX backlog holds packets but processes none (a kernel problem, cleared by a reboot); left out of RPS masks`);
  const queues: PlannedQueue[] = [];
  for (const nic of ctx.snapshot.nics) {
    const s = ctx.nicSettings.get(nic.name)!;
    const scope = ctx.nicScope.get(nic.name)!;
    const localCpus = normalize(scope.cpus);
    const rpsCpus = stuck.length ? subtract(localCpus, stuck) : localCpus;
    const rpsOn = s.strategy !== 'ignore' && (s.rps === 'on' || (s.rps === 'auto' && nic.rx.length < rpsCpus.length));
    for (const rx of nic.rx) {
      if (rx.rpsCpus === null) continue; // kernel without CONFIG_RPS, or the file vanished
      const desired = s.strategy === 'ignore' ? null : rpsOn ? withoutIrqCpu(rpsCpus, queueCpu.get(`${nic.name}/${rx.index}`)) : [];
      queues.push({
        interface: nic.name,
        queue: rx.index,
        kind: 'rps',
        current: rx.rpsCpus,
        desired,
        flowCnt: rpsOn ? s.rpsFlowCnt : null,
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
  return queues;
}

/**
 * A unit's key, in the state file and for the previous placement: `iface/queue` for a NIC
 * queue, `irq:N` for any other IRQ. Interface names cannot contain ':' or '/' (the kernel's
 * dev_valid_name), so the two forms never meet; `irq/N` did, for an interface named `irq`.
 * A state file written before keeps `irq/N` keys: those IRQs fall back to their current
 * single-CPU mask as their previous placement (previousCpu), which is where the last pass put
 * them unless the machine rebooted since.
 */
export function unitKey(iface: string | null, queue: number | null, irq: number): string {
  return iface !== null ? `${iface}/${queue}` : `irq:${irq}`;
}

/** The placement to remember for the next re-plan (state file, running agent). */
export function assignmentOf(p: Plan): Map<string, number> {
  const out = new Map<string, number>();
  for (const i of p.irqs) {
    if (!i.desired || i.desired.length !== 1) continue;
    // A queue IRQ's row has both its interface and its queue; any other row neither.
    out.set(unitKey(i.interface, i.queue, i.irq), i.desired[0]!);
  }
  return out;
}

export type { CpuSet };
