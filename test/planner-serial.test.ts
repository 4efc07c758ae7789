// planSerial on in-memory ports (no fixture tree): the "via" in a reason, the order of the
// decisions and warnings, which closed ports are worth a warning, and a pin without CPUs.
// serial.test.ts covers the same planner on fixture trees read from sysfs; these are the rules
// it left unchecked (surviving mutants, docs/mutation.md).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planSerial } from '../src/planner/serial.js';
import { parsePolicy } from '../src/policy/policy.js';
import type { IrqInfo, Policy, SerialPortInfo, Snapshot } from '../src/types.js';
import { snap } from './helpers/snap.js';

const ALL = [0, 1, 2, 3];

function port(path: string, irqs: number[], over: Partial<SerialPortInfo> = {}): SerialPortInfo {
  const name = path.slice('/dev/'.length);
  return { path, name, bus: 'uart', device: null, byId: [], vendorId: null, productId: null, serialNumber: null, manufacturer: null, pci: null, irqs, irqSource: `${name}/irq`, ...over };
}

/** A 4-CPU machine whose /proc/interrupts has a handler on each of `irqs`. */
function machine(irqs: number[]): Snapshot {
  const s = snap({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1 });
  const row = (irq: number): IrqInfo => ({ irq, name: `irq${irq}`, actions: [], chip: 'IO-APIC', counts: {}, total: 0, affinity: ALL, effective: [0], node: -1, hint: null, pci: null, virtio: null, queue: null });
  return { ...s, irqs: irqs.map(row) };
}

const policy = (text: string): Policy => parsePolicy(text, 'test.ini');

test('reasons name the controller ("via PCI") only for USB ports behind a PCI host controller', () => {
  const ports = [
    port('/dev/ttyS4', [17], { pci: '0000:03:00.0' }), // a PCI UART card: its own IRQ, nothing to explain
    port('/dev/ttyUSB0', [40], { bus: 'usb', pci: '0000:00:14.0', vendorId: '0403', productId: '6001', irqSource: 'msi_irqs of 0000:00:14.0' }),
    port('/dev/ttyUSB1', [41], { bus: 'usb', pci: null, vendorId: '0403', productId: '6001', irqSource: 'irq of xhci-hcd.0.auto' }), // platform xHCI (arm64)
  ];
  const p = planSerial(machine([17, 40, 41]), policy('[serial:all]\nmatch-path = /dev/tty*\npin = 2'), ALL, ports);
  assert.deepEqual(
    [...p.irqs.values()].map((d) => d.reason),
    ['pin 2 (serial:all: /dev/ttyS4)', 'pin 2 (serial:all: /dev/ttyUSB0 via 0000:00:14.0)', 'pin 2 (serial:all: /dev/ttyUSB1)'],
  );
});

test('decisions and warnings come in IRQ order, whatever the order of the port paths', () => {
  // Path order (ttyACM0 < ttyS0 < ttyS1 < ttyS3) is not IRQ order (23, 4, 5, 3).
  const ports = [port('/dev/ttyS3', [3]), port('/dev/ttyS1', [5]), port('/dev/ttyS0', [4]), port('/dev/ttyACM0', [23], { bus: 'usb' })];
  const pol = policy('[serial:a]\nmatch-path = /dev/ttyACM0, /dev/ttyS0\npin = 1\n[serial:b]\nmatch-path = /dev/ttyS1, /dev/ttyS3\npin = 2');
  // IRQs 4 and 23 have handlers; 3 and 5 do not (ports not open).
  const p = planSerial(machine([4, 23]), pol, ALL, ports);
  assert.deepEqual([...p.irqs.keys()], [4, 23]);
  assert.deepEqual(p.warnings, [
    'serial:b: /dev/ttyS3: IRQ 3 has no handler yet (port not open?); it is placed on the first pass after it appears',
    'serial:b: /dev/ttyS1: IRQ 5 has no handler yet (port not open?); it is placed on the first pass after it appears',
  ]);
});

test('a closed port is worth a warning only when some section wants its IRQ placed', () => {
  const ports = [port('/dev/ttyS1', [3]), port('/dev/ttyS3', [3])];
  const closed = machine([]);
  const ignoreBoth = planSerial(closed, policy('[serial:quiet]\nmatch-path = /dev/ttyS1, /dev/ttyS3\nstrategy = ignore'), ALL, ports);
  assert.deepEqual([ignoreBoth.warnings, [...ignoreBoth.irqs]], [[], []]);
  // One port's section ignores it, the other's pins it: the pin is still waiting for the IRQ.
  const mixed = planSerial(closed, policy('[serial:quiet]\nmatch-path = /dev/ttyS1\nstrategy = ignore\n[serial:pinned]\nmatch-path = /dev/ttyS3\npin = 1'), ALL, ports);
  assert.deepEqual(mixed.warnings, ['serial:quiet, serial:pinned: /dev/ttyS1, /dev/ttyS3: IRQ 3 has no handler yet (port not open?); it is placed on the first pass after it appears']);
  assert.deepEqual([...mixed.irqs], []);
});

test('a pin section without CPUs (a hand-built policy) leaves the port alone, with a warning', () => {
  const pol = policy('[serial:console]\nmatch-path = /dev/ttyS0\npin = 1');
  const hand: Policy = { ...pol, serialSections: pol.serialSections!.map((s) => ({ ...s, pin: null })) };
  const p = planSerial(machine([4]), hand, ALL, [port('/dev/ttyS0', [4])]);
  assert.deepEqual([[...p.irqs], p.warnings], [[], ['serial:console: /dev/ttyS0: pin : none of these CPUs is allowed and online; left alone']]);
});
