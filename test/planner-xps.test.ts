// planner XPS masks: which CPUs each TX queue is given. Queue i gets the CPU its interrupt is
// placed on; every other allowed CPU goes to the queue whose CPU shares its physical core,
// else its last-level cache, else round-robin; a queue without an interrupt (veth) gets one
// CPU of its own first.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan } from '../src/planner/planner.js';
import { defaultPolicy } from '../src/policy/policy.js';
import type { Plan, Snapshot } from '../src/types.js';
import { snap } from './helpers/snap.js';

const xps = (p: Plan, iface: string): number[][] => p.queues.filter((q) => q.kind === 'xps' && q.interface === iface).map((q) => [...q.desired!]);
const irqCpus = (p: Plan, iface: string): number[] => p.irqs.filter((i) => i.interface === iface).map((i) => i.desired![0]!);

test('XPS: the other CPUs go to the queue on the same physical core', () => {
  // 2 cores x 2 threads, Linux-on-Intel numbering: cpu0/cpu2 are core 0, cpu1/cpu3 core 1.
  const p = plan(snap({ sockets: 1, coresPerSocket: 2, threadsPerCore: 2, nics: [{ name: 'eth0', node: -1, queues: 2 }] }), defaultPolicy());
  assert.deepEqual(irqCpus(p, 'eth0'), [0, 1]);
  assert.deepEqual(xps(p, 'eth0'), [[0, 2], [1, 3]]);
});

test('XPS: without a sibling, the queue on the same last-level cache', () => {
  // 2 sockets x 3 cores, one cache per socket: queues on cpu0 and cpu3 (one per cache);
  // round-robin would hand cpu2 to the queue on the other cache.
  const p = plan(snap({ sockets: 2, coresPerSocket: 3, threadsPerCore: 1, nics: [{ name: 'eth0', node: -1, queues: 2 }] }), defaultPolicy());
  assert.deepEqual(irqCpus(p, 'eth0'), [0, 3]);
  assert.deepEqual(xps(p, 'eth0'), [[0, 1, 2], [3, 4, 5]]);
});

test('XPS: queues without an interrupt (veth) get a CPU each first, the rest round-robin', () => {
  const p = plan(snap({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, nics: [{ name: 'veth0', node: -1, queues: 0, rx: 1, tx: 3 }] }), defaultPolicy());
  assert.deepEqual(xps(p, 'veth0'), [[0, 3], [1], [2]]);
  // Two queue IRQs and a third TX queue without one: that queue gets the first free CPU
  // before the cache rule hands it to queue 0.
  const q = plan(snap({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, nics: [{ name: 'eth0', node: -1, queues: 2, tx: 3 }] }), defaultPolicy());
  assert.deepEqual(irqCpus(q, 'eth0'), [0, 1]);
  assert.deepEqual(xps(q, 'eth0'), [[0, 3], [1], [2]]);
});

test('XPS: the spare threads of a core shared by several queues go to the first queue on it', () => {
  // One core with 4 threads (SMT4): queue 0 on cpu0, queue 1 on cpu1; cpu2 and cpu3 have no
  // queue and follow the core's first queue, not its last.
  const s = snap({ sockets: 1, coresPerSocket: 1, threadsPerCore: 4, nics: [{ name: 'eth0', node: -1, queues: 2 }] });
  const p = plan(s, defaultPolicy());
  assert.deepEqual(irqCpus(p, 'eth0'), [0, 1]);
  assert.deepEqual(xps(p, 'eth0'), [[0, 2, 3], [1]]);
});

test('XPS: a queue whose interrupt CPU has no topology still owns it; the described CPUs go round-robin', () => {
  // 4 CPUs, only cpu2 and cpu3 described: the queues land on cpu0 and cpu1, which have no
  // core or cache to share, so cpu2 and cpu3 go to queue 0 and 1 in turn.
  const s = snap({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, nics: [{ name: 'eth0', node: -1, queues: 2 }] });
  const bare: Snapshot = { ...s, topology: { ...s.topology, cpus: s.topology.cpus.filter((c) => c.cpu >= 2) } };
  const p = plan(bare, defaultPolicy());
  assert.deepEqual(irqCpus(p, 'eth0'), [0, 1]);
  assert.deepEqual(xps(p, 'eth0'), [[0, 2], [1, 3]]);
});
