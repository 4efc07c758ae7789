// Unit tests for NIC queue detection from IRQ action names: one case per driver naming scheme.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { classifyIrqName, isValidIfname, type IrqNameClass } from '../src/snapshot/queue-names.js';
import { runs } from './helpers/runs.js';

const q = (role: 'rx' | 'tx' | 'rxtx', queue: number, extra: Record<string, string>): IrqNameClass => ({
  kind: 'queue',
  ref: { role, queue, ...extra },
});
const misc = (extra: Record<string, string>): IrqNameClass => ({ kind: 'nic-misc', ...extra });
const OTHER: IrqNameClass = { kind: 'other' };

const cases: [string, IrqNameClass][] = [
  // mlx5 / mlx4: PCI address only, no interface
  ['mlx5_comp0@pci:0000:01:00.0', q('rxtx', 0, { pci: '0000:01:00.0' })],
  ['mlx5_comp8@pci:0003:00:00.0', q('rxtx', 8, { pci: '0003:00:00.0' })],
  ['mlx4-comp-2@pci:0000:04:00.0', q('rxtx', 2, { pci: '0000:04:00.0' })],
  // Intel with driver prefix, and the same suffix without one (ixgbe, igb, bnxt_en)
  ['i40e-eth0-TxRx-93', q('rxtx', 93, { ifname: 'eth0' })],
  ['i40e-enp195s0f1-TxRx-0', q('rxtx', 0, { ifname: 'enp195s0f1' })],
  ['ice-eno12399np0-TxRx-127', q('rxtx', 127, { ifname: 'eno12399np0' })],
  ['iavf-ens5-TxRx-3', q('rxtx', 3, { ifname: 'ens5' })],
  ['ice-eth1-rx-2', q('rx', 2, { ifname: 'eth1' })],
  ['eno12429np3-TxRx-31', q('rxtx', 31, { ifname: 'eno12429np3' })],
  ['i210-TxRx-3', q('rxtx', 3, { ifname: 'i210' })],
  ['knl0net-TxRx-0', q('rxtx', 0, { ifname: 'knl0net' })],
  ['eth0.100-TxRx-1', q('rxtx', 1, { ifname: 'eth0.100' })],
  ['my-nic-TxRx-1', q('rxtx', 1, { ifname: 'my-nic' })],
  // ena
  ['eth0-Tx-Rx-7', q('rxtx', 7, { ifname: 'eth0' })],
  // nfp, hns3 (vectors named by PCI address)
  ['eth3-rxtx-2', q('rxtx', 2, { ifname: 'eth3' })],
  ['hns3-0000:7d:00.0-TxRx-5', q('rxtx', 5, { pci: '0000:7d:00.0' })],
  ['hns3-0000:7d:00.0-Rx-1', q('rx', 1, { pci: '0000:7d:00.0' })],
  // virtio-net: two vectors per queue pair, named after the virtio device
  ['virtio0-input.0', q('rx', 0, { virtio: 'virtio0' })],
  ['virtio2-output.3', q('tx', 3, { virtio: 'virtio2' })],
  // split rx/tx vectors (igb, ixgbe), tg3 (rx from 1: reported as written), qlcnic combined
  ['eth0-rx-3', q('rx', 3, { ifname: 'eth0' })],
  ['eth1-tx-0', q('tx', 0, { ifname: 'eth1' })],
  ['genoa0net-tx-0', q('tx', 0, { ifname: 'genoa0net' })],
  ['genoa0net-rx-4', q('rx', 4, { ifname: 'genoa0net' })],
  ['eth0-tx-0-rx-3', q('rxtx', 3, { ifname: 'eth0' })],
  // bnx2 / mlx4_en per-ring vectors
  ['eth6-7', q('rxtx', 7, { ifname: 'eth6' })],
  ['enp3s0f1-2', q('rxtx', 2, { ifname: 'enp3s0f1' })],
  ['p1p1-0', q('rxtx', 0, { ifname: 'p1p1' })],

  // misc vectors
  ['i40e-0000:01:00.0:misc', misc({ pci: '0000:01:00.0' })],
  ['i40e-0000:41:00.1:fdir-TxRx-0', misc({ pci: '0000:41:00.1' })],
  ['ice-0000:ec:00.0:ctrl-TxRx-0', misc({ pci: '0000:ec:00.0' })],
  ['ice-0000:01:00.0:ll_ts', misc({ pci: '0000:01:00.0' })],
  ['mlx5_async_eq@pci:0000:01:00.0', misc({ pci: '0000:01:00.0' })],
  ['mlx5_pages_eq@pci:0000:01:00.1', misc({ pci: '0000:01:00.1' })],
  ['mlx5_cmd_eq@pci:0000:01:00.0', misc({ pci: '0000:01:00.0' })],
  ['mlx5_async@pci:0002:00:00.0', misc({ pci: '0002:00:00.0' })],
  ['mlx4-async@pci:0000:07:00.0', misc({ pci: '0000:07:00.0' })],
  ['ena-mgmnt@pci:0000:00:05.0', misc({ pci: '0000:00:05.0' })],
  ['virtio0-config', misc({ virtio: 'virtio0' })],
  ['virtio0-virtqueues', misc({ virtio: 'virtio0' })],
  ['eth0', misc({ ifname: 'eth0' })],
  ['enp0s25', misc({ ifname: 'enp0s25' })],
  ['em1', misc({ ifname: 'em1' })],
  ['eth2-misc', misc({ ifname: 'eth2' })],

  // not NIC queues
  ['virtio1-req.0', OTHER],
  ['virtio3-rx', OTHER],
  ['virtio3-tx', OTHER],
  ['virtio3-event', OTHER],
  ['virtio4-input', OTHER],
  ['virtio0-stats', OTHER],
  ['virtio1', OTHER],
  ['nvme0q1', OTHER],
  ['nvme0q0', OTHER],
  ['megasas4-msix12', OTHER],
  ['lpfc:17', OTHER],
  ['hpsa2-msix3', OTHER],
  ['mpt3sas0-msix0', OTHER],
  ['ahci[0000:c3:00.0]', OTHER],
  ['ahci', OTHER],
  ['ttyS0', OTHER],
  ['acpi', OTHER],
  ['i8042', OTHER],
  ['timer', OTHER],
  ['psp-1', OTHER],
  ['AMD-Vi0-Evt', OTHER],
  ['hpet2', OTHER],
  ['dmar0', OTHER],
  ['ioat-msix', OTHER],
  ['0000:02:00.2', OTHER],
  ['PCIe PME', OTHER],
  ['snd_hda_intel:card0', OTHER],
  ['ACPI:Ged', OTHER],
  ['hpsa0', OTHER],
  ['', OTHER],
  ['eth0-TxRx-99999999999999999999', OTHER],
  // PCI addresses are reported in lower case whatever the driver printed
  ['mlx5_comp3@pci:0000:AF:00.1', q('rxtx', 3, { pci: '0000:af:00.1' })],
  ['mlx5_async_eq@pci:0000:Af:00.0', misc({ pci: '0000:af:00.0' })],
  ['mlx4-comp-0@pci:0000:0B:00.0', q('rxtx', 0, { pci: '0000:0b:00.0' })],
  ['mlx4-async@pci:0000:0C:00.0', misc({ pci: '0000:0c:00.0' })],
  ['ena-mgmnt@pci:0000:00:0E.0', misc({ pci: '0000:00:0e.0' })],
  ['ice-0000:EC:00.0:misc', misc({ pci: '0000:ec:00.0' })],
  ['hns3-0000:7D:00.0-Tx-2', q('tx', 2, { pci: '0000:7d:00.0' })],
  ['virtio12-req.0', OTHER],
  // custom interface names are only NICs when the shape says so (see knownIfnames below)
  ['i210', OTHER],
  ['genoa0net', OTHER],
];

test('driver naming schemes', () => {
  for (const [name, want] of cases) assert.deepEqual(classifyIrqName(name), want, name);
});

// Every naming scheme STANDARD_IFNAME knows, as a bare name (the link vector of igb, e1000e…).
const STANDARD_NAMES = ['eth1', 'em2', 'ib0', 'wlan0', 'p10p1', 'eno1', 'ens3', 'enp0s3', 'enP1p2s0', 'enx0a1b2c3d4e5f', 'enb1', 'ena0', 'enc1', 'env1', 'eni1', 'wlo1', 'wls1', 'wlp2s0', 'wlP1p2s0', 'wlx0a1b2c3d4e5f', 'wwp0s20f0u6', 'eth0.100'];
// Names of the same shapes that are not interface names of these schemes.
const NON_STANDARD = ['xeth0', 'eth0.x', 'ethx', 'enq1', 'enx0a1b2c3', 'wlx0a1b2c3', 'wlanx', 'pp1'];

test('interface naming schemes: each one is a NIC name, near misses are not', () => {
  for (const n of STANDARD_NAMES) assert.deepEqual(classifyIrqName(n), misc({ ifname: n }), n);
  for (const n of NON_STANDARD) assert.deepEqual(classifyIrqName(n), OTHER, n);
});

// Other device classes whose vectors end like NIC ones: never an interface, in any case.
const NOT_NICS = ['virtio', 'virtio5', 'nvme', 'nvme0', 'nvme0q3', 'nvme1q12', 'megasas', 'megasas1', 'lpfc', 'hpsa', 'hpsa1', 'mptsas', 'mpt3sas1', 'ahci', 'ahci2', 'xhci_hcd', 'ehci_hcd', 'ohci_hcd', 'uhci_hcd', 'ioat', 'psp', 'dmar', 'dmar1', 'hpet', 'hpet3', 'AMD-Vi', 'AMD-Vi1', 'smartpqi', 'isci', 'idxd', 'idxd2', 'qat', 'snd_hda_intel', 'i915', 'amdgpu', 'nouveau', 'nvkm', 'radeon', 'rtc', 'rtc0', 'ttyS', 'ttyS1', 'timer', 'acpi', 'i8042', 'ata_piix'];

test('device classes that are not NICs stay "other" whatever suffix their vectors carry', () => {
  for (const d of NOT_NICS) {
    for (const name of [`${d}-TxRx-0`, `${d}-tx-1`, `${d}-rx-2`, `${d.toUpperCase()}-rx-1`]) {
      assert.deepEqual(classifyIrqName(name), OTHER, name);
    }
  }
  // The same suffixes on a made-up name are queues: the list above is what decides.
  assert.deepEqual(classifyIrqName('lan7-rx-2'), q('rx', 2, { ifname: 'lan7' }));
});

test('known interface names make plain, -N and -misc names of custom interfaces count', () => {
  const known = new Set(['i210', 'genoa0net', 'lan-a']);
  assert.deepEqual(classifyIrqName('i210', known), misc({ ifname: 'i210' }));
  assert.deepEqual(classifyIrqName('genoa0net', known), misc({ ifname: 'genoa0net' }));
  assert.deepEqual(classifyIrqName('lan-a-3', known), q('rxtx', 3, { ifname: 'lan-a' }));
  assert.deepEqual(classifyIrqName('lan-a-misc', known), misc({ ifname: 'lan-a' }));
  // A driver-prefixed name whose rest fits nothing is tried as a whole.
  assert.deepEqual(classifyIrqName('ice-lan-3', new Set(['ice-lan'])), q('rxtx', 3, { ifname: 'ice-lan' }));
  // A name the kernel could not have given an interface is never one, known or not.
  assert.deepEqual(classifyIrqName('a'.repeat(16), new Set(['a'.repeat(16)])), OTHER);
  // Known names do not turn other devices into NICs.
  assert.deepEqual(classifyIrqName('nvme0q1', known), OTHER);
  assert.deepEqual(classifyIrqName('psp-1', known), OTHER);
  // Nor an interface that happens to be called like a virtio device: virtioN is never a NIC name.
  assert.deepEqual(classifyIrqName('virtio1', new Set(['virtio1'])), OTHER);
});

// Each scheme with its numbers in every length, as the kernel prints them.
const NUMBERED: [string, (dev: number, n: number) => [string, IrqNameClass]][] = [
  ['mlx5', (_, n) => [`mlx5_comp${n}@pci:0000:01:00.0`, q('rxtx', n, { pci: '0000:01:00.0' })]],
  ['mlx4', (_, n) => [`mlx4-comp-${n}@pci:0000:04:00.0`, q('rxtx', n, { pci: '0000:04:00.0' })]],
  ['hns3', (_, n) => [`hns3-0000:7d:00.0-TxRx-${n}`, q('rxtx', n, { pci: '0000:7d:00.0' })]],
  ['virtio rx', (d, n) => [`virtio${d}-input.${n}`, q('rx', n, { virtio: `virtio${d}` })]],
  ['virtio tx', (d, n) => [`virtio${d}-output.${n}`, q('tx', n, { virtio: `virtio${d}` })]],
  ['virtio config', (d) => [`virtio${d}-config`, misc({ virtio: `virtio${d}` })]],
  ['Intel prefixed', (d, n) => [`ice-eth${d}-TxRx-${n}`, q('rxtx', n, { ifname: `eth${d}` })]],
  ['combined', (d, n) => [`eth${d}-TxRx-${n}`, q('rxtx', n, { ifname: `eth${d}` })]],
  ['ena', (d, n) => [`eth${d}-Tx-Rx-${n}`, q('rxtx', n, { ifname: `eth${d}` })]],
  ['split rx', (d, n) => [`eth${d}-rx-${n}`, q('rx', n, { ifname: `eth${d}` })]],
  ['split tx', (d, n) => [`eth${d}-tx-${n}`, q('tx', n, { ifname: `eth${d}` })]],
  ['qlcnic combined', (d, n) => [`eth0-tx-${d}-rx-${n}`, q('rxtx', n, { ifname: 'eth0' })]],
  ['per ring', (d, n) => [`eth${d}-${n}`, q('rxtx', n, { ifname: `eth${d}` })]],
  ['misc', (d) => [`eth${d}-misc`, misc({ ifname: `eth${d}` })]],
];

test('property: device and queue numbers of any length are read whole; text after the number fits no scheme', () => {
  // A number cut short ("virtio12" read as "virtio1") or a name read past its end
  // ("eth0-rx-3x" as rx-3) would put an IRQ on another queue's CPU or steal another
  // device's vector: a name that does not fit a scheme exactly is "other".
  const num = fc.oneof(fc.nat(9), fc.integer({ min: 10, max: 99_999 }));
  fc.assert(
    fc.property(fc.constantFrom(...NUMBERED), num, num, fc.stringMatching(/^[a-z]{1,4}$|^-[a-z]{1,4}$/), ([scheme, make], dev, n, tail) => {
      const [name, want] = make(dev, n);
      assert.deepEqual(classifyIrqName(name), want, `${scheme}: ${name}`);
      assert.deepEqual(classifyIrqName(`${name}${tail}`), OTHER, `${scheme}: ${name}${tail}`);
    }),
    { numRuns: runs(2000) },
  );
});

test('a scheme matches the whole name, not a part of it', () => {
  const cases: [string, IrqNameClass][] = [
    // Something before a virtio name: not that virtio device's vector.
    ['xvirtio0-input.0', OTHER],
    ['xvirtio0-config', OTHER],
    // An Intel driver name inside an interface name is not a driver prefix.
    ['office-lan-TxRx-0', q('rxtx', 0, { ifname: 'office-lan' })],
    // Other device classes' names inside an interface name do not make it another device.
    ['pspnet-rx-1', q('rx', 1, { ifname: 'pspnet' })],
    ['lanpsp-rx-1', q('rx', 1, { ifname: 'lanpsp' })],
    ['lab-virtio2-rx-1', q('rx', 1, { ifname: 'lab-virtio2' })],
    // Any vector of a virtio device that is not a virtio-net queue is not a NIC's, whatever follows.
    ['virtio3-foo-rx-1', OTHER],
    ['virtio12-foo-rx-1', OTHER],
  ];
  for (const [name, want] of cases) assert.deepEqual(classifyIrqName(name), want, name);
});

test('shared legacy lines: the first NIC-looking action answers', () => {
  assert.deepEqual(classifyIrqName('uhci_hcd:usb1, eth0, eth1'), misc({ ifname: 'eth0' }));
  assert.deepEqual(classifyIrqName('uhci_hcd:usb4, radeon'), OTHER);
  assert.deepEqual(classifyIrqName(' virtio2-input.0 '), q('rx', 0, { virtio: 'virtio2' }));
});

test('interface-name validity follows dev_valid_name', () => {
  assert.equal(isValidIfname('eth0'), true);
  assert.equal(isValidIfname('a'.repeat(15)), true);
  assert.equal(isValidIfname('a'.repeat(16)), false);
  for (const bad of ['', '.', '..', 'a/b', 'a:b', 'a b']) assert.equal(isValidIfname(bad), false, bad);
  // Too long for an interface: not a queue even with a NIC suffix.
  assert.deepEqual(classifyIrqName(`${'x'.repeat(16)}-TxRx-0`), OTHER);
});

test('property: classify never throws and queue numbers are non-negative integers', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.stringMatching(/^[a-z0-9.:@_-]{0,40}$/)), (s) => {
      const r = classifyIrqName(s);
      assert.ok(r.kind === 'queue' || r.kind === 'nic-misc' || r.kind === 'other');
      if (r.kind === 'queue') assert.ok(Number.isSafeInteger(r.ref.queue) && r.ref.queue >= 0, s);
    }),
    { numRuns: runs(5000) },
  );
});

test('property: <if>-TxRx-<n> gives queue n of <if> for any valid interface name', () => {
  // Standard and custom stems, with the '-', '.' and '_' that interface names may contain.
  const ifname = fc
    .tuple(fc.constantFrom('eth', 'eno', 'enp', 'ens', 'em', 'lan', 'wan', 'genoa', 'uplink'), fc.nat(99), fc.stringMatching(/^[a-z0-9._-]{0,8}$/))
    .map(([stem, n, rest]) => `${stem}${n}${rest}`)
    .filter(isValidIfname);
  fc.assert(
    fc.property(ifname, fc.nat({ max: 4095 }), (name, n) => {
      assert.deepEqual(classifyIrqName(`${name}-TxRx-${n}`), q('rxtx', n, { ifname: name }));
      assert.deepEqual(classifyIrqName(`i40e-${name}-TxRx-${n}`), q('rxtx', n, { ifname: name }));
    }),
    { numRuns: runs(2000) },
  );
});
