// reconcile — one level-triggered pass: snapshot → plan → diff → apply → audit → state.
// Both `affinityd apply` and every agent re-plan run exactly this, so a lost event or a late
// rename can never leave a wrong state behind: each pass looks at the whole system.

import { applyWrites, type ApplyReport, type ChangeResult } from '../applier/applier.js';
import { diffPlan } from '../applier/diff.js';
import { changeMessage, irqSubject, type AuditRecord } from '../audit/records.js';
import { formatCpuList } from '../cpumask/cpumask.js';
import { assignmentOf, plan as makePlan } from '../planner/planner.js';
import { takeSnapshot, type SnapshotOptions } from '../snapshot/snapshot.js';
import type { AppliedState } from '../state/state.js';
import type { Plan, Policy, SerialPortInfo, Snapshot } from '../types.js';
import { enumerateSerialPorts } from '../serial/enumerate.js';

export interface AuditSink {
  record(r: AuditRecord): void;
}

export interface PassResult {
  snapshot: Snapshot;
  plan: Plan;
  report: ApplyReport;
  /** State after this pass (caller persists it). */
  state: AppliedState;
  /** Snapshot/plan passes taken (a CPU going offline mid-apply forces another). */
  passes: number;
}

export interface PassOptions {
  root: string;
  policy: Policy;
  state: AppliedState;
  trigger: string;
  dryRun?: boolean;
  audit?: AuditSink;
  /** Serial ports as udev lists them (serialPorts()); default: the snapshot's sysfs view. */
  serial?: SerialPortInfo[];
  snapshot?: SnapshotOptions;
}

function subjectOf(c: ChangeResult): string {
  const w = c.write;
  if (w.kind === 'irq') return irqSubject(w.irq!, w.interface ? `${w.interface} ${w.queue}` : undefined);
  if (w.kind === 'sysctl') return 'net.core.rps_sock_flow_entries';
  if (w.kind === 'cpu-online') return w.target.replace(/^cpu\/(\d+)\/online$/, 'cpu$1 online');
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

function managedSet(state: AppliedState, snapshot: Snapshot): Set<number> {
  // An IRQ number reused by another device after a rebind is not the IRQ that refused.
  const names = new Map(snapshot.irqs.map((i) => [i.irq, i.name]));
  const out = new Set<number>();
  for (const [irq, name] of Object.entries(state.managed)) if (names.get(Number(irq)) === name) out.add(Number(irq));
  return out;
}

export function reconcile(opts: PassOptions): PassResult {
  let state = opts.state;
  let passes = 0;
  const allChanges: ChangeResult[] = [];
  for (;;) {
    passes++;
    const snapshot = takeSnapshot(opts.root, opts.snapshot);
    if (opts.serial) snapshot.serial = opts.serial;
    const previous = new Map(Object.entries(state.assignment));
    const plan = makePlan(snapshot, opts.policy, { previous, managedIrqs: managedSet(state, snapshot) });
    const writes = diffPlan(plan, snapshot.topology.nrCpuIds);
    const report = applyWrites(writes, { root: opts.root, ...(opts.dryRun ? { dryRun: true } : {}) });
    allChanges.push(...report.changes);
    for (const c of report.changes) {
      const r = changeRecord(c, opts.trigger);
      if (r) opts.audit?.record(r);
    }
    if (!opts.dryRun) {
      const managed = { ...state.managed };
      const names = new Map(snapshot.irqs.map((i) => [i.irq, i.name]));
      for (const irq of report.managed) managed[irq] = names.get(irq) ?? '';
      const targets: Record<string, string> = {};
      for (const p of plan.irqs) if (p.desired) targets[`irq/${p.irq}`] = formatCpuList(p.desired);
      for (const q of plan.queues) if (q.desired) targets[`net/${q.interface}/${q.kind === 'rps' ? 'rx' : 'tx'}-${q.queue}/${q.kind}`] = formatCpuList(q.desired);
      state = {
        version: 1,
        appliedAt: new Date().toISOString(),
        trigger: opts.trigger,
        assignment: Object.fromEntries(assignmentOf(plan)),
        managed,
        targets,
      };
    }
    // A CPU went offline between snapshot and write: look again (bounded: hotplug storms end).
    if (report.needsReplan && passes < 3 && report.permissionError === null) continue;
    const counts = countOutcomes(report);
    opts.audit?.record({
      kind: 'plan-summary',
      message: `plan applied (${opts.trigger}): ${counts.applied} changed, ${counts.skipped} skipped, ${counts.failed} failed; CPUs ${formatCpuList(plan.allowedCpus)}`,
      trigger: opts.trigger,
    });
    return { snapshot, plan, report: { ...report, changes: allChanges }, state, passes };
  }
}

export function countOutcomes(report: ApplyReport): { applied: number; skipped: number; failed: number } {
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

/**
 * udev's view of the serial ports (through @serialport/bindings-cpp) — only when a
 * [serial:*] section could use it: listing runs udevadm (~70 ms here), which a hotplug pass
 * should not pay for nothing. Notes (udevadm missing…) are reported once per `seen` set.
 */
export async function serialPorts(root: string, policy: Policy, seen: Set<string>, note: (s: string) => void): Promise<SerialPortInfo[] | undefined> {
  if (!policy.serialSections?.length) return undefined;
  const e = await enumerateSerialPorts({ root, seen });
  for (const n of e.notes) note(n);
  return e.ports;
}
