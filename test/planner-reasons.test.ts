// planner reasons and warnings — what `plan` tells the operator, word for word: every
// strategy, every way an IRQ is left alone, every scope, and each warning. The wording is
// the interface an operator (and a script reading `plan --json`) relies on.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allowedCpus, assignmentOf, plan } from '../src/planner/planner.js';
import { defaultPolicy, parsePolicy } from '../src/policy/policy.js';
import type { IrqInfo, Plan, Policy, Snapshot } from '../src/types.js';
import { snap } from './helpers/snap.js';

const policy = (text = ''): Policy => (text ? parsePolicy(text, 'test.ini', defaultPolicy()) : defaultPolicy());
const row = (p: Plan, irq: number) => {
  const r = p.irqs.find((i) => i.irq === irq)!;
  return { desired: r.desired, reason: r.reason, policy: r.policy };
};

/** A platform IRQ (no NIC queue) added to a snapshot. */
function withIrq(s: Snapshot, irq: number, name: string, extra: Partial<IrqInfo> = {}): Snapshot {
  const info: IrqInfo = { irq, name, actions: [name], chip: 'IO-APIC', counts: {}, total: 0, affinity: s.topology.online, effective: [0], node: -1, hint: null, pci: null, virtio: null, queue: null, ...extra };
  return { ...s, irqs: [...s.irqs, info] };
}

const four = () => snap({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, nics: [{ name: 'eth0', node: -1, queues: 2 }] });

test('IRQs that are not NIC queues: left alone unless an [irq:] section names them', () => {
  let s = withIrq(four(), 4, 'ttyS0');
  s = withIrq(s, 5, 'rtc0');
  s = withIrq(s, 6, 'acpi');
  s = withIrq(s, 7, 'i8042');
  s = withIrq(s, 8, 'gone', { affinity: null });
  const p = plan(s, policy('[irq:a]\nmatch-irq = rtc0\nstrategy = pin\npin = 1-2\n[irq:b]\nmatch-irq = acpi\nstrategy = node\n[irq:c]\nmatch-irq = i8042\nstrategy = ignore\n[irq:d]\nmatch-irq = gone\nstrategy = pin\npin = 1\n'));
  assert.deepEqual(row(p, 4), { desired: null, reason: 'not a NIC queue and no [irq:] section names it', policy: null });
  assert.deepEqual(row(p, 5), { desired: [1, 2], reason: 'pin 1-2 (irq:a)', policy: 'irq:a' });
  assert.deepEqual(row(p, 6), { desired: [0, 1, 2, 3], reason: 'node: all allowed CPUs', policy: 'irq:b' });
  assert.deepEqual(row(p, 7), { desired: null, reason: 'ignore (irq:c)', policy: 'irq:c' });
  assert.deepEqual(row(p, 8), { desired: null, reason: '/proc/irq entry vanished or unreadable', policy: null });
  assert.deepEqual(p.warnings, []);
  // A spread [irq:] section places the IRQ as a unit of its own.
  const spread = plan(withIrq(four(), 4, 'ttyS0'), policy('[irq:s]\nmatch-irq = ttyS0\nstrategy = spread\n'));
  assert.deepEqual(row(spread, 4), { desired: [2], reason: 'spread over all allowed CPUs', policy: 'irq:s' });
  assert.equal(assignmentOf(spread).get('irq:4'), 2);
});

test('a pin on CPUs that are not allowed or online: left alone, with a warning', () => {
  const p = plan(withIrq(four(), 4, 'ttyS0'), policy('[irq:x]\nmatch-irq = ttyS0\nstrategy = pin\npin = 7\n'));
  assert.deepEqual(row(p, 4), { desired: null, reason: 'pin 7: none of these CPUs is allowed and online; left alone', policy: 'irq:x' });
  assert.deepEqual(p.warnings, ['irq 4 (ttyS0): pin 7: none of these CPUs is allowed and online; left alone']);
});

test('a pin strategy without CPUs (a hand-built policy): left alone, with the same warning', () => {
  const parsed = policy('[irq:x]\nmatch-irq = ttyS0\nstrategy = pin\npin = 1\n');
  const hand: Policy = { ...parsed, sections: parsed.sections.map((s) => ({ ...s, pin: null })) };
  const p = plan(withIrq(four(), 4, 'ttyS0'), hand);
  assert.deepEqual(row(p, 4), { desired: null, reason: 'pin : none of these CPUs is allowed and online; left alone', policy: 'irq:x' });
  assert.deepEqual(p.warnings, ['irq 4 (ttyS0): pin : none of these CPUs is allowed and online; left alone']);
});

test('kernel-managed IRQs are left to the kernel', () => {
  const s = four();
  const q = s.irqs[0]!.irq;
  const p = plan(s, defaultPolicy(), { managedIrqs: new Set([q]) });
  assert.deepEqual(row(p, q), { desired: null, reason: 'kernel-managed (refused writes): left to the kernel', policy: null });
});

test('spread reasons: placed, kept, moved to rebalance, moved off a CPU that left', () => {
  const s = four();
  const [a, b] = s.irqs.map((i) => i.irq);
  const first = plan(s, defaultPolicy());
  assert.deepEqual([row(first, a!), row(first, b!)], [
    { desired: [0], reason: 'spread over all allowed CPUs', policy: 'defaults' },
    { desired: [1], reason: 'spread over all allowed CPUs', policy: 'defaults' },
  ]);
  const kept = plan(s, defaultPolicy(), { previous: new Map([['eth0/0', 3], ['eth0/1', 1]]) });
  assert.deepEqual([row(kept, a!).reason, row(kept, b!).reason], ['spread over all allowed CPUs, kept', 'spread over all allowed CPUs, kept']);
  // Both on CPU 1 before: one stays, the other moves to balance.
  const crowded = plan(s, defaultPolicy(), { previous: new Map([['eth0/0', 1], ['eth0/1', 1]]) });
  assert.deepEqual([row(crowded, a!).reason, row(crowded, b!).reason], ['spread over all allowed CPUs, kept', 'spread over all allowed CPUs, moved from 1 to rebalance']);
  const gone = plan(s, defaultPolicy(), { previous: new Map([['eth0/0', 9]]) });
  assert.equal(row(gone, a!).reason, 'spread over all allowed CPUs, moved: cpu9 not allowed/online');
});

test('NIC scopes: node-local, node first (cross-node), every node when its node has no allowed CPU', () => {
  const s = snap({ sockets: 2, coresPerSocket: 2, threadsPerCore: 1, nics: [{ name: 'eth0', node: 0, queues: 1 }, { name: 'eth1', node: 1, queues: 1 }] });
  const [a, b] = s.irqs.map((i) => i.irq);
  assert.equal(row(plan(s, defaultPolicy()), a!).reason, 'spread over node 0');
  assert.equal(row(plan(s, policy('[net:x]\nmatch-name = eth0\ncross-node = true\n')), a!).reason, 'spread over node 0 first');
  const noNode1 = plan(s, policy('[cpus]\nexclude-cpus = 2-3\n'));
  assert.deepEqual(row(noNode1, b!), { desired: [1], reason: 'spread over all nodes (node 1 has no allowed CPU)', policy: 'defaults' });
});

test('allowed CPUs: offline CPUs named, isolated and nohz_full left out, a fallback when nothing is left', () => {
  const s = snap({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, offline: [3], isolated: [2] });
  assert.deepEqual(allowedCpus(s, policy('[cpus]\ncpus = 1-3\n')), { cpus: [1], warnings: ['cpus: 3 not online, left out'] });
  assert.deepEqual(allowedCpus(s, defaultPolicy()), { cpus: [0, 1], warnings: [] });
  assert.deepEqual(allowedCpus(s, policy('[cpus]\nallow-isolated = true\n')), { cpus: [0, 1, 2], warnings: [] });
  const nohz = { ...s, topology: { ...s.topology, nohzFull: [1] } };
  assert.deepEqual(allowedCpus(nohz, defaultPolicy()), { cpus: [0], warnings: [] });
  assert.deepEqual(allowedCpus(nohz, policy('[cpus]\nallow-nohz-full = true\n')), { cpus: [0, 1], warnings: [] });
  assert.deepEqual(allowedCpus(s, policy('[cpus]\ncpus = 2\n')), { cpus: [0, 1], warnings: ['no allowed CPU is online; falling back to 0-1'] });
  // irqaffinity= narrows `cpus = all`; an explicit list overrides it.
  const irqaff = { ...s, topology: { ...s.topology, irqAffinityDefault: [1, 2] } };
  assert.deepEqual(allowedCpus(irqaff, defaultPolicy()).cpus, [1]);
  assert.deepEqual(allowedCpus(irqaff, policy('[cpus]\ncpus = 0-1\n')).cpus, [0, 1]);
  // irqaffinity= naming no online CPU (or none at all) is ignored, not an empty set.
  for (const irqAffinityDefault of [[], [3], [7]]) {
    assert.deepEqual(allowedCpus({ ...s, topology: { ...s.topology, irqAffinityDefault } }, defaultPolicy()), { cpus: [0, 1], warnings: [] }, `irqaffinity=${irqAffinityDefault}`);
  }
  // Every online CPU isolated: they are still where interrupts go, rather than nowhere.
  const allIsolated = snap({ sockets: 1, coresPerSocket: 2, threadsPerCore: 1, isolated: [0, 1] });
  assert.deepEqual(allowedCpus(allIsolated, defaultPolicy()), { cpus: [0, 1], warnings: ['no allowed CPU is online; falling back to 0-1'] });
  const noneOnline = { ...allIsolated, topology: { ...allIsolated.topology, online: [] } };
  assert.deepEqual(allowedCpus(noneOnline, defaultPolicy()), { cpus: [], warnings: ['no CPU is online (unreadable or empty online list): nothing is moved'] });
});

test('a wedged NET_RX backlog: the CPU leaves RPS masks, with a warning', () => {
  const s = { ...snap({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, nics: [{ name: 'eth0', node: -1, queues: 1 }] }), stuckBacklogCpus: [1, 3] };
  const p = plan(s, defaultPolicy());
  // cpus 1 and 3 out (wedged); cpu0 out too: rx-0's interrupt is there.
  assert.deepEqual(p.irqs.find((i) => i.interface === 'eth0')!.desired, [0]);
  assert.deepEqual(p.queues.filter((q) => q.kind === 'rps').map((q) => q.desired), [[2]]);
  assert.deepEqual(p.warnings, ['cpu1, cpu3: NET_RX backlog holds packets but processes none (a kernel problem, cleared by a reboot); left out of RPS masks']);
});

test('ignore on a NIC: its IRQs, RPS and XPS are all left alone', () => {
  const s = snap({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, nics: [{ name: 'eth0', node: -1, queues: 2 }] });
  const p = plan(s, policy('[net:x]\nmatch-name = eth0\nstrategy = ignore\n'));
  assert.deepEqual(p.irqs.map((i) => [i.desired, i.reason]), [[null, 'ignore (net:x)'], [null, 'ignore (net:x)']]);
  assert.deepEqual(p.queues.map((q) => q.desired), [null, null, null, null]);
});
