import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assignmentOf, plan } from '../src/planner/planner.js';
import { defaultPolicy, parsePolicy } from '../src/policy/policy.js';
import type { Plan, Policy, Snapshot } from '../src/types.js';
import { snap, withOnline } from './helpers/snap.js';
import { runs } from './helpers/runs.js';

const policy = (extra = ''): Policy => (extra ? parsePolicy(extra, 'test.ini', defaultPolicy()) : defaultPolicy());
const queueCpus = (p: Plan, iface: string) => p.irqs.filter((i) => i.interface === iface).map((i) => i.desired?.[0]);
const loadOf = (p: Plan) => {
  const m = new Map<number, number>();
  const seen = new Set<string>();
  for (const i of p.irqs) {
    if (!i.desired || i.interface === null) continue;
    const key = `${i.interface}/${i.queue}`;
    if (seen.has(key)) continue;
    seen.add(key);
    m.set(i.desired[0]!, (m.get(i.desired[0]!) ?? 0) + 1);
  }
  return m;
};

test('this VM: virtio-net queue pair on one CPU, RPS over the other CPU, no XPS for a single tx queue', () => {
  const s = snap({ sockets: 1, coresPerSocket: 2, threadsPerCore: 1, nics: [{ name: 'eth0', node: -1, queues: 1, virtio: true }] });
  const p = plan(s, policy());
  const q = p.irqs.filter((i) => i.interface === 'eth0');
  assert.equal(q.length, 2);
  assert.deepEqual(q[0]!.desired, q[1]!.desired, 'input.0 and output.0 share a CPU');
  // The queue's interrupt CPU already polls and does GRO for every packet: RPS goes elsewhere.
  assert.deepEqual(q[0]!.desired, [0]);
  assert.deepEqual(p.queues.filter((x) => x.kind === 'rps').map((x) => x.desired), [[1]]);
  assert.equal(p.queues.filter((x) => x.kind === 'xps').length, 0);
});

test('2-socket SMT server: node-local, balanced across NICs, distinct cores before siblings', () => {
  // 2 sockets x 8 cores x 2 threads: node 0 = cpus 0-7,16-23; node 1 = 8-15,24-31.
  const s = snap({
    sockets: 2,
    coresPerSocket: 8,
    threadsPerCore: 2,
    nics: [
      { name: 'ens1', node: 0, queues: 8 },
      { name: 'ens2', node: 1, queues: 16 },
      { name: 'ens3', node: 0, queues: 8 },
    ],
  });
  const p = plan(s, policy());
  const node0 = new Set(s.topology.nodes[0]!.cpus);
  const node1 = new Set(s.topology.nodes[1]!.cpus);
  for (const c of queueCpus(p, 'ens1')) assert.ok(node0.has(c!), `ens1 on node 0, got ${c}`);
  for (const c of queueCpus(p, 'ens3')) assert.ok(node0.has(c!), `ens3 on node 0, got ${c}`);
  for (const c of queueCpus(p, 'ens2')) assert.ok(node1.has(c!), `ens2 on node 1, got ${c}`);
  // ens1 + ens3 = 16 queues on node 0's 16 CPUs: exactly one each (balanced across NICs).
  const l = loadOf(p);
  for (const c of node0) assert.equal(l.get(c), 1, `cpu${c} load`);
  // ens1 alone: 8 queues on 8 distinct physical cores (core ids of siblings: c and c+16).
  const cores = new Set(queueCpus(p, 'ens1').map((c) => c! % 16));
  assert.equal(cores.size, 8);
  // ens2: 16 queues on node 1's 16 CPUs, one each.
  assert.equal(new Set(queueCpus(p, 'ens2')).size, 16);
});

test('doubling up on the own node rather than crossing nodes; cross-node = true spills', () => {
  const s = snap({ sockets: 2, coresPerSocket: 2, threadsPerCore: 1, nics: [{ name: 'ens1', node: 0, queues: 8 }] });
  const p = plan(s, policy());
  assert.deepEqual([...new Set(queueCpus(p, 'ens1'))].sort(), [0, 1]);
  assert.deepEqual([...loadOf(p).values()], [4, 4]);
  const p2 = plan(s, policy('[defaults]\ncross-node = true\n'));
  assert.equal(new Set(queueCpus(p2, 'ens1')).size, 4);
});

test('never plans offline, isolated or excluded CPUs', () => {
  const s = snap({ sockets: 1, coresPerSocket: 8, threadsPerCore: 1, offline: [3], isolated: [5], nics: [{ name: 'eth0', node: 0, queues: 8 }] });
  const p = plan(s, policy('[cpus]\nexclude-cpus = 7\n'));
  assert.deepEqual(p.allowedCpus, [0, 1, 2, 4, 6]);
  for (const i of p.irqs) for (const c of i.desired ?? []) assert.ok([0, 1, 2, 4, 6].includes(c), `planned cpu${c}`);
  for (const q of p.queues) for (const c of q.desired ?? []) assert.ok([0, 1, 2, 4, 6].includes(c), `queue planned cpu${c}`);
  const p2 = plan(s, policy('[cpus]\nallow-isolated = true\n'));
  assert.ok(p2.allowedCpus.includes(5));
});

test('irqaffinity= on the kernel command line limits cpus = all', () => {
  const s = snap({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, nics: [{ name: 'eth0', node: 0, queues: 4 }] });
  s.topology.irqAffinityDefault = [0, 1];
  assert.deepEqual(plan(s, policy()).allowedCpus, [0, 1]);
  assert.deepEqual(plan(s, policy('[cpus]\ncpus = 0-3\n')).allowedCpus, [0, 1, 2, 3]);
});

test('NUMA node -1 uses all allowed CPUs; node with no allowed CPU falls back', () => {
  const s = snap({ sockets: 2, coresPerSocket: 4, threadsPerCore: 1, nics: [{ name: 'eth0', node: -1, queues: 8 }, { name: 'eth1', node: 1, queues: 4 }] });
  const p = plan(s, policy());
  assert.equal(new Set(queueCpus(p, 'eth0')).size >= 4, true);
  const p2 = plan(s, policy('[cpus]\ncpus = 0-3\n'));
  for (const c of queueCpus(p2, 'eth1')) assert.ok(c! < 4);
  assert.match(p2.irqs.find((i) => i.interface === 'eth1')!.reason, /no allowed CPU/);
});

test('kernel-managed IRQs are never planned; ignore/pin/node strategies', () => {
  const s = snap({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, nics: [{ name: 'eth0', node: 0, queues: 2 }, { name: 'eth1', node: 0, queues: 2 }] });
  const managed = s.irqs[0]!.irq;
  const p = plan(s, policy(), { managedIrqs: new Set([managed]) });
  assert.equal(p.irqs.find((i) => i.irq === managed)!.desired, null);
  const p2 = plan(s, policy('[net:a]\nmatch-name = eth0\nstrategy = pin\npin = 3\n[net:b]\nmatch-name = eth1\nstrategy = ignore\n'));
  assert.deepEqual(queueCpus(p2, 'eth0'), [3, 3]);
  assert.deepEqual(queueCpus(p2, 'eth1'), [undefined, undefined]);
  assert.ok(p2.queues.filter((q) => q.interface === 'eth1').every((q) => q.desired === null));
  const p3 = plan(s, policy('[defaults]\nstrategy = node\n'));
  assert.deepEqual(p3.irqs[0]!.desired, [0, 1, 2, 3]);
});

test('XPS: tx queue i goes with the CPU of queue i, every allowed CPU covered', () => {
  const s = snap({ sockets: 1, coresPerSocket: 8, threadsPerCore: 1, nics: [{ name: 'eth0', node: 0, queues: 4 }] });
  const p = plan(s, policy());
  const xps = p.queues.filter((q) => q.kind === 'xps');
  assert.equal(xps.length, 4);
  const covered = new Set(xps.flatMap((q) => [...q.desired!]));
  assert.deepEqual([...covered].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7]);
  for (const q of xps) assert.ok(q.desired!.includes(queueCpus(p, 'eth0')[q.queue]!));
  // 4 rx queues < 8 local CPUs → RPS auto on: every CPU but the queue's own interrupt CPU.
  for (const q of p.queues.filter((x) => x.kind === 'rps')) {
    assert.deepEqual(q.desired, [0, 1, 2, 3, 4, 5, 6, 7].filter((c) => c !== queueCpus(p, 'eth0')[q.queue]));
  }
});

test('1024 CPUs / 8 nodes: every queue on its node, loads within 1', () => {
  const s = snap({ sockets: 8, coresPerSocket: 64, threadsPerCore: 2, nics: Array.from({ length: 8 }, (_, k) => ({ name: `ens${k}`, node: k, queues: 200 })) });
  const p = plan(s, policy());
  const nodeOf = new Map(s.topology.cpus.map((c) => [c.cpu, c.node]));
  for (let k = 0; k < 8; k++) for (const c of queueCpus(p, `ens${k}`)) assert.equal(nodeOf.get(c!), k);
  const loads = [...loadOf(p).values()];
  assert.ok(Math.max(...loads) - Math.min(...loads) <= 1);
});

test('deterministic: same input, same plan', () => {
  const s = snap({ sockets: 2, coresPerSocket: 4, threadsPerCore: 2, nics: [{ name: 'a', node: 0, queues: 5 }, { name: 'b', node: -1, queues: 7 }] });
  assert.deepEqual(plan(s, policy()), plan(s, policy()));
});

// Churn bound: U units on C CPUs of one domain. Onlining one CPU moves exactly the new CPU's
// quota (≤ ceil(U/(C+1))); offlining one moves exactly the units that were on it (≤ ceil(U/C)).
function moves(before: Map<string, number>, after: Map<string, number>): number {
  let n = 0;
  for (const [k, c] of before) if (after.get(k) !== c) n++;
  return n;
}

test('property: CPU online/offline moves the minimum number of queues', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 24 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 3 }), fc.nat(), fc.boolean(), (c, u, nicCount, pick, smt) => {
      const s0 = snap({ sockets: 1, coresPerSocket: smt ? Math.ceil(c / 2) * 2 : c, threadsPerCore: smt ? 2 : 1, nics: Array.from({ length: nicCount }, (_, k) => ({ name: `n${k}`, node: -1, queues: Math.max(1, Math.round(u / nicCount)) })) });
      const all = s0.topology.online;
      const units = s0.irqs.length;
      const victim = all[pick % all.length]!;
      const fewer = all.filter((x) => x !== victim);
      // offline: from plan on all → plan on fewer
      const full = plan(s0, policy());
      const a0 = assignmentOf(full);
      const off = assignmentOf(plan(withOnline(s0, fewer), policy(), { previous: a0 }));
      const onVictim = [...a0.values()].filter((x) => x === victim).length;
      assert.equal(moves(a0, off), onVictim, 'offline moves only the victim CPU units');
      assert.ok(onVictim <= Math.ceil(units / all.length));
      // online: back to all CPUs
      const on = assignmentOf(plan(s0, policy(), { previous: off }));
      const onNew = [...on.values()].filter((x) => x === victim).length;
      assert.equal(moves(off, on), onNew, 'online moves only what the new CPU takes');
      assert.ok(onNew <= Math.ceil(units / all.length));
      // and the result is balanced
      const l = new Map<number, number>();
      for (const x of on.values()) l.set(x, (l.get(x) ?? 0) + 1);
      const vals = all.map((x) => l.get(x) ?? 0);
      assert.ok(Math.max(...vals) - Math.min(...vals) <= 1, `balanced ${vals}`);
    }),
    { numRuns: runs(300) },
  );
});

export type { Snapshot };
