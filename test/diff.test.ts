// applier/diff — which writes a plan needs: only targets whose value differs, each with the
// path, the text the kernel is given (cpulist for IRQs, a mask of nr_cpu_ids bits for
// RPS/XPS), the human old/new forms and the audit target.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffPlan } from '../src/applier/diff.js';
import type { Plan, PlannedIrq, PlannedQueue } from '../src/types.js';

const irq = (n: number, current: number[] | null, desired: number[] | null, extra: Partial<PlannedIrq> = {}): PlannedIrq => ({
  irq: n,
  name: `eth0-TxRx-${n}`,
  device: '0000:3b:00.0',
  interface: null,
  queue: null,
  role: null,
  node: 0,
  current,
  desired,
  reason: 'why',
  policy: 'defaults',
  ...extra,
});
const queue = (kind: 'rps' | 'xps', q: number, current: number[] | null, desired: number[] | null, extra: Partial<PlannedQueue> = {}): PlannedQueue => ({
  interface: 'eth0',
  queue: q,
  kind,
  current,
  desired,
  flowCnt: null,
  currentFlowCnt: null,
  policy: 'net:x',
  ...extra,
});
const planOf = (p: Partial<Plan>): Plan => ({ allowedCpus: [0, 1], irqs: [], queues: [], rpsSockFlowEntries: { current: null, desired: null }, warnings: [], ...p });

test('IRQ writes: only differing, present, planned IRQs; cpulist text; queue label from role', () => {
  const writes = diffPlan(
    planOf({
      irqs: [
        irq(38, [0, 1], [1], { interface: 'eth0', queue: 0, role: 'rx' }),
        irq(39, [1], [1]),
        irq(40, null, [0]),
        irq(41, [0], null),
        irq(42, [0, 1], [0, 1, 2, 3], { interface: 'eth0', queue: 3, role: null, policy: null }),
      ],
    }),
    4,
  );
  assert.deepEqual(writes, [
    { kind: 'irq', target: 'irq/38', path: '/proc/irq/38/smp_affinity_list', value: '1', old: '0-1', new: '1', cpus: [1], irq: 38, interface: 'eth0', queue: 'rx-0', policy: 'defaults', reason: 'why' },
    { kind: 'irq', target: 'irq/42', path: '/proc/irq/42/smp_affinity_list', value: '0-3', old: '0-1', new: '0-3', cpus: [0, 1, 2, 3], irq: 42, interface: 'eth0', queue: 'rxtx-3', policy: null, reason: 'why' },
  ]);
});

test('RPS/XPS writes: hex masks as wide as nr_cpu_ids, on/off reasons, no write for null or equal', () => {
  const writes = diffPlan(
    planOf({
      queues: [
        queue('rps', 0, [], [0, 1]),
        queue('rps', 1, [0, 1], []),
        queue('rps', 2, [0, 1], [0, 1]),
        queue('rps', 3, null, [0]),
        queue('xps', 0, [], [33]),
        queue('xps', 1, [2], []),
        queue('xps', 2, [2], null),
      ],
    }),
    40,
  );
  assert.deepEqual(
    writes.map((w) => [w.kind, w.target, w.path, w.value, w.old, w.new, w.queue, w.reason, w.policy]),
    [
      ['rps', 'net/eth0/rx-0/rps', '/sys/class/net/eth0/queues/rx-0/rps_cpus', '00,00000003', '', '0-1', 'rx-0', 'RPS on', 'net:x'],
      ['rps', 'net/eth0/rx-1/rps', '/sys/class/net/eth0/queues/rx-1/rps_cpus', '00,00000000', '0-1', '', 'rx-1', 'RPS off', 'net:x'],
      ['xps', 'net/eth0/tx-0/xps', '/sys/class/net/eth0/queues/tx-0/xps_cpus', '02,00000000', '', '33', 'tx-0', 'XPS on', 'net:x'],
      ['xps', 'net/eth0/tx-1/xps', '/sys/class/net/eth0/queues/tx-1/xps_cpus', '00,00000000', '2', '', 'tx-1', 'XPS off', 'net:x'],
    ],
  );
  assert.deepEqual(writes[0]!.cpus, [0, 1]);
  assert.equal(writes[0]!.interface, 'eth0');
});

test('rps_flow_cnt and the global flow table: numbers, written only when they differ', () => {
  const writes = diffPlan(
    planOf({
      queues: [queue('rps', 0, [0], [0], { flowCnt: 4096, currentFlowCnt: 0 }), queue('rps', 1, [0], [0], { flowCnt: 4096, currentFlowCnt: 4096 }), queue('xps', 0, [0], [0], { flowCnt: 5, currentFlowCnt: 0 })],
      rpsSockFlowEntries: { current: 0, desired: 32768 },
    }),
    2,
  );
  assert.deepEqual(writes, [
    { kind: 'rps-flow-cnt', target: 'net/eth0/rx-0/rps_flow_cnt', path: '/sys/class/net/eth0/queues/rx-0/rps_flow_cnt', value: '4096', old: '0', new: '4096', cpus: null, interface: 'eth0', queue: 'rx-0', policy: 'net:x', reason: 'RFS flow table' },
    { kind: 'sysctl', target: 'sysctl/net.core.rps_sock_flow_entries', path: '/proc/sys/net/core/rps_sock_flow_entries', value: '32768', old: '0', new: '32768', cpus: null, policy: 'net', reason: 'RFS global flow table' },
  ]);
  const unknownOld = diffPlan(planOf({ queues: [queue('rps', 0, [0], [0], { flowCnt: 1, currentFlowCnt: null })] }), 2);
  assert.equal(unknownOld[0]!.old, '');
  for (const s of [{ current: 5, desired: 5 }, { current: null, desired: 5 }, { current: 5, desired: null }]) assert.deepEqual(diffPlan(planOf({ rpsSockFlowEntries: s }), 2), []);
});

test('IRQ writes of a non-queue IRQ and of a NIC misc vector carry no queue (and no interface when there is none)', () => {
  const writes = diffPlan(
    planOf({
      irqs: [
        irq(50, [0], [1]),
        irq(51, [0], [1], { interface: 'eth0', queue: null, role: null }),
        irq(52, [0], [1], { interface: null, queue: 2, role: 'tx' }),
      ],
    }),
    2,
  );
  assert.deepEqual(
    writes.map((w) => ({ irq: w.irq, interface: w.interface, queue: w.queue, keys: Object.keys(w).filter((k) => k === 'interface' || k === 'queue') })),
    [
      { irq: 50, interface: undefined, queue: undefined, keys: [] },
      { irq: 51, interface: 'eth0', queue: undefined, keys: ['interface'] },
      { irq: 52, interface: undefined, queue: undefined, keys: [] },
    ],
  );
});

test('rps_flow_cnt is an RPS queue setting: XPS queues never get a flow count write', () => {
  const writes = diffPlan(planOf({ queues: [queue('xps', 0, [0], [0], { flowCnt: 64, currentFlowCnt: 0 }), queue('rps', 0, [0], [0], { flowCnt: 64, currentFlowCnt: 64 })] }), 2);
  assert.deepEqual(writes, []);
});
