// The guest lab, reboot: the agent's state file lives on a host directory shared into the
// guest (it survives a reset, as /var/lib does on disk). After a hard reset the kernel has
// put every mask back to its default; the agent, started again as systemd would, reports
// the drift once and re-applies the same placement.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Guest } from '../lab/guest.js';
import { LabAgent, offPlan } from '../lab/affinityd.js';

let guest: Guest;
let agent: LabAgent;
let stateDir: string;

describe('guest lab: reboot with a persistent state file', { timeout: 600_000 }, () => {
  before(async () => {
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'affinityd-lab-state-'));
    guest = await Guest.boot({
      name: 'reboot',
      cpus: { boot: 1, sockets: 2 },
      nics: [{ id: 'mq0', model: 'virtio', queues: 2 }, { id: 'ens18', model: 'virtio' }],
      stateDir,
    });
    agent = new LabAgent(guest);
    await agent.writePolicy('[cpus]\nonline-hotplugged = yes\n');
    await agent.start();
  });

  after(async () => {
    await guest?.stop();
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('after a reset: one drift-at-start record, then the reapplication of the same placement', () => agent.explained(async () => {
    const cpu = await guest.hotAddCpu();
    await guest.waitFor(`[ "$(cat /sys/devices/system/cpu/cpu${cpu}/online)" = 1 ]`, 120_000, `the agent to online cpu${cpu}`);
    let p = await agent.plan();
    for (let i = 0; offPlan(p).length > 0 && i < 10; i++) p = await agent.plan();
    assert.deepEqual(offPlan(p), []);
    const placed = p.irqs.filter((i) => i.desired !== null).map((i) => `${i.name}=${i.desired}`);
    assert.ok(fs.existsSync(path.join(stateDir, 'state.json')), 'the state file is on the host directory');

    await guest.reset(300_000);
    // /tmp is the guest's RAM: the policy goes again, as /etc would be on a disk.
    await agent.writePolicy('[cpus]\nonline-hotplugged = yes\n');
    assert.equal((await guest.sh('cat /sys/devices/system/cpu/online')).trim(), `0-${cpu}`, 'the hot-added CPU is still there');
    const reset = (await agent.plan()).irqs.filter((i) => i.desired !== null && i.current !== i.desired);
    assert.ok(reset.length > 0, 'the kernel put masks back to its defaults');

    await agent.start();
    const recs = await agent.records();
    const drift = recs.filter((r) => r.kind === 'drift-at-start');
    assert.equal(drift.length, 1, 'one drift record');
    assert.equal(drift[0]!.trigger, 'boot');
    assert.ok(recs.some((r) => r.kind === 'applied' && r.trigger === 'boot'), 'then the reapplication');
    const after = await agent.plan();
    assert.deepEqual(offPlan(after), []);
    // Every queue placed before the reset is back on its CPU. (More may be placed now: booted
    // with two CPUs online, virtio-net enables two queue pairs where it enabled one before.)
    const now = new Set(after.irqs.map((i) => `${i.name}=${i.current}`));
    assert.deepEqual(placed.filter((x) => !now.has(x)), [], 'the same placement as before the reset');
  }));
});
