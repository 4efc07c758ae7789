// reconcile — the steps around the planner that decide what a pass is told and leaves behind,
// and the bug that made `plan` and `apply` disagree (an IRQ number remembered as
// kernel-managed and reused by another device). The property over generated trees and state
// files is in reconciler-property.test.ts. Fixture trees only.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onlineWrites } from '../src/applier/online.js';
import { changeRecord, countOutcomes, managedSet, nextState } from '../src/reconcile/reconcile.js';
import { driftOf } from '../src/reconcile/drift.js';
import { formatCpuList } from '../src/cpumask/cpumask.js';
import { irqTarget } from '../src/targets.js';
import { emptyState, type AppliedState } from '../src/state/state.js';
import { takeSnapshot } from '../src/snapshot/snapshot.js';
import { buildFixture, presets, removeFixture } from '../fixture/fixture.js';
import { cli, writeStateFile, type ApplyJson, type PlanJson } from './helpers/cli-json.js';

const roots: string[] = [];
const tmpDirs: string[] = [];
after(() => {
  for (const r of roots) removeFixture(r);
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('one owner of a pass', () => {
  test('IRQ 38 refused for one device and reused by another: plan and apply both move it', async () => {
    const root = buildFixture(presets.vm2());
    roots.push(root);
    const snapshot = takeSnapshot(root);
    const name38 = snapshot.irqs.find((i) => i.irq === 38)!.name;
    // Remembered as kernel-managed under another device's name: a rebind renumbered it.
    writeStateFile(root, { ...emptyState(), version: 1, managed: { 38: 'virtio9-input.0' } });
    const planned = (await cli('plan', '--json', '--root', root)) as PlanJson;
    const applied = (await cli('apply', '--dry-run', '--json', '--root', root)) as ApplyJson;
    const row = planned.irqs.find((i) => i.irq === 38)!;
    assert.notEqual(row.desired, null, row.reason);
    assert.doesNotMatch(row.reason, /kernel-managed/);
    assert.ok(applied.changes.some((c) => c.target === 'irq/38'), 'apply moves IRQ 38 too');

    // The same IRQ under its own name: both leave it alone.
    writeStateFile(root, { ...emptyState(), managed: { 38: name38 } });
    const planned2 = (await cli('plan', '--json', '--root', root)) as PlanJson;
    const applied2 = (await cli('apply', '--dry-run', '--json', '--root', root)) as ApplyJson;
    assert.match(planned2.irqs.find((i) => i.irq === 38)!.reason, /kernel-managed/);
    assert.equal(planned2.irqs.find((i) => i.irq === 38)!.desired, null);
    assert.ok(!applied2.changes.some((c) => c.target === 'irq/38'));
  });

  test('managedSet keeps an IRQ only while its action name is the one that refused', () => {
    const snapshot = takeSnapshot(roots[0]!);
    const [a, b] = snapshot.irqs;
    const state = { ...emptyState(), managed: { [a!.irq]: a!.name, [b!.irq]: `${b!.name}-old`, 9999: 'gone' } };
    assert.deepEqual([...managedSet(state, snapshot, new Date())], [a!.irq]);
  });

  test('nextState remembers refusals by name, placements and every planned target', () => {
    const snapshot = takeSnapshot(roots[0]!);
    const irq = snapshot.irqs[0]!;
    const plan = { allowedCpus: [0, 1], irqs: [], queues: [
      { interface: 'eth0', queue: 0, kind: 'rps' as const, current: [], desired: [0, 1], flowCnt: null, currentFlowCnt: null, policy: 'defaults' },
      // Left alone (rps = off, or ignore): not a target of this pass.
      { interface: 'eth0', queue: 1, kind: 'rps' as const, current: [1], desired: null, flowCnt: null, currentFlowCnt: null, policy: null },
    ], rpsSockFlowEntries: { current: 0, desired: null }, warnings: [] };
    const s = nextState({ ...emptyState(), managed: { 7: 'kept', 8: 'expired' } }, snapshot, plan, { changes: [], managed: [irq.irq], needsReplan: false, permissionError: null }, new Set([7]), 'test', new Date(0));
    assert.deepEqual(s.managed, { 7: 'kept', [irq.irq]: irq.name }, 'refusals in force carry over, expired ones go, new ones come');
    assert.deepEqual(s.targets, { 'net/eth0/rx-0/rps': '0-1' }, 'a queue left alone is not recorded');
    assert.deepEqual([s.trigger, s.appliedAt], ['test', '1970-01-01T00:00:00.000Z']);
  });

});

describe('drift at start', () => {
  test('a target that changed is drift; one that vanished (NIC gone, IRQ renumbered) is history', () => {
    const snapshot = takeSnapshot(roots[0]!);
    const irq = snapshot.irqs.find((i) => i.affinity !== null)!;
    const now = formatCpuList(irq.affinity!);
    const state = { ...emptyState(), targets: { [irqTarget(irq.irq)]: now === '0' ? '1' : '0', 'irq/9999': '0', 'net/gone0/rx-0/rps': '0-1' } };
    assert.deepEqual(driftOf(state, snapshot), [{ target: irqTarget(irq.irq), recorded: state.targets[irqTarget(irq.irq)], current: now }]);
    assert.deepEqual(driftOf({ ...state, targets: { [irqTarget(irq.irq)]: now } }, snapshot), []);
  });
});

describe('tg3 queue numbering', () => {
  test('rx vectors numbered from 1 become rx queues 0..N-1; the tx vector stays tx 0', () => {
    const root = buildFixture({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, nodes: 1, nics: [{ name: 'eth0', driver: 'tg3', pci: '0000:04:00.0', node: 0, queues: 4, txQueues: 1, naming: 'tg3' }] });
    roots.push(root);
    const queues = takeSnapshot(root).irqs.filter((i) => i.queue).map((i) => `${i.name} ${i.queue!.role}-${i.queue!.queue}`);
    assert.deepEqual(queues, ['eth0-tx-0 tx-0', 'eth0-rx-1 rx-0', 'eth0-rx-2 rx-1', 'eth0-rx-3 rx-2', 'eth0-rx-4 rx-3']);
    // Another driver with the same names is taken as written.
    const other = buildFixture({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, nodes: 1, nics: [{ name: 'eth0', driver: 'igb', pci: '0000:04:00.0', node: 0, queues: 4, txQueues: 1, naming: 'tg3' }] });
    roots.push(other);
    assert.deepEqual(takeSnapshot(other).irqs.filter((i) => i.queue?.role === 'rx').map((i) => i.queue!.queue), [1, 2, 3, 4]);
  });
});

describe('change records and outcome counts', () => {
  const write = { kind: 'irq' as const, target: 'irq/38' as const, path: '/proc/irq/38/smp_affinity_list', value: '1', old: '0-1', new: '1', cpus: [1], irq: 38, interface: 'eth0', queue: 'rx-0', policy: 'defaults', reason: 'r' };
  const rps = { kind: 'rps' as const, target: 'net/eth0/rx-0/rps' as const, path: '/sys/class/net/eth0/queues/rx-0/rps_cpus', value: '3', old: '', new: '0-1', cpus: [0, 1], interface: 'eth0', queue: 'rx-0', policy: null, reason: 'RPS on' };
  const sysctl = { kind: 'sysctl' as const, target: 'sysctl/net.core.rps_sock_flow_entries' as const, path: '/proc/sys/net/core/rps_sock_flow_entries', value: '5', old: '0', new: '5', cpus: null, policy: 'net', reason: 'x' };

  test('each outcome becomes its record kind, message and fields; dry runs and unattempted writes none', () => {
    assert.deepEqual(changeRecord({ write, outcome: 'applied' }, 'cpu1 online'), {
      kind: 'applied', message: 'irq 38 (eth0 rx-0) 0-1 -> 1: cpu1 online', target: 'irq/38', irq: 38, interface: 'eth0', queue: 'rx-0', old: '0-1', new: '1', trigger: 'cpu1 online', policy: 'defaults',
    });
    assert.deepEqual(changeRecord({ write, outcome: 'skipped-managed', error: 'EIO' }, 't'), {
      kind: 'skipped-managed', message: 'irq 38 (eth0 rx-0) 0-1 -> 1: t skipped: kernel-managed (EIO)', target: 'irq/38', irq: 38, interface: 'eth0', queue: 'rx-0', old: '0-1', new: '1', trigger: 't', policy: 'defaults', error: 'EIO',
    });
    assert.deepEqual(changeRecord({ write, outcome: 'skipped-vanished', error: 'ENOENT' }, 't'), {
      kind: 'skipped-vanished', message: 'irq 38 (eth0 rx-0) 0-1 -> 1: t skipped: vanished (ENOENT)', target: 'irq/38', irq: 38, interface: 'eth0', queue: 'rx-0', old: '0-1', new: '1', trigger: 't', policy: 'defaults', error: 'ENOENT',
    });
    for (const outcome of ['failed', 'permission-denied', 'needs-replan'] as const) {
      const r = changeRecord({ write, outcome, error: 'EINVAL' }, 't')!;
      assert.deepEqual([r.kind, r.message, r.error], ['failed', 'irq 38 (eth0 rx-0) 0-1 -> 1: t failed: EINVAL', 'EINVAL']);
    }
    assert.equal(changeRecord({ write, outcome: 'failed' }, 't')!.error, 'failed');
    assert.equal(changeRecord({ write, outcome: 'dry-run' }, 't'), null);
    assert.equal(changeRecord({ write, outcome: 'not-attempted' }, 't'), null);
    const r = changeRecord({ write: rps, outcome: 'applied' }, 't')!;
    assert.deepEqual([r.message, r.irq, r.policy], ['eth0 rx-0 rps (none) -> 0-1: t', undefined, undefined]);
    assert.equal(changeRecord({ write: sysctl, outcome: 'applied' }, 't')!.message, 'net.core.rps_sock_flow_entries 0 -> 5: t');
    const plainIrq = changeRecord({ write: { ...write, interface: undefined, queue: undefined }, outcome: 'applied' }, 't')!;
    assert.deepEqual([plainIrq.message, plainIrq.interface, plainIrq.queue], ['irq 38 0-1 -> 1: t', undefined, undefined]);
  });

  test('a hot-added CPU onlined: the target and the record name the CPU, whatever its number', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'affinityd-online-'));
    tmpDirs.push(root);
    for (const cpu of [3, 12]) {
      fs.mkdirSync(path.join(root, `sys/devices/system/cpu/cpu${cpu}`), { recursive: true });
      fs.writeFileSync(path.join(root, `sys/devices/system/cpu/cpu${cpu}/online`), '0\n');
    }
    const writes = onlineWrites(root, [12, 3]);
    assert.deepEqual(writes.map((w) => w.target), ['cpu/3/online', 'cpu/12/online']);
    assert.deepEqual(changeRecord({ write: writes[1]!, outcome: 'applied' }, 'cpu12 add'), {
      kind: 'applied', message: 'cpu12 online 0 -> 1: cpu12 add', target: 'cpu/12/online', old: '0', new: '1', trigger: 'cpu12 add', policy: 'cpus',
    });
    assert.equal(changeRecord({ write: writes[0]!, outcome: 'failed', error: 'EBUSY' }, 'cpu3 add')!.message, 'cpu3 online 0 -> 1: cpu3 add failed: EBUSY');
  });

  test('countOutcomes: applied and dry runs count as changes, skips and unattempted as skipped, the rest as failed', () => {
    const outcomes = ['applied', 'dry-run', 'skipped-managed', 'skipped-vanished', 'not-attempted', 'failed', 'permission-denied', 'needs-replan'] as const;
    const report = { changes: outcomes.map((outcome) => ({ write, outcome })), managed: [], needsReplan: false, permissionError: null };
    assert.deepEqual(countOutcomes(report), { applied: 2, skipped: 3, failed: 3 });
    assert.deepEqual(countOutcomes({ ...report, changes: [] }), { applied: 0, skipped: 0, failed: 0 });
  });
});
