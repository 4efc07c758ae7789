// reconciler — the one owner of a pass. It holds what lives between passes (the last applied
// state and its file, the managed-IRQ memory inside it, the topology cache, the serial notes
// already given) and has two entry points:
//   preview()  snapshot → plan, writing nothing: `affinityd plan`;
//   pass()     snapshot → plan → diff → write/verify → audit → state: `affinityd apply` and
//              every agent pass (level-triggered: each pass looks at the whole system, so a
//              lost event or a late rename can never leave a wrong state behind).
// Both plan through planFor() (reconcile.ts), so a preview shows exactly what a pass given the
// same state would write (test/reconciler-property.test.ts checks it over fixture trees).

import type { ApplyOptions, ApplyReport } from '../applier/applier.js';
import type { TopologyCache } from '../snapshot/cpus.js';
import { enumerateSerialPorts, type EnumerateOptions } from '../snapshot/serial.js';
import { takeSnapshot } from '../snapshot/snapshot.js';
import { readState, stateFilePath, writeState, type AppliedState } from '../state/state.js';
import type { Plan, Policy, Snapshot } from '../types.js';
import { driftOf, type Drift } from './drift.js';
import { countOutcomes, planFor, reconcile, type AuditSink, type PhaseTimes } from './reconcile.js';

export interface ReconcilerOptions {
  root: string;
  policy: Policy;
  /** Where change, skip, failure and summary records go; none for a dry run or a preview. */
  audit?: AuditSink;
  /** Notes about the serial port list (udevadm missing…), each given once per Reconciler. */
  note?: (text: string) => void;
  /** Keep static per-CPU topology between passes (the agent; forgetTopology() on CPU add/remove). */
  cacheTopology?: boolean;
  /** Clock for appliedAt and managed-IRQ expiry (tests). */
  now?: () => Date;
  /** Applier seams (tests: injected write errors). */
  apply?: Pick<ApplyOptions, 'writeFile' | 'netAdmin'>;
  /** udev's port list, replaced (tests: a fixture tree has no udev; the host's is udevadm's). */
  serialList?: EnumerateOptions['list'];
}

export interface PassOptions {
  dryRun?: boolean;
  /** When to persist the state: after every pass, or only when it changed (something written or failed, targets gone). */
  save?: 'always' | 'if-changed';
  /**
   * Only CPUs went online/offline since the last pass: refresh its snapshot (the CPU sets and
   * the masks, snapshot/refresh) instead of reading everything. Without a last snapshot, or
   * when the refresh gives up, the pass reads everything.
   */
  refresh?: boolean;
}

export interface PassResult {
  snapshot: Snapshot;
  plan: Plan;
  report: ApplyReport;
  /** Snapshot/plan rounds taken (a CPU going offline mid-apply forces another). */
  passes: number;
  /** Why the state could not be saved (errno code or message); null when saved or not due. */
  saveError: string | null;
  /** Where the pass's time went (reconcile's phases and the state file). */
  phases: PhaseTimes;
}

export interface Preview {
  snapshot: Snapshot;
  plan: Plan;
}

/**
 * The state file lives under the root too, so fixture runs never touch the host's state; its
 * directory is resolved inside the root (PathEscapeError when links would take it outside).
 */
export function stateFileOf(root: string, policy: Policy): string {
  return stateFilePath(root, policy.agent.stateFile);
}

function sameState(a: AppliedState, b: AppliedState): boolean {
  const key = (s: AppliedState) => JSON.stringify([s.targets, s.assignment, s.managed]);
  return key(a) === key(b);
}

export class Reconciler {
  readonly root: string;
  readonly stateFile: string;
  /** Why the state file was ignored at start (unreadable, corrupt); null when fine or absent. */
  readonly stateProblem: string | null;
  private currentPolicy: Policy;
  private currentState: AppliedState;
  private readonly topologyCache: TopologyCache | undefined;
  private readonly notesGiven = new Set<string>();
  /** The last pass's snapshot (for a refresh); null after a failed pass. */
  private lastSnapshot: Snapshot | null = null;
  /** The drift check's snapshot, for the pass right after it (the agent's start). */
  private driftSnapshot: Snapshot | null = null;

  constructor(private readonly opts: ReconcilerOptions) {
    this.root = opts.root;
    this.currentPolicy = opts.policy;
    // Fixed at start: a reload that names another state file must not lose the placement.
    this.stateFile = stateFileOf(opts.root, opts.policy);
    const { state, problem } = readState(this.stateFile);
    this.currentState = state;
    this.stateProblem = problem;
    this.topologyCache = opts.cacheTopology ? new Map() : undefined;
  }

  get policy(): Policy {
    return this.currentPolicy;
  }

  /** A reloaded policy takes effect from the next pass on. */
  setPolicy(policy: Policy): void {
    this.currentPolicy = policy;
  }

  get state(): AppliedState {
    return this.currentState;
  }

  /** Physical CPU hotplug (or a missed event) can change the topology: read it afresh. */
  forgetTopology(): void {
    // The last snapshot stays: a refresh re-reads the topology, and what it keeps (IRQs, NICs)
    // does not change with CPU hotplug. A caller that doubts more takes a full snapshot.
    this.topologyCache?.clear();
    this.driftSnapshot = null;
  }

  /**
   * What the kernel (or another tool) changed since the last applied plan. Its snapshot is
   * also the next pass's (when that needs no serial ports), so a start reads the tree once,
   * not twice: ~160 000 files on a 1024-CPU machine. That pass still reads back every write.
   */
  drift(): Drift[] {
    const snapshot = takeSnapshot(this.root, { serial: false, ...(this.topologyCache ? { topologyCache: this.topologyCache } : {}) });
    this.driftSnapshot = this.hasSerialSections() ? null : snapshot;
    return driftOf(this.currentState, snapshot);
  }

  /** Snapshot and plan, writing nothing: what pass() would do now. */
  async preview(): Promise<Preview> {
    const snapshot = await this.look();
    return { snapshot, plan: planFor(snapshot, this.currentPolicy, this.currentState, this.opts.now?.() ?? new Date()) };
  }

  async pass(trigger: string, opts: PassOptions = {}): Promise<PassResult> {
    const ports = await this.serialPorts();
    const before = this.currentState;
    const refreshFrom = opts.refresh ? this.lastSnapshot : null;
    const taken = this.driftSnapshot;
    this.lastSnapshot = null;
    this.driftSnapshot = null;
    const result = reconcile({
      root: this.root,
      policy: this.currentPolicy,
      state: before,
      trigger,
      ...(opts.dryRun ? { dryRun: true } : {}),
      ...(this.opts.audit ? { audit: this.opts.audit } : {}),
      ...(ports ? { serial: ports } : {}),
      snapshot: this.snapshotOptions(),
      ...(this.opts.now ? { now: this.opts.now } : {}),
      ...(this.opts.apply ? { apply: this.opts.apply } : {}),
      ...(refreshFrom ? { refreshFrom } : taken ? { taken } : {}),
    });
    if (!opts.dryRun) this.lastSnapshot = result.snapshot;
    this.currentState = result.state;
    const n = countOutcomes(result.report);
    // Also when nothing was written but what is managed changed: a removed NIC's targets must
    // leave the state, or the next start reports them as drift.
    const changed = n.applied + n.failed > 0 || !sameState(before, result.state);
    const due = !opts.dryRun && result.report.permissionError === null && (opts.save === 'always' || changed);
    const t = process.hrtime.bigint();
    const saveError = due ? this.save() : null;
    const phases = { ...result.phases, save: Number(process.hrtime.bigint() - t) / 1e6 };
    return { snapshot: result.snapshot, plan: result.plan, report: result.report, passes: result.passes, saveError, phases };
  }

  private async look(): Promise<Snapshot> {
    return this.snapshot(await this.serialPorts());
  }

  private snapshot(ports: Snapshot['serial'] | undefined): Snapshot {
    const snapshot = takeSnapshot(this.root, this.snapshotOptions());
    if (ports) snapshot.serial = ports;
    return snapshot;
  }

  private snapshotOptions(): { serial: boolean; topologyCache?: TopologyCache } {
    // Serial ports matter only to [serial:*] sections; reading them costs a pass time.
    return { serial: this.hasSerialSections(), ...(this.topologyCache ? { topologyCache: this.topologyCache } : {}) };
  }

  private hasSerialSections(): boolean {
    return (this.currentPolicy.serialSections?.length ?? 0) > 0;
  }

  /**
   * udev's view of the serial ports (through @serialport/bindings-cpp) — only when a
   * [serial:*] section could use it: listing runs udevadm (~70 ms here), which a hotplug pass
   * should not pay for nothing. Without it the snapshot's sysfs view is used.
   */
  private async serialPorts(): Promise<Snapshot['serial'] | undefined> {
    if (!this.hasSerialSections()) return undefined;
    const e = await enumerateSerialPorts({ root: this.root, seen: this.notesGiven, list: this.opts.serialList });
    for (const n of e.notes) this.opts.note?.(n);
    return e.ports;
  }

  private save(): string | null {
    try {
      writeState(this.stateFile, this.currentState);
      return null;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    }
  }
}
