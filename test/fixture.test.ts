// Self-tests of the fixture generator (fixture/fixture.ts) and the hwloc helper: the
// generated trees are the oracle for the snapshot/planner/applier tests, so their formats are
// checked here against literal kernel text (mask widths, column layout, link spelling).

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  buildFixture,
  ENOENT_TARGET_DIR,
  FIXTURE_MARKER,
  fixtureIrqCount,
  fixtureTmpDir,
  kernelList,
  kernelMask,
  presets,
  removeFixture,
  sysfsLinkText,
} from '../fixture/fixture.js';
import type { FixtureNic, FixtureSpec } from '../fixture/fixture.js';
import { HWLOC_CORPUS, addSyntheticNics, hwlocNames, readMachine, unpackHwloc } from './helpers/hwloc.js';
import { FsRoot } from '../src/snapshot/fsroot.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) removeFixture(r);
});

function build(spec: FixtureSpec): string {
  const r = buildFixture(spec);
  roots.push(r);
  return r;
}

const read = (root: string, p: string): string => fs.readFileSync(path.join(root, p), 'utf8');

/** Every symlink under `dir` (never following links: sysfs has cycles). */
function symlinks(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isSymbolicLink()) out.push(p);
      else if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** Symlinks that escape the root or dangle, except the deliberate ENOENT stand-ins. */
function badLinks(root: string): string[] {
  const bad: string[] = [];
  for (const l of symlinks(root)) {
    const text = fs.readlinkSync(l);
    if (text.startsWith(`${ENOENT_TARGET_DIR}/`)) continue;
    const target = path.resolve(path.dirname(l), text);
    if (!target.startsWith(root + path.sep) || !fs.existsSync(target)) bad.push(`${l} -> ${text}`);
  }
  return bad;
}

/** /proc/interrupts rows as { irq, counts[], rest } using the fixed 11-char columns. */
function interruptRows(text: string): { header: string; rows: Map<number, { counts: number[]; rest: string }> } {
  const lines = text.split('\n');
  const header = lines[0]!;
  const ncol = header.trim().split(/\s+/).length;
  const rows = new Map<number, { counts: number[]; rest: string }>();
  for (const line of lines.slice(1)) {
    const m = /^\s*(\d+):/.exec(line);
    if (!m) continue;
    const body = line.slice(m[0].length);
    const counts: number[] = [];
    for (let i = 0; i < ncol; i++) counts.push(Number(body.slice(i * 11, i * 11 + 11)));
    rows.set(Number(m[1]), { counts, rest: body.slice(ncol * 11) });
  }
  return { header, rows };
}

describe('kernel text formats', () => {
  it('masks are 32-bit words, first word trimmed to nr_cpu_ids bits', () => {
    assert.equal(kernelMask([0, 1], 2), '3');
    assert.equal(kernelMask([0, 1], 20), '00003');
    assert.equal(kernelMask([], 8), '00');
    assert.equal(kernelMask([0], 1), '1');
    assert.equal(kernelMask([0, 63], 64), '80000000,00000001');
    assert.equal(kernelMask([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23], 112), '0000,00000000,00000000,00ff00ff');
    assert.equal(kernelMask([1023], 1024).split(',').length, 32);
    assert.throws(() => kernelMask([2], 2), /CPU 2 outside mask width 2/);
  });

  it('cpulists use ranges', () => {
    assert.equal(kernelList([3, 0, 1, 2, 8, 10, 11]), '0-3,8,10-11');
    assert.equal(kernelList([]), '');
  });

  it('link text follows sysfs_get_target_path (an ancestor is reached by name)', () => {
    const dev = '/sys/devices/pci0000:00/0000:00:03.0';
    assert.equal(sysfsLinkText(`${dev}/virtio2/net/eth0`, `${dev}/virtio2`), '../../../virtio2');
    assert.equal(sysfsLinkText('/sys/class/net', `${dev}/virtio2/net/eth0`), '../../devices/pci0000:00/0000:00:03.0/virtio2/net/eth0');
    assert.equal(sysfsLinkText(dev, '/sys/bus/pci/drivers/virtio-pci'), '../../../bus/pci/drivers/virtio-pci');
  });
});

describe('vm2 preset (this 6.18 KVM guest)', () => {
  const root = build(presets.vm2());

  it('/proc/interrupts: header and rows laid out exactly like the guest', () => {
    const text = read(root, '/proc/interrupts');
    const lines = text.split('\n');
    assert.equal(lines[0], '           CPU0       CPU1       ');
    const c = (irq: number): string => [0, 1].map((cpu) => String(fixtureIrqCount(irq, cpu)).padStart(11)).join('');
    assert.equal(lines[1], ` 24:${c(24)}  IO-APIC   5-edge      ACPI:Ged`);
    assert.ok(lines.includes(` 26:${c(26)}  IO-APIC   4-edge      ttyS0`));
    assert.ok(lines.includes(` 38:${c(38)} PCI-MSIX-0000:00:03.0   1-edge      virtio2-input.0`));
    assert.ok(lines.includes(` 39:${c(39)} PCI-MSIX-0000:00:03.0   2-edge      virtio2-output.0`));
    assert.ok(lines.includes(`NMI:          0          0   Non-maskable interrupts`));
    assert.ok(lines.includes('ERR:          0'));
    assert.ok(lines.includes('MIS:          0'));
    assert.ok(lines.some((l) => l.startsWith('HYP:')), 'KVM guests have the HYP row');
    assert.equal(text.endsWith('PIW:          0          0   Posted-interrupt wakeup event\n'), true);
    // IRQ 27 has no action on the guest: no row, no /proc/irq dir.
    assert.ok(!lines.some((l) => l.startsWith(' 27:')));
    assert.ok(!fs.existsSync(path.join(root, 'proc/irq/27')));
  });

  it('/proc/irq/38 and /sys/kernel/irq/38 match the guest', () => {
    const irq = (f: string): string => read(root, `/proc/irq/38/${f}`);
    assert.equal(irq('smp_affinity'), '3\n');
    assert.equal(irq('smp_affinity_list'), '0-1\n');
    assert.equal(irq('effective_affinity'), '1\n');
    assert.equal(irq('effective_affinity_list'), '0\n');
    assert.equal(irq('node'), '-1\n');
    assert.equal(irq('affinity_hint'), '3\n');
    assert.match(irq('spurious'), /^count \d+\nunhandled 0\nlast_unhandled 0 ms\n$/);
    assert.ok(fs.statSync(path.join(root, 'proc/irq/38/virtio2-input.0')).isDirectory());
    assert.equal(read(root, '/proc/irq/default_smp_affinity'), '3\n');
    const k = (f: string): string => read(root, `/sys/kernel/irq/38/${f}`);
    assert.equal(k('actions'), 'virtio2-input.0\n');
    assert.equal(k('chip_name'), 'PCI-MSIX-0000:00:03.0\n');
    assert.equal(k('hwirq'), '1\n');
    assert.equal(k('name'), 'edge\n');
    assert.equal(k('type'), 'edge\n');
    assert.equal(k('per_cpu_count'), `${fixtureIrqCount(38, 0)},${fixtureIrqCount(38, 1)}\n`);
  });

  it('managed virtio-blk IRQ is read-only and on node 0', () => {
    const st = fs.statSync(path.join(root, 'proc/irq/36/smp_affinity'));
    assert.equal(st.mode & 0o777, 0o444);
    assert.equal(read(root, '/proc/irq/36/node'), '0\n');
    assert.equal(fs.statSync(path.join(root, 'proc/irq/38/smp_affinity')).mode & 0o777, 0o644);
  });

  it('eth0 → virtio2 → PCI 0000:00:03.0 with the guest link spelling', () => {
    assert.equal(fs.readlinkSync(path.join(root, 'sys/class/net/eth0')), '../../devices/pci0000:00/0000:00:03.0/virtio2/net/eth0');
    assert.equal(fs.readlinkSync(path.join(root, 'sys/class/net/eth0/device')), '../../../virtio2');
    const pci = 'sys/devices/pci0000:00/0000:00:03.0';
    assert.equal(fs.readlinkSync(path.join(root, pci, 'driver')), '../../../bus/pci/drivers/virtio-pci');
    assert.equal(fs.readlinkSync(path.join(root, pci, 'virtio2/driver')), '../../../../bus/virtio/drivers/virtio_net');
    assert.deepEqual(fs.readdirSync(path.join(root, pci, 'msi_irqs')).sort(), ['37', '38', '39']);
    assert.equal(read(root, `/${pci}/msi_irqs/38`), 'msix\n');
    assert.match(read(root, `/${pci}/uevent`), /^DRIVER=virtio-pci\nPCI_CLASS=20000\nPCI_ID=1AF4:1041\n.*PCI_SLOT_NAME=0000:00:03\.0\n/s);
    assert.equal(read(root, `/${pci}/numa_node`), '-1\n');
    assert.equal(read(root, `/${pci}/local_cpulist`), '0-1\n');
    assert.equal(read(root, `/${pci}/local_cpus`), '3\n');
    assert.equal(read(root, `/${pci}/virtio2/uevent`), 'DRIVER=virtio_net\nMODALIAS=virtio:d00000001v00001AF4\n');
    const fr = new FsRoot(root);
    assert.equal(fr.resolve('/sys/class/net/eth0/device'), '/sys/devices/pci0000:00/0000:00:03.0/virtio2');
    assert.equal(read(root, '/sys/class/net/eth0/ifindex'), '4\n');
    assert.equal(read(root, '/sys/class/net/eth0/mtu'), '1400\n');
  });

  it('single tx queue: xps_cpus is listed but open() fails with ENOENT, read and write', () => {
    const q = path.join(root, 'sys/class/net/eth0/queues/tx-0');
    assert.ok(fs.readdirSync(q).includes('xps_cpus'));
    assert.equal(fs.existsSync(path.join(q, 'xps_cpus')), false);
    assert.throws(() => fs.readFileSync(path.join(q, 'xps_cpus')), { code: 'ENOENT' });
    assert.throws(() => fs.writeFileSync(path.join(q, 'xps_cpus'), '1\n'), { code: 'ENOENT' });
    assert.throws(() => fs.readFileSync(path.join(q, 'traffic_class')), { code: 'ENOENT' });
    assert.equal(read(root, '/sys/class/net/eth0/queues/tx-0/xps_rxqs'), '0\n');
    assert.equal(read(root, '/sys/class/net/eth0/queues/rx-0/rps_cpus'), '0\n');
    assert.equal(new FsRoot(root).read('/sys/class/net/eth0/queues/tx-0/xps_cpus'), null);
  });

  it('lo and ifb are virtual: no device link', () => {
    assert.equal(fs.readlinkSync(path.join(root, 'sys/class/net/lo')), '../../devices/virtual/net/lo');
    assert.equal(fs.existsSync(path.join(root, 'sys/class/net/lo/device')), false);
    assert.equal(read(root, '/sys/class/net/lo/type'), '772\n');
    assert.equal(read(root, '/sys/class/net/ifb0/flags'), '0x82\n');
  });

  it('CPU files: cpu0 has no online file, topology present, masks 1 digit', () => {
    const cpu = '/sys/devices/system/cpu';
    assert.equal(read(root, `${cpu}/possible`), '0-1\n');
    assert.equal(read(root, `${cpu}/online`), '0-1\n');
    assert.equal(read(root, `${cpu}/offline`), '\n');
    assert.equal(read(root, `${cpu}/isolated`), '\n');
    assert.equal(fs.existsSync(path.join(root, cpu, 'nohz_full')), false);
    assert.equal(fs.existsSync(path.join(root, cpu, 'cpu0/online')), false);
    assert.equal(read(root, `${cpu}/cpu1/online`), '1\n');
    assert.equal(read(root, `${cpu}/cpu1/topology/package_cpus`), '3\n');
    assert.equal(read(root, `${cpu}/cpu1/topology/thread_siblings_list`), '1\n');
    assert.equal(read(root, `${cpu}/cpu1/cache/index3/shared_cpu_list`), '0-1\n');
    assert.equal(fs.readlinkSync(path.join(root, cpu, 'cpu1/node0')), '../../node/node0');
    assert.equal(read(root, '/sys/devices/system/node/node0/cpulist'), '0-1\n');
    assert.equal(read(root, '/proc/sys/net/core/rps_sock_flow_entries'), '0\n');
  });

  it('every symlink resolves inside the root', () => {
    assert.deepEqual(badLinks(root), []);
  });
});

describe('server2s preset', () => {
  const root = build(presets.server2s());

  it('topology: 2 nodes, linux-intel SMT numbering, per-socket L3', () => {
    assert.equal(read(root, '/sys/devices/system/cpu/possible'), '0-31\n');
    assert.equal(read(root, '/sys/devices/system/node/node0/cpulist'), '0-7,16-23\n');
    assert.equal(read(root, '/sys/devices/system/node/node1/cpumap'), 'ff00ff00\n');
    assert.equal(read(root, '/sys/devices/system/cpu/cpu3/topology/thread_siblings_list'), '3,19\n');
    assert.equal(read(root, '/sys/devices/system/cpu/cpu3/topology/thread_siblings'), '00080008\n');
    assert.equal(read(root, '/sys/devices/system/cpu/cpu19/topology/core_id'), '3\n');
    assert.equal(read(root, '/sys/devices/system/cpu/cpu9/topology/physical_package_id'), '1\n');
    assert.equal(read(root, '/sys/devices/system/cpu/cpu9/cache/index3/shared_cpu_list'), '8-15,24-31\n');
    assert.equal(read(root, '/sys/devices/system/cpu/cpu9/cache/index2/shared_cpu_list'), '9,25\n');
  });

  it('NIC IRQ names per driver, msi_irqs match, node-narrowed default affinity', () => {
    const { rows } = interruptRows(read(root, '/proc/interrupts'));
    const byName = new Map([...rows].map(([irq, r]) => [r.rest.trim().split(/\s+/).pop()!, irq]));
    for (const n of ['i40e-0000:3b:00.0:misc', 'i40e-ens1-TxRx-0', 'i40e-ens1-TxRx-15', 'i40e-0000:3b:00.0:fdir-TxRx-0', 'ens2-TxRx-15', 'ens2', 'mlx5_async@pci:0000:5e:00.0', 'mlx5_comp7@pci:0000:5e:00.0', 'nvme0q0', 'nvme0q8', 'timer']) {
      assert.ok(byName.has(n), `missing IRQ ${n}`);
    }
    const msi = (bdf: string): number[] =>
      fs.readdirSync(path.join(root, `sys/bus/pci/devices/${bdf}/msi_irqs`)).map(Number).sort((a, b) => a - b);
    assert.equal(msi('0000:3b:00.0').length, 18);
    assert.equal(msi('0000:86:00.0').length, 17);
    assert.equal(msi('0000:5e:00.0').length, 9);
    const ens2q = byName.get('ens2-TxRx-3')!;
    assert.ok(msi('0000:86:00.0').includes(ens2q));
    // Kernel irq_setup_affinity(): a node-1 device's IRQs start on node 1's CPUs.
    assert.equal(read(root, `/proc/irq/${ens2q}/smp_affinity_list`), '8-15,24-31\n');
    assert.equal(read(root, `/proc/irq/${ens2q}/smp_affinity`), 'ff00ff00\n');
    assert.equal(read(root, `/proc/irq/${ens2q}/node`), '1\n');
    assert.match(rows.get(ens2q)!.rest, /^ IR-PCI-MSIX-0000:86:00\.0\s+3-edge {6}ens2-TxRx-3$/);
    assert.equal(read(root, '/sys/bus/pci/devices/0000:86:00.0/local_cpulist'), '8-15,24-31\n');
    assert.match(read(root, '/sys/bus/pci/devices/0000:3b:00.0/uevent'), /^DRIVER=i40e\n/m);
    assert.equal(fs.readlinkSync(path.join(root, 'sys/class/net/ens1/device')), '../../../0000:3b:00.0');
  });

  it('multi-queue NICs have xps_cpus as regular files of full width', () => {
    const q = path.join(root, 'sys/class/net/ens3/queues');
    assert.equal(fs.readdirSync(q).filter((n) => n.startsWith('rx-')).length, 8);
    assert.equal(fs.readFileSync(path.join(q, 'tx-7/xps_cpus'), 'utf8'), '00000000\n');
    assert.equal(fs.readFileSync(path.join(q, 'tx-7/xps_rxqs'), 'utf8'), '00\n');
    fs.writeFileSync(path.join(q, 'tx-7/xps_cpus'), 'ff\n');
    assert.equal(fs.readFileSync(path.join(q, 'tx-7/xps_cpus'), 'utf8'), 'ff\n');
  });

  it('managed NVMe queue IRQs keep their spread and are read-only', () => {
    const { rows } = interruptRows(read(root, '/proc/interrupts'));
    const irq = [...rows].find(([, r]) => r.rest.endsWith(' nvme0q5'))![0];
    assert.equal(read(root, `/proc/irq/${irq}/smp_affinity_list`), '8-9,24-25\n');
    assert.equal(fs.statSync(path.join(root, `proc/irq/${irq}/smp_affinity_list`)).mode & 0o777, 0o444);
  });

  it('every symlink resolves inside the root', () => {
    assert.deepEqual(badLinks(root), []);
  });
});

describe('offline CPUs', () => {
  const root = build({
    sockets: 1,
    coresPerSocket: 4,
    threadsPerCore: 2,
    nodes: 2,
    offline: [2, 5],
    nics: [{ name: 'eth9', driver: 'ixgbe', pci: '0000:02:00.0', node: 1, queues: 2, naming: 'TxRx' }],
  });

  it('header and every numeric row skip offline columns', () => {
    const { header, rows } = interruptRows(read(root, '/proc/interrupts'));
    assert.deepEqual(header.trim().split(/\s+/), ['CPU0', 'CPU1', 'CPU3', 'CPU4', 'CPU6', 'CPU7']);
    for (const [irq, r] of rows) assert.deepEqual(r.counts, [0, 1, 3, 4, 6, 7].map((c) => fixtureIrqCount(irq, c)));
    const first = [...rows.keys()][0]!;
    // per_cpu_count covers possible CPUs: offline ones show 0.
    assert.equal(read(root, `/sys/kernel/irq/${first}/per_cpu_count`).split(',').length, 8);
    assert.equal(read(root, `/sys/kernel/irq/${first}/per_cpu_count`).split(',')[2], '0');
  });

  it('offline CPUs have online=0 and no topology/cache; lists drop them, node lists keep them', () => {
    const cpu = path.join(root, 'sys/devices/system/cpu');
    assert.equal(read(root, '/sys/devices/system/cpu/online'), '0-1,3-4,6-7\n');
    assert.equal(read(root, '/sys/devices/system/cpu/offline'), '2,5\n');
    assert.deepEqual(fs.readdirSync(path.join(cpu, 'cpu2')).sort(), ['node1', 'online']);
    assert.equal(read(root, '/sys/devices/system/cpu/cpu2/online'), '0\n');
    // linux-intel numbering with 4 cores: siblings are n and n+4; cpu6's sibling 2 is offline.
    assert.equal(read(root, '/sys/devices/system/cpu/cpu6/topology/thread_siblings_list'), '6\n');
    assert.equal(read(root, '/sys/devices/system/cpu/cpu0/topology/package_cpus_list'), '0-1,3-4,6-7\n');
    assert.equal(read(root, '/sys/devices/system/node/node0/cpulist'), '0-1,4-5\n');
    assert.equal(read(root, '/sys/devices/system/node/node1/cpulist'), '2-3,6-7\n');
    // IRQs of the node-1 NIC: node 1's online CPUs only.
    const irq = fs.readdirSync(path.join(root, 'sys/bus/pci/devices/0000:02:00.0/msi_irqs'))[0]!;
    assert.equal(read(root, `/proc/irq/${irq}/smp_affinity_list`), '3,6-7\n');
    assert.equal(read(root, `/proc/irq/${irq}/smp_affinity`), 'c8\n');
  });
});

describe('spec options', () => {
  it('adjacent SMT numbering, cpu0 initial affinity, isolcpus/nohz_full/irqaffinity', () => {
    const root = build({
      sockets: 1,
      coresPerSocket: 4,
      threadsPerCore: 2,
      nodes: 1,
      smtNumbering: 'adjacent',
      initialAffinity: 'cpu0',
      isolated: [6, 7],
      nohzFull: [6, 7],
      nics: [{ name: 'eth1', driver: 'ena', pci: '0000:00:05.0', node: 0, queues: 2, naming: 'ena', rps: 'f0', xps: '1' }],
    });
    assert.equal(read(root, '/sys/devices/system/cpu/cpu0/topology/thread_siblings_list'), '0-1\n');
    assert.equal(read(root, '/sys/devices/system/cpu/isolated'), '6-7\n');
    assert.equal(read(root, '/sys/devices/system/cpu/nohz_full'), '6-7\n');
    assert.match(read(root, '/proc/cmdline'), / isolcpus=6-7 nohz_full=6-7\n$/);
    const { rows } = interruptRows(read(root, '/proc/interrupts'));
    const names = [...rows.values()].map((r) => r.rest.trim().split(/\s+/).pop());
    assert.deepEqual(names, ['ena-mgmnt@pci:0000:00:05.0', 'eth1-Tx-Rx-0', 'eth1-Tx-Rx-1']);
    for (const irq of rows.keys()) assert.equal(read(root, `/proc/irq/${irq}/smp_affinity_list`), '0\n');
    assert.equal(read(root, '/sys/class/net/eth1/queues/rx-1/rps_cpus'), 'f0\n');
    assert.equal(read(root, '/sys/class/net/eth1/queues/tx-1/xps_cpus'), '01\n');

    const r2 = build({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, nodes: 1, cmdline: 'ro irqaffinity=0-1', nics: [{ name: 'e0', driver: 'igb', pci: '0000:01:00.0', node: -1, queues: 2, rxQueues: 2, txQueues: 1, naming: 'split' }] });
    assert.equal(read(r2, '/proc/irq/default_smp_affinity'), '3\n');
    const names2 = [...interruptRows(read(r2, '/proc/interrupts')).rows.values()].map((r) => r.rest.trim().split(/\s+/).pop());
    assert.deepEqual(names2, ['e0', 'e0-rx-0', 'e0-rx-1', 'e0-tx-0']);
    const irq = [...interruptRows(read(r2, '/proc/interrupts')).rows.keys()][0]!;
    assert.equal(read(r2, `/proc/irq/${irq}/smp_affinity_list`), '0-1\n');
    assert.equal(fs.existsSync(path.join(r2, 'sys/class/net/e0/queues/tx-0/xps_cpus')), false);
    assert.equal(read(r2, '/sys/bus/pci/devices/0000:01:00.0/local_cpulist'), '0-3\n');
  });

  it('multi-queue virtio: config + input/output pairs with virtnet stride hints', () => {
    const root = build({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, nodes: 1, platform: 'kvm', nics: [{ name: 'eth0', driver: 'virtio_net', pci: '0000:00:03.0', node: -1, queues: 2, naming: 'virtio', virtioIndex: 1 }] });
    const { rows } = interruptRows(read(root, '/proc/interrupts'));
    const byName = new Map([...rows].map(([irq, r]) => [r.rest.trim().split(/\s+/).pop()!, irq]));
    assert.deepEqual([...byName.keys()], ['virtio1-config', 'virtio1-input.0', 'virtio1-output.0', 'virtio1-input.1', 'virtio1-output.1']);
    assert.equal(read(root, `/proc/irq/${byName.get('virtio1-output.1')}/affinity_hint`), 'c\n');
    assert.equal(fs.readFileSync(path.join(root, 'sys/class/net/eth0/queues/tx-1/xps_cpus'), 'utf8'), '0\n');
  });

  it('bad specs fail with one clear line', () => {
    const base = { sockets: 1, coresPerSocket: 2, threadsPerCore: 1, nodes: 1 };
    const nic: FixtureNic = { name: 'x0', driver: 'igb', pci: '0000:01:00.0', node: 0, queues: 1, naming: 'TxRx' };
    assert.throws(() => buildFixture({ ...base, nics: [{ ...nic, pci: '01:00.0' }] }), /^Error: fixture: invalid PCI address "01:00.0"/);
    assert.throws(() => buildFixture({ ...base, nics: [nic, { ...nic, pci: '0000:02:00.0' }] }), /interface x0 already exists/);
    assert.throws(() => buildFixture({ ...base, nics: [{ ...nic, node: 3 }] }), /NIC x0: node 3 does not exist/);
    assert.throws(() => buildFixture({ ...base, offline: [2] }), /offline: CPU 2 out of range 0-1/);
    assert.throws(() => buildFixture({ ...base, nodes: 3 }), /nodes \(3\) exceeds cores \(2\)/);
  });

  it('removeFixture refuses a directory that is not a fixture root', () => {
    const dir = fs.mkdtempSync(path.join(fixtureTmpDir(), 'not-a-fixture-'));
    try {
      assert.throws(() => removeFixture(dir), /not a fixture root/);
      assert.throws(() => removeFixture('/'), /not a fixture root/);
    } finally {
      fs.rmdirSync(dir);
    }
  });
});

describe('big1024 preset', () => {
  const root = build(presets.big1024());

  it('1024-CPU masks have 32 words; 4096 NIC queue IRQs numbered >= 1000', () => {
    const mask = read(root, '/sys/class/net/ens1f0np0/queues/rx-0/rps_cpus').trim();
    assert.equal(mask.split(',').length, 32);
    assert.ok(mask.split(',').every((w) => w === '00000000'));
    assert.equal(read(root, '/sys/devices/system/cpu/kernel_max'), '8191\n');
    const text = read(root, '/proc/interrupts');
    const header = text.slice(0, text.indexOf('\n'));
    assert.equal(header.trim().split(/\s+/).length, 1024);
    assert.ok(header.startsWith(' '.repeat(12) + 'CPU0 '), 'label width 4 when nr_irqs >= 1000');
    const queueRows = text.split('\n').filter((l) => / (mlx5_comp\d+@pci:\S+|ice-ens\S+-TxRx-\d+)$/.test(l));
    assert.equal(queueRows.length, 4096);
    assert.ok(queueRows.every((l) => Number(l.slice(0, l.indexOf(':'))) >= 1000));
    assert.ok(text.includes('\n ERR:          0\n'));
  });

  it('L3 per 8-core group, one NIC per node', () => {
    // core 9 of socket 0 → L3 group 1 = cores 8-15, threads +512.
    assert.equal(read(root, '/sys/devices/system/cpu/cpu9/cache/index3/shared_cpu_list'), '8-15,520-527\n');
    assert.equal(read(root, '/sys/devices/system/node/node7/cpulist'), '448-511,960-1023\n');
    assert.equal(read(root, '/sys/bus/pci/devices/0000:f0:00.0/numa_node'), '7\n');
  });
});

describe('hwloc corpus + synthetic NICs', () => {
  const names = hwlocNames();
  const nics: FixtureNic[] = [
    { name: 'fxa0', driver: 'i40e', pci: '0000:f1:00.0', node: 0, queues: 4, naming: 'i40e' },
    { name: 'fxb0', driver: 'mlx5_core', pci: '0000:f2:00.0', node: 1, queues: 3, naming: 'mlx5' },
    { name: 'fxc0', driver: 'virtio_net', pci: '0000:f3:00.0', node: -1, queues: 1, naming: 'virtio', virtioIndex: 9 },
  ];

  it('unpacks every tarball and adds NICs that follow the real topology', (t) => {
    if (names.length === 0) return t.skip(`hwloc corpus not present at ${HWLOC_CORPUS}`);
    assert.ok(names.length >= 40, `only ${names.length} tarballs`);
    for (const name of names) {
      const root = unpackHwloc(name);
      assert.ok(root, name);
      try {
        const machine = readMachine(root);
        const written = addSyntheticNics(root, nics);
        const { header, rows } = interruptRows(read(root, '/proc/interrupts'));
        assert.deepEqual(header.trim().split(/\s+/), machine.online.map((c) => `CPU${c}`), name);
        assert.equal(rows.size, 6 + 4 + 3, name);
        for (const w of written) {
          const nodes = machine.nodes.map((n) => n.id);
          assert.ok(w.node === -1 || nodes.includes(w.node), `${name}: ${w.name} node ${w.node}`);
          const dev = `sys/class/net/${w.name}/device`;
          assert.ok(fs.existsSync(path.join(root, dev)), `${name}: ${dev}`);
          const expectMask = kernelMask([], machine.nrCpuIds);
          assert.equal(read(root, `/sys/class/net/${w.name}/queues/rx-0/rps_cpus`), `${expectMask}\n`, name);
        }
        const irq = [...rows.keys()][1]!;
        const aff = read(root, `/proc/irq/${irq}/smp_affinity_list`).trim();
        assert.ok(aff.length > 0, `${name}: empty affinity`);
        assert.equal(read(root, `/proc/irq/${irq}/smp_affinity`).trim().split(',').length, Math.ceil(machine.nrCpuIds / 32), name);
        assert.throws(() => addSyntheticNics(root, nics), /already has \/proc\/interrupts/);
      } finally {
        removeFixture(root);
      }
    }
  });

  it('maps NIC node indexes onto sparse real node ids', (t) => {
    const root = unpackHwloc('48amd64-4pa2n6c-sparse');
    if (root === null) return t.skip('hwloc corpus not present');
    try {
      const written = addSyntheticNics(root, [{ ...nics[0]!, node: 3 }, { ...nics[1]!, node: 6 }]);
      assert.deepEqual(written.map((w) => w.node), [33, 72]);
      assert.equal(read(root, '/sys/bus/pci/devices/0000:f2:00.0/numa_node'), '72\n');
      assert.ok(fs.existsSync(path.join(root, FIXTURE_MARKER)));
    } finally {
      removeFixture(root);
    }
  });

  it('a capture whose online CPUs start at 4 (cpu0 offline) gets columns CPU4..CPU20', (t) => {
    const root = unpackHwloc('offline-cpu0-node0');
    if (root === null) return t.skip('hwloc corpus not present');
    try {
      addSyntheticNics(root, [nics[0]!]);
      const { header } = interruptRows(read(root, '/proc/interrupts'));
      const cols = header.trim().split(/\s+/);
      assert.equal(cols[0], 'CPU4');
      assert.equal(cols.at(-1), 'CPU20');
      assert.equal(cols.length, 17);
      // possible 0-191: 6 mask words.
      assert.equal(read(root, '/sys/class/net/fxa0/queues/rx-0/rps_cpus').trim().split(',').length, 6);
    } finally {
      removeFixture(root);
    }
  });
});
