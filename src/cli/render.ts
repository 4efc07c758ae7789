// cli/render — human tables and the stable JSON shape of `plan --json` (documented in the
// README; other tools parse it, so fields are only ever added, never renamed).

import { formatCpuList } from '../cpumask/cpumask.js';
import type { ChangeResult } from '../applier/applier.js';
import type { Plan } from '../types.js';

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

const list = (s: readonly number[] | null): string => (s === null ? '?' : s.length === 0 ? '(none)' : formatCpuList(s));

export function planJson(plan: Plan): object {
  return {
    allowedCpus: formatCpuList(plan.allowedCpus),
    irqs: plan.irqs.map((i) => ({
      irq: i.irq,
      name: i.name,
      device: i.device,
      interface: i.interface,
      queue: i.queue,
      role: i.role,
      node: i.node,
      current: i.current === null ? null : formatCpuList(i.current),
      desired: i.desired === null ? null : formatCpuList(i.desired),
      reason: i.reason,
      policy: i.policy,
      ...(i.serial !== undefined ? { serial: i.serial } : {}),
    })),
    queues: plan.queues.map((q) => ({
      interface: q.interface,
      queue: q.queue,
      kind: q.kind,
      current: q.current === null ? null : formatCpuList(q.current),
      desired: q.desired === null ? null : formatCpuList(q.desired),
      ...(q.flowCnt !== null ? { flowCnt: q.flowCnt } : {}),
      policy: q.policy,
    })),
    rpsSockFlowEntries: plan.rpsSockFlowEntries,
    warnings: plan.warnings,
  };
}

export function planText(plan: Plan): string {
  const out: string[] = [];
  out.push(`CPUs for device interrupts: ${list(plan.allowedCpus)}`, '');
  out.push(
    table(
      ['IRQ', 'NAME', 'DEVICE', 'QUEUE', 'NODE', 'CURRENT', '', 'PLANNED', 'REASON'],
      plan.irqs.map((i) => [
        `${i.irq}`,
        i.name || '-',
        i.device ?? '-',
        i.interface !== null ? `${i.interface} ${i.role ?? ''}${i.role ? '-' : ''}${i.queue ?? ''}` : (i.serial ?? '-'),
        i.node === null ? '-' : `${i.node}`,
        list(i.current),
        '->',
        i.desired === null ? '(leave)' : list(i.desired),
        i.reason,
      ]),
    ),
  );
  if (plan.queues.length) {
    out.push('', 'Packet steering (RPS/XPS):');
    out.push(
      table(
        ['INTERFACE', 'QUEUE', 'KIND', 'CURRENT', '', 'PLANNED'],
        plan.queues.map((q) => [
          q.interface,
          `${q.kind === 'rps' ? 'rx' : 'tx'}-${q.queue}`,
          q.kind,
          list(q.current),
          '->',
          (q.desired === null ? '(leave)' : list(q.desired)) + (q.flowCnt !== null ? ` flow_cnt=${q.flowCnt}` : ''),
        ]),
      ),
    );
  }
  const s = plan.rpsSockFlowEntries;
  if (s.desired !== null) out.push('', `net.core.rps_sock_flow_entries: ${s.current ?? '?'} -> ${s.desired}`);
  for (const w of plan.warnings) out.push(`warning: ${w}`);
  return out.join('\n');
}

export function changesText(changes: ChangeResult[]): string {
  if (changes.length === 0) return 'nothing to change: the system already matches the plan';
  return table(
    ['TARGET', 'OLD', '', 'NEW', 'OUTCOME', 'DETAIL'],
    changes.map((c) => [
      c.write.target,
      c.write.old || '(none)',
      '->',
      c.write.new || '(none)',
      c.outcome,
      [c.error, c.effective !== undefined ? `effective ${c.effective}` : undefined].filter(Boolean).join('; '),
    ]),
  );
}
