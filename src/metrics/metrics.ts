// metrics — the agent's Prometheus metrics, built with prom-client (the standard Node client:
// text exposition format, label validation and histogram buckets are not ours to get wrong).
//
// One registry per agent (no prom-client global: two agents in one test process must not
// share counters). It is fed by what the agent already has — each event as it arrives, each
// drop a netlink source reports, each pass's report and plan, policy reloads, drift at
// start — and read by the two exporters, textfile.ts and listener.ts. Nothing here exports
// what node_exporter already does (per-CPU softirq time is node_cpu_seconds_total{mode=
// "softirq"}; the alert rules combine the two).

import { createRequire } from 'node:module';
import type { Counter as CounterT, Gauge as GaugeT, Histogram as HistogramT, Registry as RegistryT } from 'prom-client';
import type { ChangeResult } from '../applier/applier.js';
import type { Plan } from '../types.js';

/**
 * What the metrics need of an agent event: its kind (and a resync's reason). Structural, so
 * that this module does not import the agent that feeds it (the agent imports metrics).
 */
export interface ObservedEvent {
  kind: string;
  reason?: string;
}

// The four classes this module uses, each from its own file: prom-client's index also loads
// the default process metrics, Summary (with tdigest), the Pushgateway (http, https) and the
// cluster aggregator, 9.6 MB of RSS in an agent that uses none of them (bench/idle, issue 14).
const require = createRequire(import.meta.url);
const Counter = require('prom-client/lib/counter.js') as typeof CounterT;
const Gauge = require('prom-client/lib/gauge.js') as typeof GaugeT;
const Histogram = require('prom-client/lib/histogram.js') as typeof HistogramT;
const Registry = require('prom-client/lib/registry.js') as typeof RegistryT;
type Counter<L extends string> = CounterT<L>;
type Gauge<L extends string> = GaugeT<L>;
type Histogram<L extends string> = HistogramT<L>;

/** Outcomes a write is counted under (README: writes by outcome). */
export const WRITE_OUTCOMES = ['applied', 'skipped-managed', 'skipped-vanished', 'failed'] as const;
export type WriteOutcome = (typeof WRITE_OUTCOMES)[number];

/** What the agent reports for one finished pass. */
export interface PassObservation {
  /** Kind of the event that opened the batch (`cpu`, `net`, `link`…), or `boot` / `start`. */
  trigger: string;
  seconds: number;
  changes: readonly ChangeResult[];
  plan: Plan;
}

/** Sources of agent events, as labels: where the kernel (or the operator) spoke. */
export function sourceOf(e: ObservedEvent): 'uevent' | 'rtnetlink' | 'signal' | 'agent' {
  switch (e.kind) {
    case 'link':
      return 'rtnetlink';
    case 'reload':
      return 'signal';
    case 'resync':
      return 'agent';
    default:
      return 'uevent';
  }
}

/** A resync's free-text reason as a bounded label value. */
export function resyncReason(reason: string): string {
  if (/overrun/.test(reason)) return 'overrun';
  if (/re-opened/.test(reason)) return 'source-reopened';
  if (/undecodable/.test(reason)) return 'undecodable';
  if (reason === 'periodic') return 'periodic';
  return 'other';
}

/** A dropped message's free-text reason (from the netlink sources) as a bounded label value. */
export function dropReason(why: string): string {
  if (/userspace port/.test(why)) return 'untrusted-sender';
  if (/malformed|undecodable|invalid/i.test(why)) return 'malformed';
  return 'other';
}

/** Outcome label for a change, or null for outcomes that are not writes (dry-run, not-attempted). */
export function writeOutcome(c: ChangeResult): WriteOutcome | null {
  switch (c.outcome) {
    case 'applied':
    case 'skipped-managed':
    case 'skipped-vanished':
      return c.outcome;
    case 'failed':
    case 'permission-denied':
    case 'needs-replan':
      return 'failed';
    default:
      return null;
  }
}

/**
 * Most and fewest planned NIC queue IRQs on one allowed CPU: the plan's balance in two
 * numbers (a spread plan on C CPUs with U queues has max − min ≤ 1). IRQs the plan leaves
 * alone are not counted.
 */
export function queueBalance(plan: Plan): { max: number; min: number } {
  const perCpu = new Map<number, number>(plan.allowedCpus.map((c) => [c, 0]));
  for (const p of plan.irqs) {
    if (p.interface === null || p.desired === null) continue;
    for (const cpu of p.desired) if (perCpu.has(cpu)) perCpu.set(cpu, perCpu.get(cpu)! + 1);
  }
  if (perCpu.size === 0) return { max: 0, min: 0 };
  let max = 0;
  let min = Infinity;
  for (const n of perCpu.values()) {
    if (n > max) max = n;
    if (n < min) min = n;
  }
  return { max, min };
}

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly passes: Counter<'trigger'>;
  private readonly passSeconds: Histogram<string>;
  private readonly passFailures: Counter<string>;
  private readonly writes: Counter<'outcome' | 'target'>;
  private readonly events: Counter<'source' | 'kind'>;
  private readonly dropped: Counter<'source' | 'reason'>;
  private readonly resyncs: Counter<'reason'>;
  private readonly reloads: Counter<'result'>;
  private readonly drift: Gauge<string>;
  private readonly lastPass: Gauge<string>;
  private readonly lastSuccess: Gauge<string>;
  private readonly up: Gauge<string>;
  private readonly balance: Gauge<'stat'>;
  private readonly allowed: Gauge<string>;

  constructor(version: string, private readonly now: () => number = Date.now) {
    const registers = [this.registry];
    new Gauge({ name: 'affinityd_build_info', help: 'affinityd version (value is always 1)', labelNames: ['version'], registers }).set({ version }, 1);
    this.passes = new Counter({ name: 'affinityd_passes_total', help: 'Passes run, by the kind of event that triggered them (boot, start, cpu, net, link, resync, reload…)', labelNames: ['trigger'], registers });
    this.passSeconds = new Histogram({
      name: 'affinityd_pass_duration_seconds',
      help: 'Duration of one pass: snapshot, plan, write, verify, audit',
      // Passes take ~4 ms on a quiet VM, 10-20 ms right after a CPU comes online (README).
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.passFailures = new Counter({ name: 'affinityd_pass_errors_total', help: 'Passes that ended in an unexpected error (the agent went on)', registers });
    this.writes = new Counter({ name: 'affinityd_writes_total', help: 'Writes to kernel targets by outcome (applied, skipped-managed, skipped-vanished, failed) and target kind (irq, rps, xps, rps-flow-cnt, sysctl)', labelNames: ['outcome', 'target'], registers });
    this.events = new Counter({ name: 'affinityd_kernel_events_total', help: 'Events received, by source (uevent, rtnetlink, signal, agent) and kind', labelNames: ['source', 'kind'], registers });
    this.dropped = new Counter({ name: 'affinityd_kernel_events_dropped_total', help: 'Kernel messages dropped, by source and reason (untrusted-sender, malformed, overrun)', labelNames: ['source', 'reason'], registers });
    this.resyncs = new Counter({ name: 'affinityd_resyncs_total', help: 'Full resyncs requested, by reason (overrun, source-reopened, undecodable, periodic)', labelNames: ['reason'], registers });
    this.reloads = new Counter({ name: 'affinityd_policy_reloads_total', help: 'Policy reloads (SIGHUP), by result (accepted, rejected)', labelNames: ['result'], registers });
    this.drift = new Gauge({ name: 'affinityd_drift_at_start_targets', help: 'Targets the kernel had changed since the last applied plan, found when the agent started', registers });
    this.lastPass = new Gauge({ name: 'affinityd_last_pass_timestamp_seconds', help: 'Unix time the last pass ended, successful or not', registers });
    this.lastSuccess = new Gauge({ name: 'affinityd_last_successful_pass_timestamp_seconds', help: 'Unix time of the last pass that ended with no failed write', registers });
    // Liveness without a timer: the textfile outlives the agent, so it says 0 once the agent
    // is gone — written by the agent when it stops, and by the unit's ExecStopPost= after
    // any exit (a crash, SIGKILL, the watchdog). An idle agent wakes for nothing.
    this.up = new Gauge({ name: 'affinityd_up', help: 'Whether the agent runs: 1 while it does, 0 once it stopped (set by the agent, and by the unit\'s ExecStopPost= after a crash)', registers });
    this.balance = new Gauge({ name: 'affinityd_plan_queue_irqs_per_cpu', help: 'Most (stat="max") and fewest (stat="min") planned NIC queue IRQs on one allowed CPU', labelNames: ['stat'], registers });
    this.allowed = new Gauge({ name: 'affinityd_plan_allowed_cpus', help: 'CPUs the plan may use for device IRQs', registers });
    // Zero series up front, so rate() and alerts see 0 rather than "no data" until the first one.
    for (const outcome of WRITE_OUTCOMES) for (const target of ['irq', 'rps', 'xps']) this.writes.inc({ outcome, target }, 0);
    for (const result of ['accepted', 'rejected']) this.reloads.inc({ result }, 0);
    this.drift.set(0);
    this.up.set(1);
  }

  event(e: ObservedEvent): void {
    this.events.inc({ source: sourceOf(e), kind: e.kind });
    if (e.kind === 'resync') {
      const reason = resyncReason(e.reason ?? '');
      this.resyncs.inc({ reason });
      // An overrun is the kernel dropping messages our socket had no room for.
      if (reason === 'overrun') this.dropped.inc({ source: /rtnetlink/.test(e.reason ?? '') ? 'rtnetlink' : 'uevent', reason: 'overrun' });
    }
  }

  droppedMessage(source: string, why: string): void {
    this.dropped.inc({ source, reason: dropReason(why) });
  }

  pass(p: PassObservation): void {
    this.passes.inc({ trigger: p.trigger });
    this.passSeconds.observe(p.seconds);
    let failed = 0;
    for (const c of p.changes) {
      const outcome = writeOutcome(c);
      if (outcome === null) continue;
      if (outcome === 'failed') failed++;
      this.writes.inc({ outcome, target: c.write.kind });
    }
    const b = queueBalance(p.plan);
    this.balance.set({ stat: 'max' }, b.max);
    this.balance.set({ stat: 'min' }, b.min);
    this.allowed.set(p.plan.allowedCpus.length);
    const t = this.now() / 1000;
    this.lastPass.set(t);
    if (failed === 0) this.lastSuccess.set(t);
  }

  /** A pass that threw (a bug or an unexpected errno): counted, and not a success. */
  passError(trigger: string, seconds: number): void {
    this.passes.inc({ trigger });
    this.passSeconds.observe(seconds);
    this.passFailures.inc();
    this.lastPass.set(this.now() / 1000);
  }

  reload(result: 'accepted' | 'rejected'): void {
    this.reloads.inc({ result });
  }

  driftAtStart(targets: number): void {
    this.drift.set(targets);
  }

  /** The agent is stopping: what the textfile says from now on. */
  stopped(): void {
    this.up.set(0);
  }

  /** The text exposition format (what /metrics serves and affinityd.prom holds). */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
