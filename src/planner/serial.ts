// planner/serial — pure: which CPUs the IRQs behind serial ports should use, from the
// [serial:*] sections that match each port (src/policy/match.ts).
//
// One IRQ can serve several ports (all USB adapters on one host controller). Each port whose
// section matches makes a claim on each of its IRQs; an IRQ whose claims agree gets that
// placement, and an IRQ whose claims disagree is left alone and reported. Picking a winner
// (first section, last section, union of CPUs) would either silently break one operator
// intent or make the result depend on plug-in order; leaving it alone is the same answer on
// every pass, so the agent never flaps between two masks.

import { formatCpuList, intersect } from '../cpumask/cpumask.js';
import { matchSerialSection } from '../policy/match.js';
import type { Policy, SerialPortInfo, SerialSection, Snapshot } from '../types.js';

export interface SerialIrqDecision {
  /** null = leave the IRQ alone (strategy = ignore, or a conflict). */
  desired: number[] | null;
  reason: string;
  /** Section name(s) that decided, comma-separated. */
  policy: string;
  /** The ports, comma-separated ("/dev/ttyUSB0, /dev/ttyUSB1"). */
  serial: string;
}

export interface SerialPlan {
  /** IRQs a [serial:*] section decides. */
  irqs: Map<number, SerialIrqDecision>;
  /** Every IRQ that serves a known port → its ports, matched or not (plan rows show it). */
  ports: Map<number, string>;
  warnings: string[];
}

interface Claim {
  port: SerialPortInfo;
  section: SerialSection;
  /** null: leave alone (ignore). */
  cpus: number[] | null;
}

/** What a claim asks for, in words; claims agree when these are equal (a pin's CPUs are never empty). */
const want = (c: Claim): string => (c.cpus === null ? 'it left alone' : formatCpuList(c.cpus));
const via = (p: SerialPortInfo): string => (p.bus === 'usb' && p.pci !== null ? ` via ${p.pci}` : '');

/**
 * Decisions for the IRQs behind `ports` (default: the snapshot's). `allowed`: CPUs device
 * interrupts may use (planner's allowedCpus) — a pin is cut down to them.
 */
export function planSerial(snapshot: Snapshot, policy: Policy, allowed: readonly number[], ports: readonly SerialPortInfo[] = snapshot.serial ?? []): SerialPlan {
  const warnings: string[] = [];
  const sorted = [...ports].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  const served = new Map<number, SerialPortInfo[]>();
  for (const p of sorted) for (const irq of p.irqs) served.set(irq, [...(served.get(irq) ?? []), p]);
  const portsOf = new Map([...served].map(([irq, ps]) => [irq, ps.map((p) => p.path).join(', ')]));

  const claims = new Map<number, Claim[]>();
  for (const port of sorted) {
    const section = matchSerialSection(policy, port);
    if (section === null) continue;
    let cpus: number[] | null = null;
    if (section.strategy === 'pin') {
      const pin = section.pin ?? []; // parsePolicy requires a pin; a hand-built policy may lack one
      cpus = intersect(pin, allowed);
      if (cpus.length === 0) {
        warnings.push(`${section.name}: ${port.path}: pin ${formatCpuList(pin)}: none of these CPUs is allowed and online; left alone`);
        continue;
      }
      if (port.irqs.length === 0) warnings.push(`${section.name}: ${port.path}: ${port.irqSource}; nothing to pin`);
    }
    for (const irq of port.irqs) claims.set(irq, [...(claims.get(irq) ?? []), { port, section, cpus }]);
  }

  const present = new Set(snapshot.irqs.map((i) => i.irq));
  const irqs = new Map<number, SerialIrqDecision>();
  for (const [irq, cs] of [...claims].sort((a, b) => a[0] - b[0])) {
    const serial = portsOf.get(irq)!; // claims come from the same ports as portsOf
    const policyNames = [...new Set(cs.map((c) => c.section.name))].join(', ');
    if (!present.has(irq)) {
      // An 8250 requests its IRQ only while the port is open; nothing to write until then.
      if (cs.some((c) => c.cpus !== null)) {
        warnings.push(`${policyNames}: ${serial}: IRQ ${irq} has no handler yet (port not open?); it is placed on the first pass after it appears`);
      }
      continue;
    }
    const who = cs.map((c) => `${c.section.name}: ${c.port.path}${via(c.port)}`).join('; ');
    const keys = new Set(cs.map(want));
    if (keys.size > 1) {
      const detail = cs.map((c) => `${c.section.name} wants ${want(c)} for ${c.port.path}`).join(', ');
      const reason = `conflict on a shared IRQ: ${detail}; left alone`;
      warnings.push(`irq ${irq} (${serial}): ${reason}`);
      irqs.set(irq, { desired: null, reason, policy: policyNames, serial });
      continue;
    }
    const first = cs[0]!;
    irqs.set(irq, {
      desired: first.cpus,
      reason: first.cpus === null ? `ignore (${who})` : `pin ${formatCpuList(first.cpus)} (${who})`,
      policy: policyNames,
      serial,
    });
  }
  return { irqs, ports: portsOf, warnings };
}
