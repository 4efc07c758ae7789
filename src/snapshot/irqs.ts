// snapshot/irqs — every device interrupt with its affinity, owner device and, for NIC queue
// vectors, the interface and queue it serves.
//
// Sources, most reliable first: /sys/kernel/irq/N/{actions,chip_name} (no parsing traps),
// /proc/irq/N/* for masks, /proc/interrupts for per-CPU counts, and PCI msi_irqs for the
// owning device. Names in /proc/interrupts are frozen when the driver requested the vector,
// so an interface renamed later still shows its old name there: the owner is decided by
// the PCI function (msi_irqs) first and by the name only when that is ambiguous.

import type { IrqInfo, NicInfo, QueueRef } from '../types.js';
import type { FsRoot } from './fsroot.js';
import { InterruptsFormatError, parseProcInterrupts, type InterruptRow } from './interrupts.js';
import { classifyIrqName } from './queue-names.js';
import { readMsiIrqs } from './nics.js';
import { readCpus } from './cpus.js';

/** Map IRQ number → PCI address (and virtio child when the function is a virtio transport). */
export function readPciIrqOwners(fs: FsRoot): Map<number, { pci: string; virtio: string | null }> {
  const owners = new Map<number, { pci: string; virtio: string | null }>();
  for (const bdf of fs.list('/sys/bus/pci/devices')) {
    const dev = fs.resolve(`/sys/bus/pci/devices/${bdf}`) ?? `/sys/bus/pci/devices/${bdf}`;
    const irqs = readMsiIrqs(fs, dev);
    if (irqs.length === 0) continue;
    const virtios = fs.list(dev).filter((n) => /^virtio\d+$/.test(n));
    for (const irq of irqs) owners.set(irq, { pci: bdf.toLowerCase(), virtio: virtios.length === 1 ? virtios[0]! : null });
  }
  return owners;
}

function irqsFromProcIrq(fs: FsRoot): InterruptRow[] {
  return fs
    .list('/proc/irq')
    .filter((n) => /^\d{1,9}$/.test(n))
    .map((n) => ({ irq: Number(n), counts: {}, total: 0, chip: '', actions: [], name: '', line: 0 }));
}

/** Read the per-IRQ files of every numeric IRQ row; IRQs whose /proc/irq dir vanished keep null masks. */
export function readIrqs(fs: FsRoot, nics: NicInfo[], warnings: string[]): IrqInfo[] {
  const text = fs.read('/proc/interrupts');
  let rows: InterruptRow[];
  if (text === null) {
    warnings.push('/proc/interrupts: missing; IRQ list taken from /proc/irq without counts');
    rows = irqsFromProcIrq(fs);
  } else {
    try {
      const parsed = parseProcInterrupts(text, fs.abs('/proc/interrupts'));
      warnings.push(...parsed.warnings);
      rows = parsed.irqs;
    } catch (e) {
      // A garbled header: say so and plan from /proc/irq, as when the file is missing.
      if (!(e instanceof InterruptsFormatError)) throw e;
      warnings.push(`${e.message}; IRQ list taken from /proc/irq without counts`);
      rows = irqsFromProcIrq(fs);
    }
  }
  const owners = readPciIrqOwners(fs);
  const byPci = new Map<string, NicInfo[]>();
  const byVirtio = new Map<string, NicInfo>();
  const byName = new Map<string, NicInfo>();
  const byLegacyIrq = new Map<number, NicInfo>();
  for (const nic of nics) {
    byName.set(nic.name, nic);
    if (nic.legacyIrq) byLegacyIrq.set(nic.legacyIrq, nic);
    if (nic.virtio) byVirtio.set(nic.virtio, nic);
    if (nic.pci) byPci.set(nic.pci, [...(byPci.get(nic.pci) ?? []), nic]);
  }

  const out: IrqInfo[] = [];
  for (const row of rows) {
    const irq = row.irq;
    const sysDir = `/sys/kernel/irq/${irq}`;
    const procDir = `/proc/irq/${irq}`;
    const actionsText = fs.readTrim(`${sysDir}/actions`);
    const actions = actionsText ? actionsText.split(',').map((s) => s.trim()).filter(Boolean) : row.actions;
    const name = actions.join(', ') || row.name;
    const chip = fs.readTrim(`${sysDir}/chip_name`) ?? row.chip;
    const owner = owners.get(irq) ?? pciFromChip(chip);
    const info: IrqInfo = {
      irq,
      name,
      actions,
      chip,
      counts: row.counts,
      total: row.total,
      // The list form is what the applier writes (and reads back to verify).
      affinity: fs.exists(`${procDir}/smp_affinity_list`)
        ? readCpus(fs, `${procDir}/smp_affinity_list`, warnings, 'list')
        : readCpus(fs, `${procDir}/smp_affinity`, warnings, 'mask'),
      effective: fs.exists(`${procDir}/effective_affinity_list`)
        ? readCpus(fs, `${procDir}/effective_affinity_list`, warnings, 'list')
        : readCpus(fs, `${procDir}/effective_affinity`, warnings, 'mask'),
      node: fs.readInt(`${procDir}/node`),
      hint: readCpus(fs, `${procDir}/affinity_hint`, warnings, 'mask'),
      pci: owner?.pci ?? null,
      virtio: owner?.virtio ?? null,
      queue: null,
    };
    if (info.hint !== null && info.hint.length === 0) info.hint = null;
    info.queue = resolveQueue(info, { byPci, byVirtio, byName, byLegacyIrq, names: new Set(byName.keys()) });
    out.push(info);
  }
  assignMsixOrder(out, nics);
  return out;
}

/** New-format chips carry the BDF ("IR-PCI-MSIX-0000:41:00.0"); a fallback when msi_irqs is absent. */
function pciFromChip(chip: string): { pci: string; virtio: null } | null {
  const m = /PCI-MSI(?:X)?-([0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])$/i.exec(chip);
  return m ? { pci: m[1]!.toLowerCase(), virtio: null } : null;
}

interface NicIndex {
  byPci: Map<string, NicInfo[]>;
  byVirtio: Map<string, NicInfo>;
  byName: Map<string, NicInfo>;
  names: ReadonlySet<string>;
  byLegacyIrq: Map<number, NicInfo>;
}

function resolveQueue(info: IrqInfo, idx: NicIndex): IrqInfo['queue'] {
  // A NIC without MSI has one interrupt for everything, its INTx line, named after the
  // interface (e1000 requests it in ndo_open as "eth1") or the virtio device ("virtio0"):
  // that line *is* the NIC's queue IRQ. Only when the NIC is its sole user: a line shared
  // with another device's handler cannot be moved for one of them.
  const legacy = idx.byLegacyIrq.get(info.irq);
  if (legacy && info.actions.length === 1 && (info.actions[0] === legacy.name || info.actions[0] === legacy.virtio)) {
    return { role: 'rxtx', queue: 0, interface: legacy.name };
  }
  // Shared legacy lines ("uhci_hcd:usb1, eth0, eth1") are not queue vectors.
  if (info.actions.length > 1) return null;
  // Current interface names let custom names (i210, genoa0net) count as interfaces.
  const cls = classifyIrqName(info.name, idx.names);
  if (cls.kind !== 'queue') return null;
  const ref: QueueRef = cls.ref;
  let nic: NicInfo | undefined;
  // virtioN names the virtio device, not the interface.
  if (ref.virtio) nic = idx.byVirtio.get(ref.virtio);
  // The owning PCI function is authoritative; the name picks among ports sharing it.
  if (!nic && info.pci) {
    const candidates = idx.byPci.get(info.pci) ?? [];
    nic = candidates.find((n) => n.name === ref.ifname) ?? (candidates.length === 1 ? candidates[0] : undefined);
    if (!nic && ref.pci === undefined && candidates.length > 1) nic = candidates[0];
  }
  if (!nic && ref.pci) nic = idx.byPci.get(ref.pci)?.[0];
  if (!nic && ref.ifname) nic = idx.byName.get(ref.ifname);
  if (!nic) {
    // A capture without sysfs net dirs: keep what the name says so the plan still shows it.
    if (!ref.ifname) return null;
    return { ...ref, interface: ref.ifname };
  }
  let queue = ref.queue;
  // tg3 numbers its rx vectors from 1 (vector 0 is tx + link): make them rx-0-based.
  if (nic.driver === 'tg3' && ref.role === 'rx' && queue > 0) queue -= 1;
  return { ...ref, queue, interface: nic.name };
}

/**
 * Drivers whose vector names we do not recognise still allocate queue vectors in MSI-X order
 * after their misc vector: when a NIC's PCI function has vectors but none was recognised as a
 * queue, number its non-misc vectors in order.
 */
function assignMsixOrder(irqs: IrqInfo[], nics: NicInfo[]): void {
  const byIrq = new Map(irqs.map((i) => [i.irq, i]));
  for (const nic of nics) {
    if (nic.msiIrqs.length === 0) continue;
    const own = nic.msiIrqs.map((n) => byIrq.get(n)).filter((i): i is IrqInfo => i !== undefined);
    if (own.some((i) => i.queue !== null)) continue;
    // A function shared with other devices' names (virtio-blk next to virtio-net) is not ours.
    const candidates = own.filter((i) => {
      const cls = classifyIrqName(i.name);
      return cls.kind === 'other' && i.actions.length <= 1 && i.name !== '' && !i.name.startsWith('virtio');
    });
    // A single vector is the link/misc one of a NIC with no MSI-X queues.
    if (candidates.length < 2) continue;
    const isMisc = (i: IrqInfo) => /(misc|async|mgmt|mgmnt|config|ctrl|cmd|link|aux)/i.test(i.name) || i.name === nic.name;
    let q = 0;
    for (const i of candidates) {
      if (isMisc(i)) continue;
      i.queue = { role: 'rxtx', queue: q++, interface: nic.name };
    }
  }
}

export const _internal = { pciFromChip };
