// Snapshot readers + planner + applier on generated fixture trees (not copies of real
// captures), on every real hwloc topology with synthetic NIC IRQs, and on the real
// node_exporter sysfs capture.
import { corpusDir } from './helpers/corpus.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildFixture, presets, removeFixture, type FixtureNic } from '../fixture/fixture.js';
import { addSyntheticNics, hwlocNames, unpackHwloc } from './helpers/hwloc.js';
import { takeSnapshot } from '../src/snapshot/snapshot.js';
import { readNics } from '../src/snapshot/nics.js';
import { FsRoot } from '../src/snapshot/fsroot.js';
import { assignmentOf, plan } from '../src/planner/planner.js';
import type { Plan } from '../src/types.js';
import { defaultPolicy } from '../src/policy/policy.js';
import { Reconciler } from '../src/reconcile/reconciler.js';
import { parseCpuList } from '../src/cpumask/cpumask.js';

const CORPUS = corpusDir('.');

function withFixture<T>(root: string, fn: (root: string) => T): T {
  try {
    return fn(root);
  } finally {
    removeFixture(root);
  }
}

describe('snapshot on generated trees', () => {
  it('this VM (vm2): eth0 behind virtio2 on 0000:00:03.0, one queue pair, ifb and vsock are not NICs', () =>
    withFixture(buildFixture(presets.vm2()), (root) => {
      const s = takeSnapshot(root);
      assert.deepEqual(s.topology.online, [0, 1]);
      assert.deepEqual(s.nics.map((n) => n.name), ['eth0']);
      const eth0 = s.nics[0]!;
      assert.equal(eth0.virtio, 'virtio2');
      assert.equal(eth0.pci, '0000:00:03.0');
      assert.equal(eth0.driver, 'virtio_net');
      assert.equal(eth0.numaNode, -1);
      assert.deepEqual(eth0.tx.map((t) => t.xpsCpus), [null], 'single tx queue: xps_cpus reads ENOENT');
      const byName = new Map(s.irqs.map((i) => [i.name, i]));
      assert.deepEqual(byName.get('virtio2-input.0')!.queue, { role: 'rx', queue: 0, virtio: 'virtio2', interface: 'eth0' });
      assert.equal(byName.get('virtio2-output.0')!.queue!.role, 'tx');
      assert.equal(byName.get('virtio1-req.0')!.queue, null);
      assert.equal(byName.get('virtio3-rx')!.queue, null);
      assert.equal(byName.get('virtio2-input.0')!.virtio, 'virtio2');
    }));

  it('vm2: apply on the fixture writes and verifies, a second pass writes nothing', async () => {
    const root = buildFixture(presets.vm2());
    try {
      const reconciler = new Reconciler({ root, policy: defaultPolicy() });
      const first = await reconciler.pass('test');
      const applied = first.report.changes.filter((c) => c.outcome === 'applied').map((c) => c.write.target).sort();
      assert.deepEqual(applied, ['irq/38', 'irq/39', 'net/eth0/rx-0/rps']);
      assert.equal(fs.readFileSync(path.join(root, 'proc/irq/38/smp_affinity_list'), 'utf8').trim(), fs.readFileSync(path.join(root, 'proc/irq/39/smp_affinity_list'), 'utf8').trim());
      const second = await reconciler.pass('test');
      assert.deepEqual(second.report.changes, []);
      // A new owner reads what the first one saved: it has nothing to do either.
      assert.deepEqual((await new Reconciler({ root, policy: defaultPolicy() }).pass('test')).report.changes, []);
    } finally {
      removeFixture(root);
    }
  });

  it('2-socket SMT server: NICs on their nodes, queue IRQs recognised per driver naming', () =>
    withFixture(buildFixture(presets.server2s()), (root) => {
      const s = takeSnapshot(root);
      assert.equal(s.topology.nodes.length, 2);
      const p = plan(s, defaultPolicy());
      const nodeOf = new Map(s.topology.cpus.map((c) => [c.cpu, c.node]));
      for (const nic of s.nics) {
        const qs = s.irqs.filter((i) => i.queue?.interface === nic.name);
        if (nic.msiIrqs.length > 1) assert.ok(qs.length > 0, `${nic.name}: queue IRQs found`);
        for (const pi of p.irqs.filter((i) => i.interface === nic.name && i.desired)) {
          if (nic.numaNode >= 0) assert.equal(nodeOf.get(pi.desired![0]!), nic.numaNode, `${nic.name} irq ${pi.irq} on its node`);
        }
      }
    }));

  it('isolated and offline CPUs: not in /proc/interrupts columns, never planned', () =>
    withFixture(buildFixture({ ...presets.server2s(), offline: [3, 17], isolated: [4, 5] }), (root) => {
      const s = takeSnapshot(root);
      assert.ok(!s.topology.online.includes(3));
      assert.deepEqual(s.topology.isolated, [4, 5]);
      const p = plan(s, defaultPolicy());
      for (const i of p.irqs) for (const c of i.desired ?? []) assert.ok(![3, 17, 4, 5].includes(c), `irq ${i.irq} planned on cpu${c}`);
      for (const q of p.queues) for (const c of q.desired ?? []) assert.ok(![3, 17, 4, 5].includes(c));
    }));

  it('1024 CPUs / 8 nodes: 4096 queue IRQs detected and planned on their nodes', () =>
    withFixture(buildFixture(presets.big1024()), (root) => {
      const s = takeSnapshot(root);
      assert.equal(s.topology.online.length, 1024);
      assert.equal(s.topology.nodes.length, 8);
      assert.equal(s.irqs.filter((i) => i.queue !== null).length, 4096);
      const p = plan(s, defaultPolicy());
      const nodeOf = new Map(s.topology.cpus.map((c) => [c.cpu, c.node]));
      const nicNode = new Map(s.nics.map((n) => [n.name, n.numaNode]));
      for (const i of p.irqs) if (i.interface && i.desired) assert.equal(nodeOf.get(i.desired[0]!), nicNode.get(i.interface));
    }));
});

describe('real hwloc topologies with synthetic NIC IRQs', () => {
  const names = fs.existsSync(`${CORPUS}/hwloc-linux`) ? hwlocNames() : [];
  it('every capture: snapshot does not throw, plans only online allowed CPUs, finds every synthetic queue', (t) => {
    if (names.length === 0) return t.skip('corpus not present (../shared/corpus/hwloc-linux)');
    let checked = 0;
    for (const name of names) {
      const root = unpackHwloc(name);
      if (root === null) continue;
      try {
        const nics: FixtureNic[] = [
          { name: 'ens1', driver: 'i40e', pci: '0ace:5e:00.0', node: 0, queues: 8, naming: 'i40e' },
          { name: 'ens2', driver: 'ixgbe', pci: '0ace:af:00.0', node: 1, queues: 4, naming: 'TxRx' },
          { name: 'eth9', driver: 'virtio_net', pci: '0ace:00:09.0', node: -1, queues: 2, naming: 'virtio', virtioIndex: 9 },
        ];
        addSyntheticNics(root, nics);
        const s = takeSnapshot(root);
        const online = fs.existsSync(path.join(root, 'sys/devices/system/cpu/online'))
          ? parseCpuList(fs.readFileSync(path.join(root, 'sys/devices/system/cpu/online'), 'utf8'))
          : s.topology.online;
        assert.deepEqual(s.topology.online, online, `${name}: online CPUs`);
        for (const n of ['ens1', 'ens2', 'eth9']) {
          const expected = n === 'ens1' ? 8 : n === 'ens2' ? 4 : 4;
          assert.equal(s.irqs.filter((i) => i.queue?.interface === n).length, expected, `${name}: ${n} queue IRQs`);
        }
        const p = plan(s, defaultPolicy());
        const allowed = new Set(p.allowedCpus);
        for (const c of p.allowedCpus) assert.ok(online.includes(c), `${name}: allowed cpu${c} is online`);
        for (const i of p.irqs) for (const c of i.desired ?? []) assert.ok(allowed.has(c), `${name}: irq ${i.irq} on cpu${c}`);
        // A plan is a fixed point of itself: planned again from its own placement, or from the
        // placement it made out of a reset (every queue on the first CPU), nothing moves.
        const desired = (x: Plan) => x.irqs.map((i) => `${i.irq}:${i.desired}`);
        assert.deepEqual(desired(plan(s, defaultPolicy(), { previous: assignmentOf(p) })), desired(p), `${name}: plan again`);
        const reset = new Map([...assignmentOf(p).keys()].map((k) => [k, online[0]!] as const));
        const fromReset = plan(s, defaultPolicy(), { previous: reset });
        assert.deepEqual(desired(plan(s, defaultPolicy(), { previous: assignmentOf(fromReset) })), desired(fromReset), `${name}: plan again after a reset`);
        checked++;
      } finally {
        removeFixture(root);
      }
    }
    assert.ok(checked >= 40, `checked ${checked} captures`);
  });

  it('real NIC trees in the hwloc captures: virtio hop, igb, i40e, mlx4 IB, bnx2 with node -1', (t) => {
    if (names.length === 0) return t.skip('corpus not present (../shared/corpus/hwloc-linux)');
    // Ground truth: ../shared/corpus/sysfs-net/README.md and listings/.
    const cases: [string, string, (n: import('../src/types.js').NicInfo) => void][] = [
      ['2pa-pcidomain32bits', 'ens3', (n) => {
        assert.equal(n.virtio, 'virtio0');
        assert.equal(n.pci, '0000:00:03.0');
        assert.equal(n.numaNode, -1);
        assert.deepEqual([n.rx.length, n.tx.length], [1, 1]);
      }],
      ['32em64t-2n8c+dax+nvme+mic+dimms', 'eth0', (n) => {
        assert.equal(n.driver, 'igb');
        assert.equal(n.msiIrqs.length, 9);
        assert.deepEqual([n.rx.length, n.tx.length], [8, 8]);
      }],
      ['32intel64-2p8co2t+8ve', 'enp96s0f0', (n) => {
        assert.equal(n.driver, 'i40e');
        assert.equal(n.msiIrqs.length, 99);
      }],
      ['40intel64-2g2n4c+pcilocality', 'eth0', (n) => {
        assert.equal(n.driver, 'bnx2');
        assert.equal(n.numaNode, -1);
        assert.equal(n.rx.length, 8);
      }],
    ];
    for (const [tarball, ifname, check] of cases) {
      const root = unpackHwloc(tarball);
      if (root === null) continue;
      try {
        const nics = readNics(new FsRoot(root), []);
        const nic = nics.find((n) => n.name === ifname);
        assert.ok(nic, `${tarball}: ${ifname} among ${nics.map((n) => n.name).join(',')}`);
        check(nic);
      } finally {
        removeFixture(root);
      }
    }
  });

  it('node_exporter sysfs capture: igb ens10f0 with its MSI-X vectors and 8 rx / 8 tx queues', (t) => {
    const root = `${CORPUS}/sysfs-net/node-exporter-fixture`;
    if (!fs.existsSync(root)) return t.skip('corpus not present (../shared/corpus/sysfs-net)');
    // The capture lost its /sys/class/net symlinks (plain files with the link text); a tree
    // with the link restored is what a live system has.
    const tmp = fs.mkdtempSync('/tmp/affd-nx-');
    try {
      fs.cpSync(root, tmp, { recursive: true });
      fs.chmodSync(path.join(tmp, 'sys/class/net'), 0o755);
      fs.symlinkSync('../../devices/pci0000:40/0000:40:01.3/0000:45:00.0/net/ens10f0', path.join(tmp, 'sys/class/net/ens10f0'));
      const dev = path.join(tmp, 'sys/devices/pci0000:40/0000:40:01.3/0000:45:00.0/net/ens10f0/device');
      fs.chmodSync(path.dirname(dev), 0o755);
      fs.rmSync(dev);
      fs.symlinkSync('../../../0000:45:00.0', dev);
      const warnings: string[] = [];
      const nics = readNics(new FsRoot(tmp), warnings);
      const ens = nics.find((n) => n.name === 'ens10f0');
      assert.ok(ens, `found ${nics.map((n) => n.name).join(',')}`);
      assert.equal(ens.driver, 'igb');
      assert.equal(ens.pci, '0000:45:00.0');
      assert.equal(ens.msiIrqs.length, 9);
      assert.equal(ens.rx.length, 8);
      assert.equal(ens.tx.length, 8);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
