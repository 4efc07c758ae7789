// snapshot/serial-irq — the IRQs that serve a serial port.
//
//   UART (serial_core: 8250, PL011, PCI serial cards)  /sys/class/tty/ttyS0/irq — the Linux
//       IRQ number the driver requests when the port is opened; 0 means the port is polled.
//   USB adapter (ttyUSB*, ttyACM*)  the adapter has no interrupt of its own: its traffic
//       arrives through the USB host controller's interrupt. Walk up the device path to the
//       PCI function (0000:00:14.0 for a typical xHCI) and take its MSI vectors that have a
//       handler, else its legacy `irq`. Every port behind that controller — and the keyboard
//       and disks on it — shares those IRQs; the planner reports policies that disagree.

import type { FsRoot } from './fsroot.js';
import { readMsiIrqs, resolveDevice } from './nics.js';

export interface SerialIrqs {
  /** IRQs serving the port, ascending; [] when none. */
  irqs: number[];
  /** PCI function owning them (controller, PCI UART), null for platform/ISA UARTs. */
  pci: string | null;
  /** Where the IRQs came from, or why there are none: shown in plan reasons and warnings. */
  source: string;
}

/**
 * IRQs of tty `name` (ttyS0, ttyUSB0) under `root`. `activeIrqs`: IRQs with a handler (the
 * /proc/interrupts rows); xHCI allocates one MSI-X vector per CPU but requests only the
 * ones it uses, and pinning an unrequested vector does nothing for the port.
 */
export function resolveSerialIrqs(root: FsRoot, name: string, activeIrqs?: ReadonlySet<number>): SerialIrqs {
  const dir = `/sys/class/tty/${name}`;
  const dev = root.readlink(`${dir}/device`) !== null ? resolveDevice(root, `${dir}/device`) : null;
  const pci = dev?.pci ?? null;

  const own = root.readInt(`${dir}/irq`);
  if (own !== null) {
    if (own <= 0) return { irqs: [], pci, source: `${name}/irq is 0: the port is polled, it has no IRQ` };
    return { irqs: [own], pci, source: `${name}/irq` };
  }

  if (dev === null || dev.pciPath === null) {
    return { irqs: [], pci: null, source: 'no IRQ: not a UART and no PCI function above the device' };
  }
  const msi = readMsiIrqs(root, dev.pciPath);
  if (msi.length > 0) {
    const used = activeIrqs ? msi.filter((i) => activeIrqs.has(i)) : msi;
    if (used.length === 0) return { irqs: [], pci, source: `msi_irqs of ${pci}: no vector has a handler` };
    return { irqs: used, pci, source: `msi_irqs of ${pci}` };
  }
  const legacy = root.readInt(`${dev.pciPath}/irq`);
  if (legacy !== null && legacy > 0) return { irqs: [legacy], pci, source: `irq of ${pci}` };
  return { irqs: [], pci, source: `${pci} has no MSI vector and no legacy IRQ` };
}
