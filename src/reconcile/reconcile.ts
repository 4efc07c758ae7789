// reconcile — one level-triggered pass: snapshot → plan → diff → apply → audit → state, with
// the state passed in and returned (the Reconciler, reconciler.ts, owns and persists it).
// Every plan is made by planFor(): `plan` (Reconciler.preview), `apply` and each agent pass,
// so a preview shows exactly what a pass given the same state would write. The steps around
// the planner — what it is told (plannerInputs), the state a pass leaves (nextState), the
// audit record of a change (changeRecord) — are pure.

import { applyWrites, type ApplyOptions, type ApplyReport, type ChangeResult } from '../applier/applier.js';
import { diffPlan } from '../applier/diff.js';
import { changeMessage, irqSubject, type AuditRecord } from '../audit/records.js';
import { formatCpuList } from '../cpumask/cpumask.js';
import { assignmentOf, plan as makePlan, type PlanOptions } from '../planner/planner.js';
import { takeSnapshot, type SnapshotOptions } from '../snapshot/snapshot.js';
import { refreshAfterCpuChange, refreshTargets } from '../snapshot/refresh.js';
import type { AppliedState } from '../state/state.js';
import { irqTarget, queueTarget } from '../targets.js';
import type { Plan, Policy, SerialPortInfo, Snapshot } from '../types.js';
import { isoTime } from '../text/iso-time.js';

export interface AuditSink {
  record(r: AuditRecord): void;
}

export interface PassResult {
  snapshot: Snapshot;
  plan: Plan;
  report: ApplyReport;
  /** State after this pass (the Reconciler persists it). */
  state: AppliedState;
  /** Snapshot/plan passes taken (a CPU going offline mid-apply forces another). */
  passes: number;
  /** Where the pass's time went (ms per phase, summed over its rounds): the bench reports them. */
  phases: PhaseTimes;
}

/** Milliseconds per phase of a pass, in the order they run. */
export interface PhaseTimes {
  /** Full snapshot, or the refresh of the last one (snapshot/refresh); after a CPU event, the write-first round's. */
  snapshot: number;
  /** After a CPU event: the full refresh the write-first round is followed by. */
  refresh: number;
  /** Managed-IRQ set and the plan. */
  plan: number;
  /** Diff, then every write with its read-back. */
  write: number;
  /** Audit records of the changes and the summary. */
  audit: number;
  /** The state file (Reconciler.pass; 0 when not due). */
  save: number;
}

export function noPhases(): PhaseTimes {
  return { snapshot: 0, refresh: 0, plan: 0, write: 0, audit: 0, save: 0 };
}

const msSince = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1e6;

export interface PassOptions {
  root: string;
  policy: Policy;
  state: AppliedState;
  trigger: string;
  dryRun?: boolean;
  audit?: AuditSink;
  /** Serial ports as udev lists them; default: the snapshot's sysfs view. */
  serial?: SerialPortInfo[];
  snapshot?: SnapshotOptions;
  /**
   * The last pass's snapshot, when nothing but CPUs going online/offline happened since: only
   * what that can change is read again (snapshot/refresh). A re-plan takes a full snapshot.
   */
  refreshFrom?: Snapshot;
  /** A full snapshot the caller has just taken (the agent's drift check at start): round 1 plans from it. */
  taken?: Snapshot;
  /** Clock for managed-IRQ expiry (tests). */
  now?: () => Date;
  /** Applier seams (tests: injected write errors). */
  apply?: Pick<ApplyOptions, 'writeFile' | 'netAdmin'>;
}

/**
 * How long an IRQ that refused a write (EPERM/EIO) is left alone before it is tried again.
 * Kernel-managed IRQs refuse every time, and one skipped-managed record an hour is cheap;
 * an immutable file that was fixed, or a transient refusal, must not be skipped forever.
 */
export const MANAGED_RETRY_MS = 60 * 60 * 1000;

function subjectOf(c: ChangeResult): string {
  const w = c.write;
  if (w.kind === 'irq') return irqSubject(w.irq!, w.interface ? `${w.interface} ${w.queue}` : undefined);
  if (w.kind === 'sysctl') return 'net.core.rps_sock_flow_entries';
  // The target is cpuOnlineTarget()'s `cpu/N/online`.
  if (w.kind === 'cpu-online') return `cpu${w.target.split('/')[1]} online`;
  return `${w.interface} ${w.queue} ${w.kind}`;
}

export function changeRecord(c: ChangeResult, trigger: string): AuditRecord | null {
  const w = c.write;
  const fields = {
    target: w.target,
    ...(w.irq !== undefined ? { irq: w.irq } : {}),
    ...(w.interface ? { interface: w.interface } : {}),
    ...(w.queue ? { queue: w.queue } : {}),
    old: w.old,
    new: w.new,
    trigger,
    ...(w.policy ? { policy: w.policy } : {}),
  };
  const base = changeMessage(subjectOf(c), w.old, w.new, trigger);
  switch (c.outcome) {
    case 'applied':
      return { kind: 'applied', message: base, ...fields };
    case 'skipped-managed':
      return { kind: 'skipped-managed', message: `${base} skipped: kernel-managed (${c.error})`, ...fields, error: c.error ?? '' };
    case 'skipped-vanished':
      return { kind: 'skipped-vanished', message: `${base} skipped: vanished (${c.error})`, ...fields, error: c.error ?? '' };
    case 'failed':
    case 'permission-denied':
    case 'needs-replan':
      return { kind: 'failed', message: `${base} failed: ${c.error}`, ...fields, error: c.error ?? c.outcome };
    default:
      return null;
  }
}

/** IRQs the planner leaves alone: refused recently, and still the same device (name). */
export function managedSet(state: AppliedState, snapshot: Snapshot, now: Date): Set<number> {
  // An IRQ number reused by another device after a rebind is not the IRQ that refused.
  const names = new Map(snapshot.irqs.map((i) => [i.irq, i.name]));
  const out = new Set<number>();
  for (const [irq, name] of Object.entries(state.managed)) {
    if (names.get(Number(irq)) !== name) continue;
    const since = Date.parse(state.managedSince?.[irq] ?? state.appliedAt);
    // Unknown age counts as fresh: retried one MANAGED_RETRY_MS after this pass records it.
    if (Number.isNaN(since) || now.getTime() - since < MANAGED_RETRY_MS) out.add(Number(irq));
  }
  return out;
}

/** What the planner is told about the last applied state: placement (stability) and refusals in force. */
export function plannerInputs(state: AppliedState, snapshot: Snapshot, now: Date): Required<Omit<PlanOptions, 'tieBreaks'>> {
  return { previous: new Map(Object.entries(state.assignment)), managedIrqs: managedSet(state, snapshot, now) };
}

/** The one way a plan is made, for a preview and for a pass alike. */
export function planFor(snapshot: Snapshot, policy: Policy, state: AppliedState, now: Date): Plan {
  return makePlan(snapshot, policy, plannerInputs(state, snapshot, now));
}

/** The state a pass leaves behind: what it applied and verified, and the refusals in force. */
export function nextState(state: AppliedState, snapshot: Snapshot, plan: Plan, report: ApplyReport, managedIrqs: ReadonlySet<number>, trigger: string, now: Date): AppliedState {
  const at = isoTime(now);
  // Refusals still in force carry over; expired ones were retried by this pass and are
  // forgotten unless refused again; new refusals start their hour now.
  const managed: Record<string, string> = {};
  const since: Record<string, string> = {};
  for (const irq of managedIrqs) {
    managed[irq] = state.managed[irq]!;
    since[irq] = state.managedSince?.[irq] ?? (state.appliedAt || at);
  }
  const names = new Map(snapshot.irqs.map((i) => [i.irq, i.name]));
  for (const irq of report.managed) {
    managed[irq] = names.get(irq) ?? '';
    since[irq] = at;
  }
  // Record only what is really in place: a target whose write failed, was refused or was
  // not attempted still holds its old value, and recording the plan's value for it would
  // show up as false drift at the next start.
  const notInPlace = new Set<string>();
  for (const c of report.changes) if (c.outcome !== 'applied') notInPlace.add(c.write.target);
  const targets: Record<string, string> = {};
  const put = (target: string, cpus: readonly number[]): void => {
    if (!notInPlace.has(target)) targets[target] = formatCpuList(cpus);
  };
  for (const p of plan.irqs) if (p.desired) put(irqTarget(p.irq), p.desired);
  for (const q of plan.queues) if (q.desired) put(queueTarget(q.interface, q.kind, q.queue), q.desired);
  return {
    version: 1,
    appliedAt: at,
    trigger,
    assignment: Object.fromEntries(assignmentOf(plan)),
    managed,
    ...(Object.keys(managed).length > 0 ? { managedSince: since } : {}),
    targets,
  };
}

export function reconcile(opts: PassOptions): PassResult {
  let state = opts.state;
  const now = opts.now ?? (() => new Date());
  const allChanges: ChangeResult[] = [];
  // The changes the summary counts: the write-first round's and the last round's (a round
  // cut short by a CPU going offline is re-planned, and its EINVALs are not failures).
  const counted: ChangeResult[] = [];
  const phases = noPhases();
  const cache = opts.snapshot?.topologyCache;
  // Write first (issue 14): after CPUs went online/offline, round 1 plans from the last
  // snapshot with only the CPU sets and the last applied targets' masks read again, and
  // writes; round 2 refreshes everything else and plans again, writing only what round 1 got
  // wrong. Both rounds read back what they write.
  let writeFirst = false;
  for (let passes = 1; ; passes++) {
    let t = process.hrtime.bigint();
    let snapshot: Snapshot | null = null;
    if (passes === 1 && opts.refreshFrom) {
      snapshot = refreshTargets(opts.refreshFrom, new Set(Object.keys(state.targets)), cache);
      writeFirst = snapshot !== null;
    } else if (passes === 2 && writeFirst && opts.refreshFrom) {
      snapshot = refreshAfterCpuChange(opts.refreshFrom, cache);
    } else if (passes === 1 && opts.taken) {
      snapshot = opts.taken;
    }
    snapshot ??= takeSnapshot(opts.root, opts.snapshot);
    if (opts.serial) snapshot.serial = opts.serial;
    if (passes === 2 && writeFirst) phases.refresh += msSince(t);
    else phases.snapshot += msSince(t);
    t = process.hrtime.bigint();
    const at = now();
    const managedIrqs = managedSet(state, snapshot, at);
    const plan = planFor(snapshot, opts.policy, state, at);
    phases.plan += msSince(t);
    t = process.hrtime.bigint();
    const report = applyWrites(diffPlan(plan, snapshot.topology.nrCpuIds), { ...opts.apply, root: opts.root, ...(opts.dryRun ? { dryRun: true } : {}) });
    phases.write += msSince(t);
    t = process.hrtime.bigint();
    allChanges.push(...report.changes);
    for (const c of report.changes) {
      const r = changeRecord(c, opts.trigger);
      if (r) opts.audit?.record(r);
    }
    phases.audit += msSince(t);
    if (!opts.dryRun) state = nextState(state, snapshot, plan, report, managedIrqs, opts.trigger, now());
    const firstOfTwo = passes === 1 && writeFirst;
    // A CPU went offline between snapshot and write: look again (bounded: hotplug storms end).
    const replan = report.needsReplan && passes < (writeFirst ? 4 : 3);
    if (report.permissionError === null && (firstOfTwo || replan)) {
      if (firstOfTwo && !report.needsReplan) counted.push(...report.changes);
      continue;
    }
    counted.push(...report.changes);
    t = process.hrtime.bigint();
    const counts = countOutcomes({ changes: counted });
    opts.audit?.record({
      kind: 'plan-summary',
      message: `plan applied (${opts.trigger}): ${counts.applied} changed, ${counts.skipped} skipped, ${counts.failed} failed; CPUs ${formatCpuList(plan.allowedCpus)}`,
      trigger: opts.trigger,
    });
    phases.audit += msSince(t);
    return { snapshot, plan, report: { ...report, changes: allChanges }, state, passes, phases };
  }
}

export function countOutcomes(report: Pick<ApplyReport, 'changes'>): { applied: number; skipped: number; failed: number } {
  let applied = 0;
  let skipped = 0;
  let failed = 0;
  for (const c of report.changes) {
    if (c.outcome === 'applied' || c.outcome === 'dry-run') applied++;
    else if (c.outcome.startsWith('skipped') || c.outcome === 'not-attempted') skipped++;
    else failed++;
  }
  return { applied, skipped, failed };
}
