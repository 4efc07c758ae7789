// virtio-net allocates vectors for every queue pair the device offers but enables only
// min(pairs, online CPUs) at probe (seen in the guest lab: a 4-pair NIC hot-added to a
// 3-CPU guest has rx-0..2 in sysfs and input.0..3 in /proc/interrupts). The idle pair's
// vectors are left alone and do not count for the balance.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildFixture, removeFixture } from '../fixture/fixture.js';
import { takeSnapshot } from '../src/snapshot/snapshot.js';
import { plan } from '../src/planner/planner.js';
import { defaultPolicy } from '../src/policy/policy.js';

describe('queue vectors the driver has not enabled', () => {
  it('are left alone, and the enabled ones of two NICs balance over the CPUs', () => {
    const root = buildFixture({
      sockets: 1, coresPerSocket: 3, threadsPerCore: 1, nodes: 1, platform: 'kvm',
      nics: [
        { name: 'eth0', driver: 'virtio_net', pci: '0000:00:03.0', node: -1, queues: 4, rxQueues: 3, txQueues: 3, naming: 'virtio', virtioIndex: 2 },
        { name: 'eth1', driver: 'virtio_net', pci: '0000:00:04.0', node: -1, queues: 4, rxQueues: 3, txQueues: 3, naming: 'virtio', virtioIndex: 3 },
      ],
    });
    try {
      const p = plan(takeSnapshot(root), defaultPolicy());
      const idle = p.irqs.filter((i) => i.queue === 3);
      assert.equal(idle.length, 4, 'input.3 and output.3 of both NICs');
      for (const i of idle) {
        assert.equal(i.desired, null, i.name);
        assert.match(i.reason, /queue not enabled \(eth\d uses 3\)/);
      }
      const perCpu = [0, 0, 0];
      for (const i of p.irqs.filter((i) => i.role === 'rx' && i.desired)) for (const c of i.desired!) perCpu[c]!++;
      assert.deepEqual(perCpu, [2, 2, 2], 'six enabled rx queues, two per CPU');
    } finally {
      removeFixture(root);
    }
  });
});
