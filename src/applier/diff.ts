// applier/diff — which writes a plan needs (pure). Only targets whose current value differs
// from the desired one become writes, so a re-plan that changes nothing writes nothing.

import { equalSets, formatCpuList, formatCpuMask } from '../cpumask/cpumask.js';
import { SOCK_FLOW_TARGET, flowCntTarget, irqTarget, queueDir, queueTarget, type Target } from '../targets.js';
import type { Plan } from '../types.js';

export type WriteKind = 'irq' | 'rps' | 'xps' | 'rps-flow-cnt' | 'sysctl' | 'cpu-online';

export interface Write {
  kind: WriteKind;
  /** Stable audit target: irq/38, net/eth0/rx-0/rps, net/eth0/tx-0/xps, sysctl/net.core.rps_sock_flow_entries. */
  target: Target;
  /** In-root path written. */
  path: string;
  /** Text written. */
  value: string;
  /** Human forms (cpulists or numbers) for reports. */
  old: string;
  new: string;
  /** Desired CPU set for verification (null for numeric targets). */
  cpus: number[] | null;
  irq?: number;
  interface?: string;
  queue?: string;
  policy: string | null;
  reason: string;
}

export function diffPlan(plan: Plan, nrCpuIds: number): Write[] {
  const writes: Write[] = [];
  for (const p of plan.irqs) {
    if (p.desired === null || p.current === null) continue;
    if (equalSets(p.current, p.desired)) continue;
    const q = p.interface !== null && p.queue !== null ? `${p.role ?? 'rxtx'}-${p.queue}` : undefined;
    writes.push({
      kind: 'irq',
      target: irqTarget(p.irq),
      // The list form is independent of nr_cpu_ids, and the kernel parses it the same way.
      path: `/proc/irq/${p.irq}/smp_affinity_list`,
      value: formatCpuList(p.desired),
      old: formatCpuList(p.current),
      new: formatCpuList(p.desired),
      cpus: [...p.desired],
      irq: p.irq,
      ...(p.interface !== null ? { interface: p.interface } : {}),
      ...(q ? { queue: q } : {}),
      policy: p.policy,
      reason: p.reason,
    });
  }
  for (const q of plan.queues) {
    const dir = queueDir(q.kind, q.queue);
    const file = q.kind === 'rps' ? 'rps_cpus' : 'xps_cpus';
    if (q.desired !== null && q.current !== null && !equalSets(q.current, q.desired)) {
      writes.push({
        kind: q.kind,
        target: queueTarget(q.interface, q.kind, q.queue),
        path: `/sys/class/net/${q.interface}/queues/${dir}/${file}`,
        value: formatCpuMask(q.desired, nrCpuIds),
        old: formatCpuList(q.current),
        new: formatCpuList(q.desired),
        cpus: [...q.desired],
        interface: q.interface,
        queue: dir,
        policy: q.policy,
        reason: q.kind === 'rps' ? (q.desired.length ? 'RPS on' : 'RPS off') : q.desired.length ? 'XPS on' : 'XPS off',
      });
    }
    if (q.kind === 'rps' && q.flowCnt !== null && q.flowCnt !== q.currentFlowCnt) {
      writes.push({
        kind: 'rps-flow-cnt',
        target: flowCntTarget(q.interface, q.queue),
        path: `/sys/class/net/${q.interface}/queues/${dir}/rps_flow_cnt`,
        value: `${q.flowCnt}`,
        old: `${q.currentFlowCnt ?? ''}`,
        new: `${q.flowCnt}`,
        cpus: null,
        interface: q.interface,
        queue: dir,
        policy: q.policy,
        reason: 'RFS flow table',
      });
    }
  }
  const s = plan.rpsSockFlowEntries;
  if (s.desired !== null && s.current !== null && s.desired !== s.current) {
    writes.push({
      kind: 'sysctl',
      target: SOCK_FLOW_TARGET,
      path: '/proc/sys/net/core/rps_sock_flow_entries',
      value: `${s.desired}`,
      old: `${s.current}`,
      new: `${s.desired}`,
      cpus: null,
      policy: 'net',
      reason: 'RFS global flow table',
    });
  }
  return writes;
}
