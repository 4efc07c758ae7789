// planner: the previous-placement rule, queues a NIC does not use yet, the RPS/XPS settings
// per NIC (on / off / auto, rps-flow-cnt, queues without a steering file) and the XPS owner
// when queues outnumber CPUs or a CPU has no topology. Each test names the rule it guards;
// each was checked against the planner change it is meant to catch (docs/mutation.md).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignmentOf, plan } from '../src/planner/planner.js';
import { defaultPolicy, parsePolicy } from '../src/policy/policy.js';
import type { Plan, Policy, Snapshot } from '../src/types.js';
import { snap } from './helpers/snap.js';

type Defaults = Policy['defaults'];
const withDefaults = (d: Partial<Defaults>): Policy => {
  const p = defaultPolicy();
  return { ...p, defaults: { ...p.defaults, ...d } };
};
const irqRows = (p: Plan, iface: string) => p.irqs.filter((i) => i.interface === iface).map((i) => [i.queue, i.role, i.desired, i.reason]);
const steering = (p: Plan, kind: 'rps' | 'xps') => p.queues.filter((q) => q.kind === kind).map((q) => [q.queue, q.desired, q.flowCnt]);

/** Sets the current affinity of each queue IRQ of `iface` (by queue and role). */
function withAffinity(s: Snapshot, iface: string, aff: (queue: number, role: string) => number[]): Snapshot {
  return { ...s, irqs: s.irqs.map((i) => (i.queue?.interface === iface ? { ...i, affinity: aff(i.queue.queue, i.queue.role) } : i)) };
}

const four = (queues: number, extra: { virtio?: boolean; rx?: number; tx?: number } = {}) => snap({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, nics: [{ name: 'eth0', node: -1, queues, ...extra }] });

test('previous placement: a single-CPU current mask (an earlier run) is kept, with no state file', () => {
  const p = plan(withAffinity(four(2), 'eth0', (q) => [3 - q]), defaultPolicy());
  assert.deepEqual(irqRows(p, 'eth0'), [
    [0, 'rxtx', [3], 'spread over all allowed CPUs, kept'],
    [1, 'rxtx', [2], 'spread over all allowed CPUs, kept'],
  ]);
  assert.deepEqual(assignmentOf(p), new Map([['eth0/0', 3], ['eth0/1', 2]]));
});

test('previous placement: not taken from a mask of several CPUs, nor from a pair whose masks differ', () => {
  // Several CPUs: the kernel default, not an earlier placement: queue i goes to cpu i.
  const many = plan(withAffinity(four(2), 'eth0', () => [2, 3]), defaultPolicy());
  assert.deepEqual(many.irqs.map((i) => [i.desired, i.reason]), [
    [[0], 'spread over all allowed CPUs'],
    [[1], 'spread over all allowed CPUs'],
  ]);
  // virtio-net: input.0 on cpu3 but output.0 on cpu2 is no placement of the pair.
  const split = plan(withAffinity(four(1, { virtio: true }), 'eth0', (_q, role) => (role === 'rx' ? [3] : [2])), defaultPolicy());
  assert.deepEqual(irqRows(split, 'eth0'), [
    [0, 'rx', [0], 'spread over all allowed CPUs'],
    [0, 'tx', [0], 'spread over all allowed CPUs'],
  ]);
  // Both on cpu3: kept there.
  const same = plan(withAffinity(four(1, { virtio: true }), 'eth0', () => [3]), defaultPolicy());
  assert.deepEqual(irqRows(same, 'eth0').map((r) => r[2]), [[3], [3]]);
});

test('previous placement: a recorded CPU outside the NIC\'s node is not kept, even where another NIC has room', () => {
  // Two nodes (0-1 | 2-3), one NIC on each. eth0 was recorded on cpu2 (node 1), which has
  // quota for eth1's queue: eth0 must still stay on its own node.
  const s = snap({ sockets: 2, coresPerSocket: 2, threadsPerCore: 1, nics: [{ name: 'eth0', node: 0, queues: 1 }, { name: 'eth1', node: 1, queues: 1 }] });
  const p = plan(s, defaultPolicy(), { previous: new Map([['eth0/0', 2]]) });
  assert.deepEqual(irqRows(p, 'eth0'), [[0, 'rxtx', [0], 'spread over node 0, moved from 2 to rebalance']]);
  assert.deepEqual(irqRows(p, 'eth1').map((r) => r[2]), [[2]]);
});

test('queues the NIC does not use yet (virtio-net: more vectors than enabled pairs) are left alone', () => {
  // 4 vector pairs, 3 rx queues and 2 tx queues in sysfs: rx 3 and tx 2, tx 3 are idle.
  const p = plan(four(4, { virtio: true, rx: 3, tx: 2 }), defaultPolicy());
  const idle = p.irqs.filter((i) => i.desired === null).map((i) => [i.queue, i.role, i.reason]);
  assert.deepEqual(idle, [
    [2, 'tx', 'queue not enabled (eth0 uses 2): left alone'],
    [3, 'rx', 'queue not enabled (eth0 uses 3): left alone'],
    [3, 'tx', 'queue not enabled (eth0 uses 2): left alone'],
  ]);
  // The used queues spread over distinct CPUs, rx and tx of a pair together.
  assert.deepEqual(p.irqs.filter((i) => i.desired !== null).map((i) => [i.queue, i.role, i.desired]), [
    [0, 'rx', [0]],
    [0, 'tx', [0]],
    [1, 'rx', [1]],
    [1, 'tx', [1]],
    [2, 'rx', [2]],
  ]);
});

test('combined (TxRx) vectors are all in use, whatever the rx and tx queue counts', () => {
  // 4 combined vectors, 4 rx and 2 tx queues in sysfs (ethtool -L rx 4 tx 2): a combined
  // vector serves its rx queue, so none of the 4 is idle.
  const p = plan(four(4, { rx: 4, tx: 2 }), defaultPolicy());
  assert.deepEqual(irqRows(p, 'eth0'), [
    [0, 'rxtx', [0], 'spread over all allowed CPUs'],
    [1, 'rxtx', [1], 'spread over all allowed CPUs'],
    [2, 'rxtx', [2], 'spread over all allowed CPUs'],
    [3, 'rxtx', [3], 'spread over all allowed CPUs'],
  ]);
});

test('RPS settings: off empties every mask, on sets it (and rps-flow-cnt), auto off sets no flow count', () => {
  // One rx queue on 4 CPUs: auto would turn RPS on.
  assert.deepEqual(steering(plan(four(1), withDefaults({ rps: 'off', rpsFlowCnt: 4096 })), 'rps'), [[0, [], null]]);
  assert.deepEqual(steering(plan(four(1), withDefaults({ rps: 'on', rpsFlowCnt: 4096 })), 'rps'), [[0, [1, 2, 3], 4096]]);
  assert.deepEqual(steering(plan(four(1), withDefaults({ rps: 'on', rpsFlowCnt: null })), 'rps'), [[0, [1, 2, 3], null]]);
  assert.deepEqual(steering(plan(four(1), withDefaults({ rps: 'auto', rpsFlowCnt: 2048 })), 'rps'), [[0, [1, 2, 3], 2048]]);
  // auto with as many rx queues as CPUs: off, and so no flow count either.
  assert.deepEqual(steering(plan(four(4), withDefaults({ rps: 'auto', rpsFlowCnt: 2048 })), 'rps').map((r) => r[2]), [null, null, null, null]);
  // on even with rx == CPUs: each queue's mask is the others' CPUs.
  assert.deepEqual(steering(plan(four(4), withDefaults({ rps: 'on' })), 'rps').map((r) => r[1]), [[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]]);
});

test('RPS/XPS: a queue without its sysfs file (kernel without CONFIG_RPS/XPS, or vanished) gets no row', () => {
  const s = four(2);
  const nic = s.nics[0]!;
  const t: Snapshot = { ...s, nics: [{ ...nic, rx: nic.rx.map((r) => (r.index === 0 ? { ...r, rpsCpus: null } : r)), tx: nic.tx.map((x) => (x.index === 1 ? { ...x, xpsCpus: null } : x)) }] };
  const p = plan(t, withDefaults({ rps: 'on', xps: 'on' }));
  assert.deepEqual(p.queues.map((q) => [q.kind, q.queue]), [['rps', 1], ['xps', 0]]);
  // tx 1 has no file: its IRQ CPU (cpu1) and the rest go to queue 0.
  assert.deepEqual(steering(p, 'xps'), [[0, [0, 1, 2, 3], null]]);
});

test('XPS = on with no TX queue that has a steering file: no row, and no CPU owner to find', () => {
  const s = four(2);
  const nic = s.nics[0]!;
  const t: Snapshot = { ...s, nics: [{ ...nic, tx: nic.tx.map((x) => ({ ...x, xpsCpus: null })) }] };
  const p = plan(t, withDefaults({ xps: 'on' }));
  assert.deepEqual(steering(p, 'xps'), []);
  assert.deepEqual(p.irqs.map((i) => i.desired), [[0], [1]]);
});

test('XPS settings: off empties every mask, auto leaves a single TX queue alone, on gives it every CPU', () => {
  const s = four(2);
  assert.deepEqual(steering(plan(s, withDefaults({ xps: 'off' })), 'xps'), [[0, [], null], [1, [], null]]);
  assert.deepEqual(steering(plan(s, withDefaults({ xps: 'auto' })), 'xps'), [[0, [0, 2, 3], null], [1, [1], null]], 'two TX queues: on; one cache, so cpu2 and cpu3 go to its first queue');
  // One TX queue that has an xps_cpus file.
  const one = four(1);
  const single: Snapshot = { ...one, nics: [{ ...one.nics[0]!, tx: [{ index: 0, xpsCpus: [] }] }] };
  assert.deepEqual(steering(plan(single, withDefaults({ xps: 'auto' })), 'xps'), [[0, null, null]]);
  assert.deepEqual(steering(plan(single, withDefaults({ xps: 'on' })), 'xps'), [[0, [0, 1, 2, 3], null]]);
  assert.deepEqual(steering(plan(single, withDefaults({ xps: 'off' })), 'xps'), [[0, [], null]]);
});

test('XPS: more TX queues than CPUs — a CPU goes to the first queue placed on it, later ones get none', () => {
  // 2 CPUs, 4 queues: queues 0 and 2 on cpu0, 1 and 3 on cpu1.
  const s = snap({ sockets: 1, coresPerSocket: 2, threadsPerCore: 1, nics: [{ name: 'eth0', node: -1, queues: 4 }] });
  const p = plan(s, withDefaults({ xps: 'on' }));
  assert.deepEqual(p.irqs.map((i) => i.desired), [[0], [1], [0], [1]]);
  assert.deepEqual(steering(p, 'xps').map((r) => r[1]), [[0], [1], [], []]);
});

test('XPS: CPUs without topology (an odd capture) go round-robin over the TX queues', () => {
  // 6 CPUs in one cache, only cpu0 and cpu1 described: cpu2..5 have no core or cache to
  // follow, so they go to queue 0, 1, 0, 1 in turn (not all to the cache's first queue).
  const s = snap({ sockets: 1, coresPerSocket: 6, threadsPerCore: 1, nics: [{ name: 'eth0', node: -1, queues: 2 }] });
  const bare: Snapshot = { ...s, topology: { ...s.topology, cpus: s.topology.cpus.filter((c) => c.cpu < 2) } };
  const p = plan(bare, defaultPolicy());
  assert.deepEqual(p.irqs.map((i) => i.desired), [[0], [1]]);
  assert.deepEqual(steering(p, 'xps').map((r) => r[1]), [[0, 2, 4], [1, 3, 5]]);
});

test('plan rows: IRQs in number order, the NIC\'s node for queue IRQs, the sock-flow setting passed through', () => {
  const s = snap({ sockets: 2, coresPerSocket: 2, threadsPerCore: 1, nics: [{ name: 'eth0', node: 1, queues: 2 }] });
  const shuffled: Snapshot = { ...s, irqs: [...s.irqs].reverse().map((i) => ({ ...i, node: -1 })), rpsSockFlowEntries: 1024 };
  const pol: Policy = { ...defaultPolicy(), rpsSockFlowEntries: 32768 };
  const p = plan(shuffled, pol);
  assert.deepEqual(p.irqs.map((i) => [i.irq, i.node, i.device]), [[100, 1, '0000:10:00.0'], [101, 1, '0000:10:00.0']]);
  assert.deepEqual(p.rpsSockFlowEntries, { current: 1024, desired: 32768 });
});

test('ignore on a NIC wins over rps/xps = on and rps-flow-cnt: no mask, no flow count', () => {
  const p = plan(four(2), withDefaults({ strategy: 'ignore', rps: 'on', xps: 'on', rpsFlowCnt: 4096 }));
  assert.deepEqual(steering(p, 'rps'), [[0, null, null], [1, null, null]]);
  assert.deepEqual(steering(p, 'xps'), [[0, null, null], [1, null, null]]);
});

test('assignmentOf: single-CPU rows only, NIC queues by iface/queue, other IRQs by irq:N', () => {
  const platform = (s: Snapshot, irq: number, name: string): Snapshot => ({
    ...s,
    irqs: [...s.irqs, { irq, name, actions: [name], chip: 'IO-APIC', counts: {}, total: 0, affinity: s.topology.online, effective: [0], node: -1, hint: null, pci: null, virtio: null, queue: null }],
  });
  const s = platform(platform(platform(four(2), 4, 'ttyS0'), 5, 'rtc0'), 6, 'acpi');
  const pol = parsePolicy('[irq:a]\nmatch-irq = ttyS0\nstrategy = pin\npin = 3\n[irq:b]\nmatch-irq = rtc0\nstrategy = node\n', 'test.ini', defaultPolicy());
  const p = plan(s, pol);
  // rtc0 (every CPU) and acpi (left alone) are no placement to remember.
  assert.deepEqual(p.irqs.map((i) => i.desired), [[3], [0, 1, 2, 3], null, [0], [1]]);
  assert.deepEqual(assignmentOf(p), new Map([['irq:4', 3], ['eth0/0', 0], ['eth0/1', 1]]));
  // A NIC under strategy = node: no single CPU, nothing remembered.
  assert.deepEqual(assignmentOf(plan(four(2), withDefaults({ strategy: 'node' }))), new Map());
});
