// A NIC without MSI — e1000 in a VM, virtio-pci without MSI-X — has a single legacy INTx
// line named after the interface (the seed's `echo 7 > /proc/irq/11/smp_affinity`). That line
// is the NIC's queue IRQ: plan places it per policy and turns RPS on, like any single-queue
// NIC. (Seen for real in the guest lab: test/lab-gateway.test.ts.)
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildFixture, removeFixture } from '../fixture/fixture.js';
import { takeSnapshot } from '../src/snapshot/snapshot.js';
import { plan } from '../src/planner/planner.js';
import { defaultPolicy } from '../src/policy/policy.js';

const spec = {
  sockets: 1, coresPerSocket: 3, threadsPerCore: 1, nodes: 1, platform: 'kvm' as const,
  nics: [
    { name: 'ens18', driver: 'virtio_net', pci: '0000:00:12.0', node: -1, queues: 1, naming: 'virtio' as const, virtioIndex: 1 },
    { name: 'ens19', driver: 'e1000', pci: '0000:00:13.0', node: -1, queues: 1, naming: 'intx' as const },
  ],
};

describe('legacy INTx NIC interrupt', () => {
  it('is recognised as the NIC queue IRQ, placed, and the NIC gets RPS', () => {
    const root = buildFixture(spec);
    try {
      const s = takeSnapshot(root);
      const nic = s.nics.find((n) => n.name === 'ens19')!;
      assert.ok(nic.legacyIrq, 'the PCI function has no MSI: its irq file names the line');
      assert.deepEqual(nic.msiIrqs, []);
      const line = s.irqs.find((i) => i.irq === nic.legacyIrq)!;
      assert.equal(line.name, 'ens19');
      assert.deepEqual(line.queue, { role: 'rxtx', queue: 0, interface: 'ens19' });
      const p = plan(s, defaultPolicy());
      const planned = p.irqs.find((i) => i.irq === nic.legacyIrq)!;
      assert.equal(planned.interface, 'ens19');
      assert.equal(planned.desired?.length, 1, 'one CPU, like any spread queue IRQ');
      // Balanced with the virtio NIC's queue IRQs: the two NICs' rx vectors do not share a CPU.
      const virtioRx = p.irqs.find((i) => i.interface === 'ens18' && i.role === 'rx')!;
      assert.notDeepEqual(virtioRx.desired, planned.desired);
      const rps = p.queues.find((q) => q.interface === 'ens19' && q.kind === 'rps')!;
      assert.ok(rps.desired && rps.desired.length > 1, `RPS on for the single-queue e1000, got ${JSON.stringify(rps.desired)}`);
    } finally {
      removeFixture(root);
    }
  });

  it('is left alone when the line is shared with another device or named otherwise', () => {
    const root = buildFixture(spec);
    try {
      const irq = takeSnapshot(root).nics.find((n) => n.name === 'ens19')!.legacyIrq!;
      for (const actions of ['uhci_hcd:usb1,ens19', 'eth7']) {
        fs.writeFileSync(path.join(root, `sys/kernel/irq/${irq}/actions`), `${actions}\n`);
        const line = takeSnapshot(root).irqs.find((i) => i.irq === irq)!;
        assert.equal(line.queue, null, `actions ${actions}`);
      }
    } finally {
      removeFixture(root);
    }
  });
});
