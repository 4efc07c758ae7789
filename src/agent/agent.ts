// agent — `affinityd run`, the composition root: it owns the life cycle and wires
//   kernel event sources → relevance filter → coalesce → exclusive passes (reconcile) → audit.
// Every piece it starts has a matching stop; stopping never depends on another piece's
// stop succeeding (zigbee2mqtt's lesson).

import pino from 'pino';
import { compactHeap } from './heap.js';
import { EMPTY, Observable, concat, defer, filter, ignoreElements, interval, map, merge, of, retry, takeUntil, tap, timer } from 'rxjs';
import { createAuditLog, type AuditLog } from '../audit/audit-log.js';
import { startMetricsExport, type MetricsExport } from '../metrics/export.js';
import { PolicyError, loadPolicy } from '../policy/policy.js';
import { changeRecord, countOutcomes, type PhaseTimes } from '../reconcile/reconcile.js';
import { applyWrites } from '../applier/applier.js';
import { onlineWrites } from '../applier/online.js';
import { Reconciler } from '../reconcile/reconciler.js';
import type { AppliedState } from '../state/state.js';
import { describeEvent, isRelevant, type AgentEvent } from './events.js';
import { createNotifier, type Notifier } from './notify.js';
import { PendingWork, changesTopology } from './pending-work.js';
import { MAX_WAIT_SETTLES, react, type Batch } from './pipeline.js';
import { distinctLinkState, links$ } from './rtnetlink.js';
import { signals$, termination$ } from './signals.js';
import { uevents$ } from './uevent.js';
import * as fs from 'node:fs';

export interface AgentOptions {
  root: string;
  configFile?: string;
  /** Event sources; tests inject their own. Default: kernel uevents + rtnetlink + SIGHUP. */
  sources?: Observable<AgentEvent>;
  audit?: AuditLog;
  /** Operational log (not the audit): pino to stderr by default. */
  log?: pino.Logger;
  /** Called after every pass (tests, bench). */
  onPass?: (info: PassInfo) => void;
}

export interface PassInfo {
  trigger: string;
  events: number;
  changed: number;
  failed: number;
  startedAt: bigint;
  endedAt: bigint;
  /** Where the pass's time went (ms): reconcile's phases, then `report` (STATUS=, metrics, textfile). */
  phases?: PhaseTimes & { report: number };
}

/**
 * A source that never stops silently: on error it is logged and re-subscribed with
 * exponential backoff (250 ms … 30 s), and since what happened while it was down is unknown,
 * a re-opened source starts with a resync event.
 */
export function resilient(name: string, src: Observable<AgentEvent>, log: pino.Logger, backoffMs = (attempt: number) => Math.min(30_000, 250 * 2 ** Math.min(attempt, 7))): Observable<AgentEvent> {
  let opened = 0;
  const reopening = defer(() => (opened++ === 0 ? src : concat(of<AgentEvent>({ kind: 'resync', reason: `${name} source re-opened` }), src)));
  return reopening.pipe(
    retry({
      delay: (err: Error, attempt: number) => {
        const ms = backoffMs(attempt);
        log.error({ source: name, attempt, retryInMs: ms }, `${name} source failed: ${err.message}; retrying`);
        return timer(ms);
      },
      resetOnSuccess: true,
    }),
  );
}

/** Kernel sources (uevents, rtnetlink links) and SIGHUP; `dropped` also hears of each drop (metrics). */
export function kernelSources(log: pino.Logger, dropped?: (source: 'uevent' | 'rtnetlink', why: string) => void): Observable<AgentEvent> {
  const onDropped = (source: 'uevent' | 'rtnetlink') => (why: string) => {
    log.warn({ source: 'netlink' }, why);
    dropped?.(source, why);
  };
  return merge(
    resilient('uevent', uevents$({ onDropped: onDropped('uevent'), recvBufferSize: 4 << 20 }), log),
    resilient('rtnetlink', links$({ onDropped: onDropped('rtnetlink'), recvBufferSize: 1 << 20 }).pipe(distinctLinkState()), log),
    signals$(),
  );
}

function triggerText(b: Batch<AgentEvent>): string {
  const first = b.events.map(describeEvent);
  const unique = [...new Set(first)];
  const text = unique.slice(0, 3).join(', ');
  return b.count > unique.slice(0, 3).length ? `${text} (+${b.count - Math.min(3, unique.length)} more)` : text;
}

/** The drift since the last applied plan, as one audit record: after a reboot or a hotplug reset, every mask moved. */
function reportDrift(reconciler: Reconciler, audit: AuditLog, trigger: string, exported: MetricsExport): void {
  const drift = reconciler.drift();
  exported.metrics.driftAtStart(drift.length);
  if (drift.length === 0) return;
  audit.record({
    kind: 'drift-at-start',
    message: `${drift.length} target(s) changed since the last apply (${reconciler.state.appliedAt}): ${drift.slice(0, 5).map((d) => `${d.target} ${d.recorded} -> ${d.current}`).join(', ')}${drift.length > 5 ? ', …' : ''}`,
    trigger,
  });
}

/** One pass that never throws: a pass that fails (a parse bug, an unexpected errno) must not end the agent. */
function passRunner(reconciler: Reconciler, ctx: { log: pino.Logger; notifier: Notifier; bootTrigger: string; exported: MetricsExport; onPass?: (info: PassInfo) => void }) {
  let permissionError: string | null = null;
  const { metrics } = ctx.exported;
  /**
   * `kind`: what opened the batch (metrics label); `trigger`: the text the audit records;
   * `refresh`: only CPUs went online/offline since the last pass (see Reconciler.pass).
   */
  const run = async (trigger: string, events: number, kind: string, refresh = false): Promise<void> => {
    const startedAt = process.hrtime.bigint();
    try {
      // The first pass always saves: it is the state the next start compares drift with.
      const result = await reconciler.pass(trigger, { save: trigger === ctx.bootTrigger ? 'always' : 'if-changed', refresh });
      const n = countOutcomes(result.report);
      if (result.report.permissionError) {
        ctx.log.error(result.report.permissionError);
        permissionError = result.report.permissionError;
      }
      if (result.saveError) ctx.log.warn(`cannot save state ${reconciler.stateFile}: ${result.saveError}`);
      const reportedFrom = process.hrtime.bigint();
      ctx.notifier.notify(`STATUS=last pass: ${trigger}; ${n.applied} changed, ${n.failed} failed`);
      const endedAt = process.hrtime.bigint();
      metrics.pass({ trigger: kind, seconds: Number(endedAt - startedAt) / 1e9, changes: result.report.changes, plan: result.plan });
      await ctx.exported.flush();
      const phases = { ...result.phases, report: Number(process.hrtime.bigint() - reportedFrom) / 1e6 };
      ctx.onPass?.({ trigger, events, changed: n.applied, failed: n.failed, startedAt, endedAt, phases });
    } catch (e) {
      ctx.log.error({ err: e }, `pass failed (${trigger}): ${(e as Error).message}`);
      metrics.passError(kind, Number(process.hrtime.bigint() - startedAt) / 1e9);
      await ctx.exported.flush();
    }
    // After the writes were verified and reported, and after the I/O that arrived meanwhile
    // (setImmediate): a GC here delays nothing the pass promised (agent/heap).
    setImmediate(compactHeap);
  };
  return { run, permissionError: () => permissionError };
}

/** SIGHUP: re-read the policy; keep the last good one (and say why) when the new one is invalid. */
function policyReloader(reconciler: Reconciler, configOpts: Parameters<typeof loadPolicy>[0], audit: AuditLog, log: pino.Logger, exported: MetricsExport) {
  return (reason: string): void => {
    try {
      const policy = loadPolicy(configOpts);
      reconciler.setPolicy(policy);
      exported.metrics.reload('accepted');
      audit.record({ kind: 'policy-loaded', message: `policy reloaded (${reason}) from ${policy.files.join(', ') || 'built-in defaults'}`, trigger: 'reload' });
    } catch (e) {
      const msg = e instanceof PolicyError ? e.message : (e as Error).message;
      exported.metrics.reload('rejected');
      audit.record({ kind: 'policy-rejected', message: `policy reload refused, keeping the previous policy: ${msg}`, trigger: 'reload', error: msg });
      log.error(`policy reload refused: ${msg}`);
    }
  };
}

/** [cpus] online-hotplugged: online hot-added CPUs before the pass, so the pass balances onto them. */
function onlineHotAdded(cpus: number[], trigger: string, ctx: { root: string; reconciler: Reconciler; audit: AuditLog; log: pino.Logger }): void {
  if (!ctx.reconciler.policy.onlineHotplugged || cpus.length === 0) return;
  const report = applyWrites(onlineWrites(ctx.root, cpus), { root: ctx.root });
  for (const c of report.changes) {
    const r = changeRecord(c, trigger);
    if (r) ctx.audit.record(r);
    if (c.outcome !== 'applied') ctx.log.warn(`cannot online hot-added ${c.write.target}: ${c.error ?? c.outcome}`);
  }
}

/** The agent's own clocks: the periodic resync ([agent] resync-interval) and systemd's watchdog. */
function tickers(resyncIntervalS: number, notifier: Notifier): Observable<AgentEvent> {
  const resync = resyncIntervalS > 0 ? interval(resyncIntervalS * 1000).pipe(map((): AgentEvent => ({ kind: 'resync', reason: 'periodic' }))) : EMPTY;
  const watchdog = notifier.watchdogMs ? interval(notifier.watchdogMs / 2).pipe(tap(() => notifier.notify('WATCHDOG=1')), ignoreElements()) : EMPTY;
  return merge(resync, watchdog);
}

/** Start the agent; resolves with the exit code after SIGTERM/SIGINT (or `stop$`). */
export async function startAgent(opts: AgentOptions, stop$: Observable<unknown> = termination$()): Promise<number> {
  const log = opts.log ?? pino({ name: 'affinityd', base: null }, pino.destination(2));
  const configOpts = { root: opts.root, ...(opts.configFile !== undefined ? { configFile: opts.configFile } : {}) };
  // A policy that does not load at start is fatal (exit 78): there is no last good one yet.
  const policy = loadPolicy(configOpts);
  // Metrics ([metrics]): a listen address that cannot be bound is fatal like a bad policy.
  const exported = await startMetricsExport({ root: opts.root, metricsPolicy: policy.metrics, log: { warn: (m) => log.warn(m), info: (m) => log.info(m) } });
  const audit = opts.audit ?? createAuditLog({ journal: 'auto' });
  const notifier = createNotifier();
  const reconciler = new Reconciler({ root: opts.root, policy, audit, cacheTopology: true, note: (n) => log.warn(n) });
  if (reconciler.stateProblem) log.warn(reconciler.stateProblem);
  audit.record({ kind: 'policy-loaded', message: `policy loaded from ${policy.files.join(', ') || 'built-in defaults'}`, policy: policy.files.join(', ') || 'built-in' });

  const bootTrigger = isAfterBoot(reconciler.state) ? 'boot' : 'start';
  reportDrift(reconciler, audit, bootTrigger, exported);
  const passes = passRunner(reconciler, { log, notifier, bootTrigger, exported, ...(opts.onPass ? { onPass: opts.onPass } : {}) });
  const reload = policyReloader(reconciler, configOpts, audit, log, exported);

  // The first full apply: also the post-reboot reapplication.
  await passes.run(bootTrigger, 0, bootTrigger);
  // Not root, or /proc and /sys read-only: every pass would fail the same way. Fail fast
  // (exit 77) rather than run as a daemon that can change nothing.
  const denied = passes.permissionError();
  if (denied !== null) {
    await audit.close().catch(() => undefined);
    await exported.close();
    notifier.close();
    throw new AgentPermissionError(denied);
  }
  notifier.notify('READY=1');

  const sources = opts.sources ?? kernelSources(log, (source, why) => exported.metrics.droppedMessage(source, why));
  const settle = reconciler.policy.agent.settleMs;
  const pending = new PendingWork();
  const pass = async (b: Batch<AgentEvent>): Promise<void> => {
    const work = pending.take();
    const trigger = triggerText(b);
    if (work.reload) reload('SIGHUP');
    onlineHotAdded(work.hotAdded, trigger, { root: opts.root, reconciler, audit, log });
    await passes.run(trigger, b.count, b.events[0]?.kind ?? 'unknown', work.refresh);
  };

  return new Promise<number>((resolve) => {
    merge(sources, tickers(reconciler.policy.agent.resyncIntervalS, notifier))
      .pipe(
        takeUntil(stop$),
        tap((e) => exported.metrics.event(e)),
        filter(isRelevant),
        tap((e) => {
          pending.note(e);
          if (changesTopology(e)) reconciler.forgetTopology();
          log.debug({ event: e }, describeEvent(e));
          if (e.kind === 'cpu' && e.action === 'add' && !reconciler.policy.onlineHotplugged) {
            log.info(`cpu${e.cpu} hot-added and left offline ([cpus] online-hotplugged = no); balanced onto when it comes online`);
          }
        }),
        // A hot-added CPU arrives offline: nothing can be placed on it until it comes online,
        // which is an event (and a pass) of its own. Unless the agent onlines it itself, its
        // `add` needs no pass: in the gateway guest under load a pass cost ~1.2 s of CPU, and
        // passes for the `add`s of two new vCPUs delayed the `online` pass that spreads the
        // load by ~2.5 s (bench:gateway, issue 12).
        filter((e) => !(e.kind === 'cpu' && e.action === 'add' && !reconciler.policy.onlineHotplugged)),
        react(settle, settle * MAX_WAIT_SETTLES, (b: Batch<AgentEvent>) => defer(() => pass(b))),
      )
      .subscribe({
        error: (e: Error) => log.error(`agent pipeline failed: ${e.message}`),
        complete: async () => {
          // takeUntil fired (SIGTERM/SIGINT) and exclusivePasses completed only after the
          // pass in flight finished: nothing is half-applied.
          notifier.notify('STOPPING=1');
          await audit.close().catch(() => undefined);
          await exported.close();
          notifier.close();
          resolve(0);
        },
      });
  });
}

export class AgentPermissionError extends Error {
  override name = 'AgentPermissionError';
}

/** True when the state was written before this boot (so this start is a reboot reapplication). */
function isAfterBoot(state: AppliedState): boolean {
  if (!state.appliedAt) return true;
  try {
    const btime = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1];
    return btime !== undefined && Date.parse(state.appliedAt) < Number(btime) * 1000;
  } catch {
    return false;
  }
}
