// live — the devices of the machine the tests run on, found in /proc and /sys rather than
// named after the VM the tests were written on (virtio1, virtio2, virtio4 there; other
// names, drivers and IRQ numbers elsewhere). Every finder returns null when the machine has
// no such device, and the test says so in its skip reason.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { takeSnapshot } from '../../src/snapshot/snapshot.js';

export interface LiveIrq {
  irq: number;
  name: string;
}

export interface LiveQueueIrq extends LiveIrq {
  /** The queue as audit records name it: rx-0, tx-1, rxtx-2. */
  queue: string;
}

/** IRQ number → action name, from /proc/interrupts. */
export function irqNames(): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of fs.readFileSync('/proc/interrupts', 'utf8').split('\n')) {
    const m = /^\s*(\d+):.*\s(\S+)\s*$/.exec(line);
    if (m) out.set(Number(m[1]), m[2]!);
  }
  return out;
}

export function irqByName(name: string): number | null {
  for (const [irq, n] of irqNames()) if (n === name) return irq;
  return null;
}

/**
 * The NIC the tests may steer (never rename or take down): the first interface backed by a
 * device whose queue IRQs the snapshot recognises, preferring the one named `prefer`.
 */
export function queueNic(prefer = 'eth0'): { name: string; irqs: LiveQueueIrq[] } | null {
  const snap = takeSnapshot('/', { serial: false });
  const byNic = new Map<string, LiveQueueIrq[]>();
  for (const i of snap.irqs) if (i.queue) byNic.set(i.queue.interface, [...(byNic.get(i.queue.interface) ?? []), { irq: i.irq, name: i.name, queue: `${i.queue.role}-${i.queue.queue}` }]);
  const name = byNic.has(prefer) ? prefer : [...byNic.keys()].sort()[0];
  return name === undefined ? null : { name, irqs: byNic.get(name)! };
}

/** IRQs of the PCI function behind a sysfs device (its MSI vectors), read from sysfs alone. */
export function pciIrqsOf(devicePath: string): number[] {
  for (let dir = fs.realpathSync(devicePath); dir.startsWith('/sys/devices/'); dir = path.dirname(dir)) {
    const msi = path.join(dir, 'msi_irqs');
    if (fs.existsSync(msi)) return fs.readdirSync(msi).map(Number).sort((a, b) => a - b);
  }
  return [];
}

/**
 * An IRQ the kernel manages (blk-mq request queues): a block device's vector that refuses
 * even a write of its own current mask. Writing the current mask back changes nothing on
 * an IRQ that accepts it. Root only (returns null otherwise).
 */
export function managedIrq(): LiveIrq | null {
  if (process.getuid?.() !== 0) return null;
  const names = irqNames();
  for (const blk of fs.readdirSync('/sys/block').sort()) {
    const dev = `/sys/block/${blk}/device`;
    if (!fs.existsSync(dev)) continue;
    for (const irq of pciIrqsOf(dev)) {
      const name = names.get(irq);
      if (name === undefined) continue;
      const file = `/proc/irq/${irq}/smp_affinity_list`;
      try {
        fs.writeFileSync(file, fs.readFileSync(file, 'utf8').trim());
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPERM' || code === 'EIO') return { irq, name };
      }
    }
  }
  return null;
}

/** Drivers whose devices nothing else depends on, so a test may unbind and rebind them. */
const UNBINDABLE = [{ bus: 'virtio', driver: 'virtio_rng' }];

/** A bound device of an unbindable driver: driver dir (bind/unbind files) and device name. */
export function unbindableDevice(): { driverDir: string; device: string; bus: string; driver: string } | null {
  for (const { bus, driver } of UNBINDABLE) {
    const driverDir = `/sys/bus/${bus}/drivers/${driver}`;
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(driverDir);
    } catch {
      continue;
    }
    const device = entries.filter((e) => fs.existsSync(path.join(driverDir, e, 'uevent')) && !['bind', 'unbind', 'uevent', 'module', 'new_id', 'remove_id'].includes(e)).sort()[0];
    if (device) return { driverDir, device, bus, driver };
  }
  return null;
}
