// The guest lab, NUMA and SMT: two sockets, each its own NUMA node, two cores of two threads
// each, and a 2-queue virtio-net behind a pxb expander bridge bound to node 1. First the
// test checks that the guest's sysfs really says node 1 for that NIC (else the placement
// check below would prove nothing); then that affinityd keeps its queue IRQs on node 1's
// CPUs, on distinct physical cores before any SMT sibling, in `plan` and after `apply`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Guest } from '../lab/guest.js';
import { CLI, LabAgent, offPlan } from '../lab/affinityd.js';
import { parseCpuList } from '../src/cpumask/cpumask.js';

let guest: Guest;
let agent: LabAgent;
let nicIf = '';

describe('guest lab: NUMA node and SMT siblings', { timeout: 600_000 }, () => {
  before(async () => {
    guest = await Guest.boot({
      name: 'numa-smt',
      cpus: { boot: 8, sockets: 2, cores: 2, threads: 2 },
      numaNodes: 2,
      pxbNode: 1,
      nics: [{ id: 'node1nic', model: 'virtio', queues: 2, onPxb: true }],
    });
    agent = new LabAgent(guest);
    await agent.writePolicy('');
    nicIf = await guest.ifname('node1nic');
  });

  after(async () => {
    await guest?.stop();
  });

  it('the guest sees two nodes, SMT siblings, and the NIC on node 1', async () => {
    const node1 = parseCpuList((await guest.sh('cat /sys/devices/system/node/node1/cpulist')).trim());
    assert.equal(node1.length, 4);
    const siblings = (await guest.sh(`cat /sys/devices/system/cpu/cpu${node1[0]}/topology/thread_siblings_list`)).trim();
    assert.equal(parseCpuList(siblings).length, 2, `cpu${node1[0]} has an SMT sibling (${siblings})`);
    const nicNode = (await guest.sh(`cat "$(readlink -f /sys/class/net/${nicIf}/device)/../numa_node"`)).trim();
    assert.equal(nicNode, '1', 'the pxb bridge put the NIC on node 1');
  });

  it('plan keeps the queue IRQs on node 1, on distinct cores; apply makes it so', async () => {
    const node1 = parseCpuList((await guest.sh('cat /sys/devices/system/node/node1/cpulist')).trim());
    const p = await agent.plan();
    const rx = p.irqs.filter((i) => i.interface === nicIf && i.role === 'rx');
    assert.equal(rx.length, 2);
    const cpus = rx.map((i) => parseCpuList(i.desired!));
    for (const c of cpus) {
      assert.equal(c.length, 1);
      assert.ok(node1.includes(c[0]!), `cpu${c[0]} is on node 1 (${node1})`);
    }
    const sib = parseCpuList((await guest.sh(`cat /sys/devices/system/cpu/cpu${cpus[0]![0]}/topology/thread_siblings_list`)).trim());
    assert.ok(!sib.includes(cpus[1]![0]!), `queues on cpu${cpus[0]![0]} and cpu${cpus[1]![0]} are not SMT siblings (${sib})`);
    for (const i of rx) assert.equal(i.node, 1);
    // RPS/XPS stay on the node too.
    for (const q of p.queues.filter((x) => x.interface === nicIf && x.desired)) {
      for (const c of parseCpuList(q.desired!)) assert.ok(node1.includes(c), `${q.kind}-${q.queue} cpu${c} on node 1`);
    }
    await guest.sh(`node ${CLI} apply --config ${agent.config} > /tmp/apply.out 2>&1`, 120_000, 'affinityd apply');
    assert.deepEqual(offPlan(await agent.plan()), []);
  });
});
