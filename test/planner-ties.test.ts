// planner tie-breaks and boundaries, each on the smallest machine where getting it wrong
// changes the plan (so a change to the order or a flipped comparison fails here):
//   physical core load — distinct cores before SMT siblings, whatever the numbering;
//   the NIC's own units — a NIC's queues spread over CPUs before doubling up;
//   last-level cache load — a second queue goes to another cache;
//   RPS auto — on only while a NIC has fewer RX queues than RPS CPUs, and without the CPU
//   its queue's interrupt is placed on;
//   the order of TIE_BREAKS — swapping any two neighbours changes a plan.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignmentOf, plan, TIE_BREAKS, withoutIrqCpu, type TieBreak } from '../src/planner/planner.js';
import { defaultPolicy, parsePolicy } from '../src/policy/policy.js';
import type { Plan, Snapshot } from '../src/types.js';
import { snap } from './helpers/snap.js';
import fc from 'fast-check';
import { runs } from './helpers/runs.js';

const queueCpus = (p: Plan, iface: string): number[] => p.irqs.filter((i) => i.interface === iface).map((i) => i.desired![0]!);

/** Rewrite the topology of a snap(): `coreOf` / `llcOf` give each CPU's core and cache. */
function retopo(s: Snapshot, coreOf: (cpu: number) => number, llcOf: (cpu: number) => number): Snapshot {
  const cpus = s.topology.cpus.map((c) => ({ ...c, core: coreOf(c.cpu), coreKey: `0:0:${coreOf(c.cpu)}`, llc: llcOf(c.cpu) }));
  for (const c of cpus) c.siblings = cpus.filter((o) => o.coreKey === c.coreKey).map((o) => o.cpu);
  return { ...s, topology: { ...s.topology, cpus } };
}

test('core tie-break: SMT siblings numbered adjacently (0,1 | 2,3) — the second queue goes to the other core', () => {
  const s = retopo(snap({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, nics: [{ name: 'eth0', node: -1, queues: 2 }] }), (c) => c >> 1, () => 0);
  assert.deepEqual(queueCpus(plan(s, defaultPolicy()), 'eth0'), [0, 2]);
  // Linux-on-Intel numbering (siblings N and N+cores): the same rule, other CPU numbers.
  const intel = retopo(s, (c) => c % 2, () => 0);
  assert.deepEqual(queueCpus(plan(intel, defaultPolicy()), 'eth0'), [0, 1]);
  // Four queues on two cores: two per core, never three on one.
  const four = retopo(snap({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, nics: [{ name: 'eth0', node: -1, queues: 4 }] }), (c) => c >> 1, () => 0);
  assert.deepEqual(queueCpus(plan(four, defaultPolicy()), 'eth0'), [0, 2, 1, 3]);
});

test('cache tie-break: 4 cores, two caches (0,1 | 2,3) — the second queue goes to the other cache', () => {
  const s = retopo(snap({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, nics: [{ name: 'eth0', node: -1, queues: 2 }] }), (c) => c, (c) => c >> 1);
  assert.deepEqual(queueCpus(plan(s, defaultPolicy()), 'eth0'), [0, 2]);
});

test("NIC tie-break: a NIC's own queues spread before doubling up on a CPU", () => {
  // 2 sockets × 2 cores: node 0 = cpus 0,1 (cache 0), node 1 = 2,3 (cache 1). ethA is node-local
  // on node 0; ethB prefers node 1 but may cross (candidates 2,3,0,1). After ethA takes 0 and
  // 1 and ethB takes 2 and 3, every CPU carries one unit: ethB's next queues must go where
  // ethB is not (0, 1), not back onto 2 and 3.
  const s = snap({ sockets: 2, coresPerSocket: 2, threadsPerCore: 1, nics: [{ name: 'ethA', node: 0, queues: 2 }, { name: 'ethB', node: 1, queues: 4 }] });
  const p = plan(s, parsePolicy('[net:b]\nmatch-name = ethB\ncross-node = true\n', 'test.ini', defaultPolicy()));
  assert.deepEqual(queueCpus(p, 'ethA'), [0, 1]);
  assert.deepEqual(queueCpus(p, 'ethB'), [2, 3, 0, 1]);
});

test('RPS auto: on while rx queues < RPS CPUs, off from rx == CPUs on', () => {
  const rps = (queues: number, cpus: number) => {
    const p = plan(snap({ sockets: 1, coresPerSocket: cpus, threadsPerCore: 1, nics: [{ name: 'eth0', node: -1, queues }] }), defaultPolicy());
    return p.queues.filter((q) => q.kind === 'rps').map((q) => q.desired);
  };
  // RPS on: the RPS CPUs without the queue's own interrupt CPU (queue i's IRQ is on cpu i here).
  assert.deepEqual(rps(1, 2), [[1]]);
  assert.deepEqual(rps(2, 2), [[], []], 'rx == cpus: RPS off');
  assert.deepEqual(rps(3, 2), [[], [], []]);
  assert.deepEqual(rps(3, 4), [[1, 2, 3], [0, 2, 3], [0, 1, 3]]);
  assert.deepEqual(rps(1, 1), [[]], 'one CPU: rx == cpus, off');
});

test('property: an RPS mask is every RPS CPU but the one its queue interrupt is placed on, while another remains', () => {
  fc.assert(
    fc.property(
      fc.record({
        sockets: fc.integer({ min: 1, max: 2 }),
        coresPerSocket: fc.integer({ min: 1, max: 4 }),
        threadsPerCore: fc.integer({ min: 1, max: 2 }),
        // queues = 0: a NIC without queue IRQs (a veth), whose RPS keeps every CPU.
        nics: fc.array(fc.record({ queues: fc.integer({ min: 0, max: 3 }), rx: fc.integer({ min: 1, max: 3 }), virtio: fc.boolean() }), { minLength: 1, maxLength: 3 }),
      }),
      (m) => {
        const nics = m.nics.map((n, k) => ({ name: `eth${k}`, node: -1, queues: n.queues, rx: n.queues === 0 ? n.rx : n.queues, virtio: n.virtio }));
        const s = snap({ sockets: m.sockets, coresPerSocket: m.coresPerSocket, threadsPerCore: m.threadsPerCore, nics });
        const p = plan(s, defaultPolicy());
        const all = s.topology.online;
        for (const q of p.queues.filter((x) => x.kind === 'rps')) {
          const nic = s.nics.find((n) => n.name === q.interface)!;
          if (nic.rx.length >= all.length) {
            assert.deepEqual(q.desired, [], 'rx >= CPUs: RPS off');
            continue;
          }
          const irq = p.irqs.find((i) => i.interface === q.interface && i.queue === q.queue && i.role !== 'tx' && i.desired !== null);
          const irqCpu = irq?.desired?.[0];
          const want = irqCpu === undefined || all.length < 2 ? all : all.filter((c) => c !== irqCpu);
          assert.deepEqual(q.desired, want, `${q.interface} rx-${q.queue} (irq cpu ${irqCpu})`);
        }
      },
    ),
    { numRuns: runs(200) },
  );
});

test('withoutIrqCpu: never empties a mask, and leaves it whole without a placed interrupt', () => {
  assert.deepEqual(withoutIrqCpu([3], 3), [3], 'rps = on with one CPU: that CPU stays');
  assert.deepEqual(withoutIrqCpu([0, 1], 1), [0]);
  assert.deepEqual(withoutIrqCpu([0, 1], undefined), [0, 1], 'no queue IRQ (a veth)');
  assert.deepEqual(withoutIrqCpu([0, 1], 5), [0, 1], 'the IRQ CPU is not an RPS CPU');
});

/** The plan's CPU per unit, as `iface/queue:cpu`, for a compact comparison. */
const placement = (p: Plan): string => [...assignmentOf(p)].map(([k, c]) => `${k}:${c}`).join(' ');

/** TIE_BREAKS with rules i and i+1 swapped. */
function swapped(i: number): TieBreak[] {
  const o = [...TIE_BREAKS];
  [o[i], o[i + 1]] = [o[i + 1]!, o[i]!];
  return o;
}

// One machine per adjacent pair of TIE_BREAKS where the pair's order decides a placement:
// the plan with the shipped order is pinned, and the swapped order must give another one.
// (Found by a search over small machines; kept as data so that a new rule needs a new row.)
const ORDER_CASES: { pair: [TieBreak, TieBreak]; why: string; snapshot: () => Snapshot; previous?: [string, number][]; expected: string }[] = [
  {
    pair: ['cpu', 'waiting'],
    why: 'two queues previously both on CPU 0: balance first, so one moves to CPU 1',
    snapshot: () => snap({ sockets: 1, coresPerSocket: 2, threadsPerCore: 1, nics: [{ name: 'eth0', node: -1, queues: 2 }] }),
    previous: [['eth0/0', 0], ['eth0/1', 0]],
    expected: 'eth0/0:0 eth0/1:1',
  },
  {
    pair: ['waiting', 'nic'],
    why: "eth1's queue 2 was on CPU 3: its quota stays there before eth1's own load is looked at",
    snapshot: () => snap({ sockets: 2, coresPerSocket: 2, threadsPerCore: 1, nics: [{ name: 'eth0', node: 0, queues: 2 }, { name: 'eth1', node: -1, queues: 3 }] }),
    previous: [['eth1/2', 3]],
    expected: 'eth0/0:0 eth0/1:1 eth1/0:2 eth1/1:3 eth1/2:3',
  },
  {
    pair: ['nic', 'core'],
    why: "one 2-thread core per node; eth0 fills node 0: eth1's third queue goes where eth1 is not (CPU 2), though that core is busier",
    snapshot: () => snap({ sockets: 2, coresPerSocket: 1, threadsPerCore: 2, nics: [{ name: 'eth0', node: 0, queues: 3 }, { name: 'eth1', node: -1, queues: 3 }] }),
    expected: 'eth0/0:0 eth0/1:2 eth0/2:0 eth1/0:1 eth1/1:3 eth1/2:2',
  },
  {
    pair: ['core', 'cache'],
    why: 'cores 0-2 share one cache, CPUs 3 and 4 are one core with the other cache: the fourth queue takes the idle core (CPU 2), not the idle cache',
    snapshot: () => retopo(snap({ sockets: 1, coresPerSocket: 5, threadsPerCore: 1, nics: [{ name: 'eth0', node: -1, queues: 4 }] }), (c) => Math.min(c, 3), (c) => (c < 3 ? 0 : 1)),
    expected: 'eth0/0:0 eth0/1:3 eth0/2:1 eth0/3:2',
  },
];

test('TIE_BREAKS order: swapping any two neighbours changes a plan', () => {
  // Every adjacent pair has its case, in list order.
  assert.deepEqual(
    ORDER_CASES.map((c) => c.pair),
    TIE_BREAKS.slice(0, -1).map((t, i) => [t, TIE_BREAKS[i + 1]]),
  );
  for (const [i, c] of ORDER_CASES.entries()) {
    const previous = new Map(c.previous ?? []);
    assert.equal(placement(plan(c.snapshot(), defaultPolicy(), { previous })), c.expected, c.why);
    assert.equal(placement(plan(c.snapshot(), defaultPolicy(), { previous, tieBreaks: TIE_BREAKS })), c.expected, 'TIE_BREAKS is the default order');
    assert.notEqual(placement(plan(c.snapshot(), defaultPolicy(), { previous, tieBreaks: swapped(i) })), c.expected, `${c.pair.join(' before ')}: ${c.why}`);
  }
});
