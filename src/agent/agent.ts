// agent — `affinityd run`, the composition root: it owns the life cycle and wires
//   kernel event sources → relevance filter → coalesce → exclusive passes (reconcile) → audit.
// Every piece it starts has a matching stop; stopping never depends on another piece's
// stop succeeding (zigbee2mqtt's lesson).

import pino from 'pino';
import { Observable, Subject, concat, defer, filter, ignoreElements, interval, map, merge, of, retry, takeUntil, tap, timer } from 'rxjs';
import { createAuditLog, type AuditLog } from '../audit/audit-log.js';
import { startMetricsExport } from '../metrics/export.js';
import type { Args } from '../cli/main.js';
import { PolicyError, loadPolicy } from '../policy/policy.js';
import { driftOf } from '../reconcile/drift.js';
import { changeRecord, countOutcomes, reconcile, serialPorts } from '../reconcile/reconcile.js';
import { applyWrites } from '../applier/applier.js';
import { onlineWrites } from '../applier/online.js';
import { takeSnapshot } from '../snapshot/snapshot.js';
import type { TopologyCache } from '../snapshot/cpus.js';
import { readState, stateFilePath, writeState, type AppliedState } from '../state/state.js';
import type { Policy } from '../types.js';
import { describeEvent, isRelevant, type AgentEvent } from './events.js';
import { createNotifier } from './notify.js';
import { coalesce, exclusivePasses, type Batch } from './pipeline.js';
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

/** Start the agent; resolves with the exit code after SIGTERM/SIGINT (or `stop$`). */
export async function startAgent(opts: AgentOptions, stop$: Observable<unknown> = termination$()): Promise<number> {
  const log = opts.log ?? pino({ name: 'affinityd', base: null }, pino.destination(2));
  const configOpts = { root: opts.root, ...(opts.configFile !== undefined ? { configFile: opts.configFile } : {}) };
  // A policy that does not load at start is fatal (exit 78): there is no last good one yet.
  let policy: Policy = loadPolicy(configOpts);
  // Metrics ([metrics]): a listen address that cannot be bound is fatal like a bad policy.
  const exported = await startMetricsExport({ root: opts.root, metricsPolicy: policy.metrics, log: { warn: (m) => log.warn(m), info: (m) => log.info(m) } });
  const metrics = exported.metrics;
  const audit = opts.audit ?? createAuditLog({ journal: 'auto' });
  const notifier = createNotifier();
  // In-root resolution (a fixture's links cannot take the state file out of --root).
  const stateFile = stateFilePath(opts.root, policy.agent.stateFile);
  const loaded = readState(stateFile);
  let state: AppliedState = loaded.state;
  if (loaded.problem) log.warn(loaded.problem);
  audit.record({ kind: 'policy-loaded', message: `policy loaded from ${policy.files.join(', ') || 'built-in defaults'}`, policy: policy.files.join(', ') || 'built-in' });

  // Drift since the last applied plan: after a reboot or hotplug reset, every mask moved.
  const bootTrigger = isAfterBoot(state) ? 'boot' : 'start';
  const drift = driftOf(state, takeSnapshot(opts.root));
  metrics.driftAtStart(drift.length);
  if (drift.length > 0) {
    audit.record({
      kind: 'drift-at-start',
      message: `${drift.length} target(s) changed since the last apply (${state.appliedAt}): ${drift.slice(0, 5).map((d) => `${d.target} ${d.recorded} -> ${d.current}`).join(', ')}${drift.length > 5 ? ', …' : ''}`,
      trigger: bootTrigger,
    });
  }

  const serialNotes = new Set<string>();
  let permissionError: string | null = null;
  const topologyCache: TopologyCache = new Map();
  /** `kind`: what opened the batch (metrics label); `trigger`: the text the audit records. */
  const runPass = async (trigger: string, events: number, kind: string): Promise<void> => {
    const startedAt = process.hrtime.bigint();
    try {
      // udev's serial port list, only when a [serial:*] section may use it (see serialPorts).
      const serial = await serialPorts(opts.root, policy, serialNotes, (n) => log.warn(n));
      const hasSerial = (policy.serialSections?.length ?? 0) > 0;
      const previous = state;
      const result = reconcile({ root: opts.root, policy, state, trigger, audit, ...(serial ? { serial } : {}), snapshot: { topologyCache, serial: hasSerial } });
      state = result.state;
      const n = countOutcomes(result.report);
      if (result.report.permissionError) {
        log.error(result.report.permissionError);
        permissionError = result.report.permissionError;
      }
      // Also when nothing was written but what is managed changed: a removed NIC's targets
      // must leave the state, or the next start reports them as drift.
      if (n.applied + n.failed > 0 || trigger === bootTrigger || !sameTargets(previous, state)) {
        try {
          writeState(stateFile, state);
        } catch (e) {
          log.warn(`cannot save state ${stateFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
      }
      notifier.notify(`STATUS=last pass: ${trigger}; ${n.applied} changed, ${n.failed} failed`);
      const endedAt = process.hrtime.bigint();
      metrics.pass({ trigger: kind, seconds: Number(endedAt - startedAt) / 1e9, changes: result.report.changes, plan: result.plan });
      await exported.flush();
      opts.onPass?.({ trigger, events, changed: n.applied, failed: n.failed, startedAt, endedAt });
    } catch (e) {
      // A pass that throws (a parse bug, an unexpected errno) must not end the agent: the
      // next event runs a fresh pass.
      log.error({ err: e }, `pass failed (${trigger}): ${(e as Error).message}`);
      metrics.passError(kind, Number(process.hrtime.bigint() - startedAt) / 1e9);
      await exported.flush();
    }
  };

  const reload = (reason: string): void => {
    try {
      policy = loadPolicy(configOpts);
      metrics.reload('accepted');
      audit.record({ kind: 'policy-loaded', message: `policy reloaded (${reason}) from ${policy.files.join(', ') || 'built-in defaults'}`, trigger: 'reload' });
    } catch (e) {
      const msg = e instanceof PolicyError ? e.message : (e as Error).message;
      // Keep the last good policy and say why the new one was refused.
      metrics.reload('rejected');
      audit.record({ kind: 'policy-rejected', message: `policy reload refused, keeping the previous policy: ${msg}`, trigger: 'reload', error: msg });
      log.error(`policy reload refused: ${msg}`);
    }
  };

  // The first full apply: also the post-reboot reapplication.
  await runPass(bootTrigger, 0, bootTrigger);
  // Not root, or /proc and /sys read-only: every pass would fail the same way. Fail fast
  // (exit 77) rather than run as a daemon that can change nothing.
  if (permissionError !== null) {
    await audit.close().catch(() => undefined);
    await exported.close();
    notifier.close();
    throw new AgentPermissionError(permissionError);
  }
  notifier.notify('READY=1');

  const stop = new Subject<void>();
  const sources = opts.sources ?? kernelSources(log, (source, why) => metrics.droppedMessage(source, why));
  const resync = policy.agent.resyncIntervalS > 0 ? interval(policy.agent.resyncIntervalS * 1000).pipe(map((): AgentEvent => ({ kind: 'resync', reason: 'periodic' }))) : of<AgentEvent>().pipe(ignoreElements());
  const watchdog = notifier.watchdogMs ? interval(notifier.watchdogMs / 2).pipe(tap(() => notifier.notify('WATCHDOG=1')), ignoreElements()) : of<AgentEvent>().pipe(ignoreElements());
  const settle = policy.agent.settleMs;

  // A flag, not a look at the batch: a batch keeps only its first MAX_KEPT events, so a
  // SIGHUP in the middle of an event storm would otherwise be lost.
  let reloadWanted = false;
  // CPUs announced by an `add` uevent since the last pass (kept apart for the same reason).
  const hotAdded = new Set<number>();
  /** [cpus] online-hotplugged: online them before the pass, so the pass balances onto them. */
  const onlineHotAdded = (trigger: string): void => {
    const cpus = [...hotAdded];
    hotAdded.clear();
    if (!policy.onlineHotplugged || cpus.length === 0) return;
    const report = applyWrites(onlineWrites(opts.root, cpus), { root: opts.root });
    for (const c of report.changes) {
      const r = changeRecord(c, trigger);
      if (r) audit.record(r);
      if (c.outcome !== 'applied') log.warn(`cannot online hot-added ${c.write.target}: ${c.error ?? c.outcome}`);
    }
  };

  return new Promise<number>((resolve) => {
    const sub = merge(sources, resync, watchdog)
      .pipe(
        takeUntil(merge(stop, stop$)),
        tap((e) => metrics.event(e)),
        filter(isRelevant),
        tap((e) => {
          if (e.kind === 'reload') reloadWanted = true;
          if (e.kind === 'cpu' && e.action === 'add') hotAdded.add(e.cpu);
          // Physical CPU hotplug (and anything we may have missed) can change the topology.
          if ((e.kind === 'cpu' && (e.action === 'add' || e.action === 'remove')) || e.kind === 'resync') topologyCache.clear();
          log.debug({ event: e }, describeEvent(e));
        }),
        coalesce<AgentEvent>(settle, settle * 5),
        exclusivePasses((b) =>
          defer(async () => {
            if (reloadWanted) {
              reloadWanted = false;
              reload('SIGHUP');
            }
            onlineHotAdded(triggerText(b));
            await runPass(triggerText(b), b.count, b.events[0]?.kind ?? 'unknown');
            return b;
          }),
        ),
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
    void sub;
  });
}

export class AgentPermissionError extends Error {
  override name = 'AgentPermissionError';
}

function sameTargets(a: AppliedState, b: AppliedState): boolean {
  const key = (s: AppliedState) => JSON.stringify([s.targets, s.assignment, s.managed]);
  return key(a) === key(b);
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

export async function runAgent(args: Args): Promise<number> {
  return startAgent({ root: args.root, ...(args.config !== undefined ? { configFile: args.config } : {}) });
}
