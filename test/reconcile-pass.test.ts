// reconcile() itself, on fixture trees: the audit trail of a pass (one record per change, then
// one summary with its counts), the state it leaves (only what is in place), the managed-IRQ
// hour (left alone until MANAGED_RETRY_MS has passed, then retried), refusals, and the bounded
// re-plan when a CPU goes offline between the snapshot and a write. Fixture trees only.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MANAGED_RETRY_MS, reconcile, type PassOptions } from '../src/reconcile/reconcile.js';
import { formatCpuList, parseCpuList } from '../src/cpumask/cpumask.js';
import { takeSnapshot } from '../src/snapshot/snapshot.js';
import { defaultPolicy } from '../src/policy/policy.js';
import { emptyState, type AppliedState } from '../src/state/state.js';
import type { AuditRecord } from '../src/audit/records.js';
import { buildFixture, presets, removeFixture } from '../fixture/fixture.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) removeFixture(r);
});

const NOW = new Date('2026-12-01T12:00:00.000Z');
/** How long a refused IRQ is left alone: an hour (README, "What it does"). */
const HOUR = 60 * 60 * 1000;

function pass(state: AppliedState, extra: Partial<PassOptions> = {}): { result: ReturnType<typeof reconcile>; records: AuditRecord[] } {
  const root = extra.root ?? buildFixture(presets.vm2());
  if (extra.root === undefined) roots.push(root);
  const records: AuditRecord[] = [];
  const result = reconcile({ root, policy: defaultPolicy(), state, trigger: 'test', audit: { record: (r) => records.push(r) }, now: () => NOW, ...extra });
  return { result, records };
}

const summary = (records: AuditRecord[]): string => {
  assert.equal(records.at(-1)?.kind, 'plan-summary', 'a pass ends with its summary');
  assert.equal(records.filter((r) => r.kind === 'plan-summary').length, 1, 'one summary per pass');
  return records.at(-1)!.message;
};

/** The first IRQ a pass on a fresh vm2 tree moves, with its action name. */
function firstMovedIrq(): { irq: number; target: string } {
  const { result } = pass(emptyState());
  const c = result.report.changes.find((x) => x.write.kind === 'irq')!;
  return { irq: c.write.irq!, target: c.write.target };
}

test('a pass: a record per change in order, one summary with the counts, the state of what is in place', () => {
  const { result, records } = pass(emptyState());
  const changes = result.report.changes;
  assert.ok(changes.length > 0 && changes.every((c) => c.outcome === 'applied'), 'a fresh tree needs writes');
  assert.equal(result.passes, 1);
  assert.deepEqual(records.slice(0, -1).map((r) => [r.kind, r.target]), changes.map((c) => ['applied', c.write.target]));
  assert.equal(summary(records), `plan applied (test): ${changes.length} changed, 0 skipped, 0 failed; CPUs ${formatCpuList(result.plan.allowedCpus)}`);
  assert.equal(result.state.appliedAt, NOW.toISOString());
  assert.equal(result.state.trigger, 'test');
  for (const c of changes) assert.equal(result.state.targets[c.write.target], c.write.new, c.write.target);
  assert.deepEqual(result.state.managed, {});
  assert.equal(result.state.managedSince, undefined, 'no refusals, no managedSince');

  // The same tree again: nothing to do, and the summary says so.
  const again = pass(result.state, { root: roots.at(-1)! });
  assert.deepEqual(again.result.report.changes, []);
  assert.match(summary(again.records), /^plan applied \(test\): 0 changed, 0 skipped, 0 failed; CPUs /);
  assert.deepEqual(again.result.state.targets, result.state.targets);
});

test('a dry run writes nothing, records only its summary and leaves the state as it was', () => {
  const state = { ...emptyState(), appliedAt: '2026-11-30T00:00:00.000Z', trigger: 'before' };
  const { result, records } = pass(state, { dryRun: true });
  const n = result.report.changes.length;
  assert.ok(n > 0 && result.report.changes.every((c) => c.outcome === 'dry-run'));
  assert.equal(records.length, 1);
  assert.equal(summary(records), `plan applied (test): ${n} changed, 0 skipped, 0 failed; CPUs ${formatCpuList(result.plan.allowedCpus)}`);
  assert.equal(result.state, state);
  // Nothing was written: a real pass on the same tree still has every change to make.
  assert.equal(pass(emptyState(), { root: roots.at(-1)! }).result.report.changes.length, n);
});

test('a refused IRQ is remembered by name for an hour (MANAGED_RETRY_MS), then tried again', () => {
  const moved = firstMovedIrq();
  const refuse: PassOptions['apply'] = {
    writeFile: (file, value) => {
      if (file.endsWith(`/proc/irq/${moved.irq}/smp_affinity_list`)) throw Object.assign(new Error('EIO'), { code: 'EIO' });
      fs.writeFileSync(file, value);
    },
  };
  const first = pass(emptyState(), { apply: refuse });
  const refused = first.result.report.changes.find((c) => c.write.target === moved.target)!;
  assert.equal(refused.outcome, 'skipped-managed');
  assert.equal(first.records.find((r) => r.target === moved.target)?.kind, 'skipped-managed');
  assert.match(summary(first.records), /, 1 skipped, 0 failed;/);
  const name = first.result.snapshot.irqs.find((i) => i.irq === moved.irq)!.name;
  assert.deepEqual(first.result.state.managed, { [moved.irq]: name });
  assert.deepEqual(first.result.state.managedSince, { [moved.irq]: NOW.toISOString() });
  assert.equal(first.result.state.targets[moved.target], undefined, 'a refused target is not recorded as in place');

  const at = (ms: number): AppliedState => ({ ...first.result.state, managedSince: { [moved.irq]: new Date(NOW.getTime() - ms).toISOString() } });
  // One millisecond before the hour: still left alone, and its hour keeps its start.
  assert.equal(MANAGED_RETRY_MS, HOUR);
  const before = pass(at(HOUR - 1));
  assert.ok(!before.result.report.changes.some((c) => c.write.target === moved.target));
  assert.deepEqual(before.result.state.managed, { [moved.irq]: name });
  assert.deepEqual(before.result.state.managedSince, { [moved.irq]: new Date(NOW.getTime() - HOUR + 1).toISOString() });
  // At the hour: tried again, and forgotten once it moved.
  const due = pass(at(HOUR));
  assert.equal(due.result.report.changes.find((c) => c.write.target === moved.target)?.outcome, 'applied');
  assert.deepEqual(due.result.state.managed, {});

  // No managedSince: the hour runs from appliedAt; an unreadable date counts as fresh, and
  // the carried-over refusal then starts its hour now.
  const old = { ...first.result.state, managedSince: undefined, appliedAt: new Date(NOW.getTime() - HOUR).toISOString() };
  assert.ok(pass(old).result.report.changes.some((c) => c.write.target === moved.target), 'appliedAt an hour ago: retried');
  const unknown = pass({ ...first.result.state, managedSince: undefined, appliedAt: '' });
  assert.ok(!unknown.result.report.changes.some((c) => c.write.target === moved.target), 'no date at all: left alone');
  assert.deepEqual(unknown.result.state.managedSince, { [moved.irq]: NOW.toISOString() });
});

test('a CPU gone between snapshot and write re-plans, at most three times; a permission error stops at once', () => {
  const moved = firstMovedIrq();
  let tries = 0;
  const offline: PassOptions['apply'] = {
    writeFile: (file, value) => {
      if (file.endsWith(`/proc/irq/${moved.irq}/smp_affinity_list`)) {
        tries++;
        throw Object.assign(new Error('EINVAL'), { code: 'EINVAL' });
      }
      fs.writeFileSync(file, value);
    },
  };
  const { result, records } = pass(emptyState(), { apply: offline });
  assert.equal(result.passes, 3);
  assert.equal(tries, 3);
  assert.equal(result.report.changes.filter((c) => c.outcome === 'needs-replan').length, 3, 'every attempt is reported');
  assert.match(summary(records), /, 0 skipped, 1 failed;/, 'the summary counts the last pass');
  assert.equal(records.filter((r) => r.kind === 'failed').length, 3);

  const denied = pass(emptyState(), {
    apply: {
      writeFile: (file, value) => {
        if (file.endsWith(`/proc/irq/${moved.irq}/smp_affinity_list`)) throw Object.assign(new Error('EINVAL'), { code: 'EINVAL' });
        if (path.basename(file) === 'rps_cpus') throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
        fs.writeFileSync(file, value);
      },
    },
  });
  assert.equal(denied.result.passes, 1, 'no re-plan once writes are refused for permission');
});

test('without an audit sink or a clock: the pass still writes, and the state is stamped with the time of the pass', () => {
  const root = buildFixture(presets.vm2());
  roots.push(root);
  const before = Date.now();
  const result = reconcile({ root, policy: defaultPolicy(), state: emptyState(), trigger: 'test' });
  const after = Date.now();
  assert.ok(result.report.changes.length > 0 && result.report.changes.every((c) => c.outcome === 'applied'), 'a fresh tree needs writes');
  const at = Date.parse(result.state.appliedAt);
  assert.ok(at >= before && at <= after, `appliedAt ${result.state.appliedAt}`);
});

/** Takes CPU 1 of a vm2 tree offline, as the kernel shows it. */
function offlineCpu1(root: string): void {
  fs.writeFileSync(path.join(root, 'sys/devices/system/cpu/online'), '0\n');
  fs.writeFileSync(path.join(root, 'sys/devices/system/cpu/cpu1/online'), '0\n');
}

test('a CPU event\'s pass writes first, then refreshes: two rounds, the summary counts both, the refresh is its own phase', () => {
  const { result: first } = pass(emptyState());
  const root = roots.at(-1)!;
  offlineCpu1(root);
  const records: AuditRecord[] = [];
  const started = process.hrtime.bigint();
  const r = reconcile({ root, policy: defaultPolicy(), state: first.state, trigger: 'cpu1 offline', audit: { record: (x) => records.push(x) }, now: () => NOW, refreshFrom: first.snapshot });
  const wall = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(r.passes, 2, 'the write-first round, then the refreshed one');
  const moved = r.report.changes.filter((c) => c.outcome === 'applied');
  assert.ok(moved.length > 0 && moved.length === r.report.changes.length, 'what CPU 1 leaving changes is written');
  assert.match(summary(records), new RegExp(`^plan applied \\(cpu1 offline\\): ${moved.length} changed, 0 skipped, 0 failed; CPUs 0$`));
  assert.ok(r.phases.refresh > 0 && r.phases.snapshot > 0, 'round 1 reads the targets, round 2 is the refresh');
  for (const [phase, ms] of Object.entries(r.phases)) assert.ok(ms >= 0, `${phase}: ${ms} ms`);
  const total = Object.values(r.phases).reduce((a, b) => a + b, 0);
  assert.ok(total <= wall, `phases (${total} ms) fit in the pass (${wall} ms)`);

  // A full pass: no refresh phase, and its phases fit in it too.
  const t0 = process.hrtime.bigint();
  const full = reconcile({ root, policy: defaultPolicy(), state: r.state, trigger: 'resync', now: () => NOW });
  const fullWall = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.deepEqual([full.passes, full.phases.refresh, full.report.changes], [1, 0, []]);
  assert.ok(full.phases.snapshot > 0 && Object.values(full.phases).reduce((a, b) => a + b, 0) <= fullWall);
});

test('a CPU event\'s pass whose recorded target vanished reads everything at once: one round', () => {
  const { result: first } = pass(emptyState());
  const root = roots.at(-1)!;
  offlineCpu1(root);
  const gone = first.report.changes.find((c) => c.write.kind === 'irq')!.write;
  fs.rmSync(path.join(root, `proc/irq/${gone.irq}`), { recursive: true });
  const r = reconcile({ root, policy: defaultPolicy(), state: first.state, trigger: 'cpu1 offline', now: () => NOW, refreshFrom: first.snapshot });
  assert.equal(r.passes, 1);
  assert.ok(r.report.changes.length > 0 && r.report.changes.every((c) => c.outcome === 'applied'));
  assert.equal(r.state.targets[gone.target], undefined, 'the vanished target leaves the state');
});

test('a CPU going offline again during a write-first pass: re-planned, at most four rounds', () => {
  const { result: first } = pass(emptyState());
  const root = roots.at(-1)!;
  offlineCpu1(root);
  let tries = 0;
  const records: AuditRecord[] = [];
  const r = reconcile({
    root, policy: defaultPolicy(), state: first.state, trigger: 'cpu1 offline', now: () => NOW, refreshFrom: first.snapshot, audit: { record: (x) => records.push(x) },
    apply: {
      writeFile: (file, value) => {
        if (path.basename(file) === 'rps_cpus') {
          tries++;
          throw Object.assign(new Error('EINVAL'), { code: 'EINVAL' });
        }
        fs.writeFileSync(file, value);
      },
    },
  });
  assert.deepEqual([r.passes, tries], [4, 4]);
  // A write-first round cut short is re-planned like any other: only the last round counts.
  assert.match(summary(records), /: 0 changed, 0 skipped, 1 failed;/);
});

/**
 * Writes as the kernel takes them: an IRQ mask naming no online CPU is refused with EINVAL
 * (irq_set_affinity). `during` runs before the first write: the event that lands mid-pass.
 */
function kernelWrites(root: string, during: () => void): { writeFile: (file: string, value: string) => void } {
  let first = true;
  return {
    writeFile: (file, value) => {
      if (first) during();
      first = false;
      if (file.endsWith('/smp_affinity_list')) {
        const online = new Set(parseCpuList(fs.readFileSync(path.join(root, 'sys/devices/system/cpu/online'), 'utf8').trim()));
        if (!parseCpuList(value.trim()).some((c) => online.has(c))) throw Object.assign(new Error('EINVAL'), { code: 'EINVAL' });
      }
      fs.writeFileSync(file, value);
    },
  };
}

test('a pass given the drift check\'s snapshot plans round 1 from it; a CPU gone mid-pass re-plans from the tree as it is now', () => {
  // Two CPUs and a two-queue NIC: one queue's IRQ is placed on CPU 1.
  const root = buildFixture({ sockets: 1, coresPerSocket: 2, threadsPerCore: 1, nodes: 1, platform: 'kvm', firstIrq: 40, nics: [{ name: 'eth0', driver: 'ixgbe', pci: '0000:03:00.0', node: -1, queues: 2, naming: 'TxRx', rps: '' }] });
  roots.push(root);
  const taken = takeSnapshot(root);
  assert.deepEqual(taken.topology.online, [0, 1]);
  // The start pass: CPU 1 goes offline after the drift check looked and before the first write.
  const records: AuditRecord[] = [];
  const r = reconcile({ root, policy: defaultPolicy(), state: emptyState(), trigger: 'start', audit: { record: (x) => records.push(x) }, now: () => NOW, taken, apply: kernelWrites(root, () => offlineCpu1(root)) });
  const refused = r.report.changes.filter((c) => c.outcome === 'needs-replan');
  assert.ok(refused.length > 0 && refused.every((c) => c.write.new === '1'), 'round 1 planned from the taken snapshot: CPU 1 in use');
  // Round 2 reads the tree again (not the taken snapshot, which still has CPU 1 online):
  // everything lands on CPU 0 and nothing fails.
  assert.equal(r.passes, 2);
  assert.deepEqual(r.plan.allowedCpus, [0]);
  assert.equal(r.snapshot.topology.online.join(), '0');
  assert.match(summary(records), /, 0 failed; CPUs 0$/);
  for (const c of refused) assert.equal(r.state.targets[c.write.target], '0', c.write.target);
});
