// The lab harness's pure parts: the QEMU command line a declared guest shape becomes, and
// the NIC properties shared by boot-time NICs and QMP hot-add.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { macOf, nicProps, qemuArgs } from '../lab/guest.js';

const assets = { kernel: '/k/vmlinuz', initrd: '/k/initrd.gz', release: '6.1.0-1-amd64' };

function opts(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));
}

describe('lab harness: QEMU command line', () => {
  it('topology, NUMA nodes by socket, pxb on a node, multi-queue tap NIC, managed-IRQ disk', () => {
    const a = qemuArgs(
      {
        name: 't',
        cpus: { boot: 2, sockets: 2, cores: 2, threads: 2 },
        numaNodes: 2,
        pxbNode: 1,
        nics: [{ id: 'n1', model: 'virtio', queues: 4, onPxb: true }, { id: 'e0', model: 'e1000' }],
        diskQueues: 3,
        stateDir: '/srv/state',
      },
      assets,
      '/run/lab',
    );
    assert.deepEqual(opts(a, '-smp'), ['2,maxcpus=8,sockets=2,cores=2,threads=2']);
    assert.deepEqual(opts(a, '-accel'), ['tcg,thread=multi,tb-size=1024'], 'TCG with the larger translation cache hot-add needs');
    assert.deepEqual(opts(a, '-numa'), ['node,nodeid=0,memdev=mem0', 'node,nodeid=1,memdev=mem1', 'cpu,node-id=0,socket-id=0', 'cpu,node-id=1,socket-id=1']);
    const devices = opts(a, '-device');
    assert.ok(devices.includes('pxb,id=pxb1,bus=pci.0,bus_nr=64,numa_node=1'));
    assert.ok(devices.some((d) => d.startsWith('virtio-net-pci,') && d.includes('bus=pxb1') && d.includes('mq=on') && d.includes('vectors=10')));
    assert.ok(devices.some((d) => d.startsWith('e1000,') && !d.includes('bus=')));
    assert.ok(devices.includes('virtio-blk-pci,drive=disk0,num-queues=3,romfile='));
    assert.deepEqual(opts(a, '-netdev'), ['tap,id=nd-n1,ifname=lab-n1,script=no,downscript=no,vhost=off,queues=4', 'tap,id=nd-e0,ifname=lab-e0,script=no,downscript=no,vhost=off']);
    const fs9p = opts(a, '-virtfs');
    assert.ok(fs9p[0]!.includes('path=/,mount_tag=hostroot') && fs9p[0]!.includes('readonly=on'), 'the host tree is read-only');
    assert.ok(fs9p[1]!.includes('path=/srv/state,mount_tag=labstate') && !fs9p[1]!.includes('readonly'));
  });

  it('hot-add properties match boot-time ones; MACs are stable per id and distinct', () => {
    const p = nicProps({ id: 'hot4', model: 'virtio', queues: 4 });
    assert.deepEqual(p.netdev, { type: 'tap', id: 'nd-hot4', ifname: 'lab-hot4', script: 'no', downscript: 'no', vhost: false, queues: 4 });
    assert.equal(p.device.mac, macOf('hot4'));
    assert.match(macOf('x'), /^52:54:00(:[0-9a-f]{2}){3}$/);
    const ids = ['mq0', 'ens18', 'hot4', 'legacy', 'node1nic', 'e0'];
    assert.equal(new Set(ids.map(macOf)).size, ids.length);
  });
});
