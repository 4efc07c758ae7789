// The guest lab, gateway shape: a Proxmox-like guest on Debian's 6.1 kernel booted with one
// vCPU and room for two more, a 4-queue virtio-net, the seed's single-queue ens18-like
// virtio-net, and a multi-queue virtio-blk (kernel-managed IRQs). affinityd's agent runs
// inside it from the start, and the test hot-adds vCPUs and NICs from outside over QMP.
//
// Each `it` continues from the state the previous one left (one boot for the whole file:
// a TCG guest costs ~10 s to boot): read top to bottom, it is the life of one machine.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Guest } from '../lab/guest.js';
import { LabAgent, clockOffset, offPlan, type LabRecord, type PlanJson } from '../lab/affinityd.js';
import { parseCpuList } from '../src/cpumask/cpumask.js';

const POLICY = (onlineHotplugged: boolean) => `[cpus]
online-hotplugged = ${onlineHotplugged ? 'yes' : 'no'}
; The disk's queue IRQs are kernel-managed: on 6.1 a write answers EIO. Naming them here
; makes the agent try once, record skipped-managed, and never retry.
[irq:disk]
match-irq = virtio*-req.*
strategy = pin
pin = 0
`;

let guest: Guest;
let agent: LabAgent;
let stateDir: string;
/** Reaction times measured below, printed at the end for the closing note and README. */
const timings: Record<string, number | null> = {};

async function onPlan(why: string, timeoutMs = 60_000): Promise<PlanJson> {
  // The agent reacts within a pass; under TCG a pass takes seconds. Poll the full plan until
  // nothing is left to do (each `plan` is itself ~4 s in the guest).
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await agent.plan();
    const off = offPlan(p);
    if (off.length === 0) return p;
    if (Date.now() > deadline) assert.fail(`${why}: still off plan after ${timeoutMs / 1000} s: ${off.join('; ')}`);
  }
}

/** ms from a host instant (Date.now()) to the last applied record's time in the guest; null if none. */
function lastWriteAfter(records: LabRecord[], hostT0: number, offsetMs: number): number | null {
  const t0 = hostT0 + offsetMs;
  const applied = records.filter((r) => r.kind === 'applied' && Date.parse(r.time) >= t0 - 1000);
  return applied.length > 0 ? Math.max(...applied.map((r) => Date.parse(r.time))) - t0 : null;
}

function cpusOf(list: string | null): number[] {
  return list === null || list === '' ? [] : parseCpuList(list);
}

/** The planner's RPS CPUs for a queue: every allowed CPU but the one its rx interrupt is on. */
function expectedRps(p: PlanJson, r: PlanJson['queues'][number]): number[] {
  const all = cpusOf(p.allowedCpus);
  const irq = p.irqs.find((i) => i.interface === r.interface && i.queue === r.queue && i.role !== 'tx' && i.desired !== null);
  const irqCpu = irq ? cpusOf(irq.desired)[0] : undefined;
  return irqCpu === undefined || all.length < 2 ? all : all.filter((c) => c !== irqCpu);
}

describe('guest lab: a gateway guest gets cores and NICs while affinityd runs', { timeout: 600_000 }, () => {
  before(async () => {
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'affinityd-lab-state-'));
    guest = await Guest.boot({
      name: 'gateway',
      cpus: { boot: 1, sockets: 3 },
      nics: [
        { id: 'mq0', model: 'virtio', queues: 4 },
        { id: 'ens18', model: 'virtio' },
      ],
      diskQueues: 2,
      stateDir,
    });
    agent = new LabAgent(guest);
    await agent.writePolicy(POLICY(false));
    await agent.start();
  });

  after(async () => {
    if (Object.keys(timings).length) console.log(`# lab timings (ms, TCG guest): ${JSON.stringify(timings)}`);
    await guest?.stop();
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('boots Debian 6.1 with one CPU; the agent placed every NIC queue and turned RPS on', async () => {
    assert.match((await guest.sh('uname -r')).trim(), /^6\.1\./);
    const p = await onPlan('first pass');
    assert.equal(p.allowedCpus, '0');
    const nics = new Set(p.irqs.filter((i) => i.role === 'rx').map((i) => i.interface));
    assert.equal(nics.size, 2, 'both NICs\' rx queue IRQs are in the plan');
    // One CPU: virtio-net enabled one queue pair of the 4-pair NIC; the other pairs' vectors
    // are idle and left alone (see test/inactive-queues.test.ts).
    const enabled = p.irqs.filter((i) => i.interface && i.desired !== null);
    assert.equal(enabled.filter((i) => i.role === 'rx').length, 2);
    for (const i of enabled) assert.equal(i.desired, '0', `${i.name} on the only CPU`);
    for (const i of p.irqs.filter((i) => i.interface && i.desired === null)) assert.match(i.reason, /queue not enabled/);
  });

  it('managed IRQs on 6.1 refuse writes with EIO: recorded as skipped-managed, once each', async () => {
    const recs = (await agent.records()).filter((r) => r.kind === 'skipped-managed');
    assert.ok(recs.length >= 1, 'the disk\'s queue IRQs were tried');
    for (const r of recs) assert.equal(r.error, 'EIO', `${r.target}: kernel 6.1 answers EIO, not EPERM`);
    const perIrq = new Map<string, number>();
    for (const r of recs) perIrq.set(r.target!, (perIrq.get(r.target!) ?? 0) + 1);
    assert.ok([...perIrq.values()].every((n) => n === 1), `one record per IRQ: ${JSON.stringify([...perIrq])}`);
    const p = await agent.plan();
    for (const irq of p.irqs.filter((i) => /-req\./.test(i.name))) assert.equal(irq.desired, null, `${irq.name} left alone once known managed`);
  });

  it('cores added, online-hotplugged = no: the agent leaves the new CPU offline; once onlined (as a udev rule would) it is balanced onto', async () => {
    const off = await clockOffset(guest);
    const tAdd = Date.now();
    const cpu = await guest.hotAddCpu();
    // The add event reaches the agent, which says it leaves the CPU offline (no pass: nothing
    // can be placed on an offline CPU); the CPU must stay offline.
    await guest.waitFor(`grep -q 'cpu${cpu} hot-added and left offline' /tmp/agent.err`, 30_000, `the agent to see cpu${cpu} add`);
    assert.equal((await guest.sh(`cat /sys/devices/system/cpu/cpu${cpu}/online`)).trim(), '0');
    const tOnline = Date.now();
    await guest.sh(`echo 1 > /sys/devices/system/cpu/cpu${cpu}/online`);
    const p = await onPlan(`cpu${cpu} online`);
    assert.equal(p.allowedCpus, `0-${cpu}`);
    // Booted on one CPU, the 4-pair NIC enabled one pair (virtio-net: min(pairs, online CPUs));
    // two enabled rx queues in all, and the new CPU takes one of them.
    const rx = p.irqs.filter((i) => i.role === 'rx' && i.desired);
    assert.equal(rx.length, 2);
    assert.ok(rx.some((i) => cpusOf(i.current).includes(cpu)), `an rx queue IRQ moved to cpu${cpu}`);
    // RPS covers the allowed CPUs, the new one included, but the queue's own interrupt CPU.
    for (const r of p.queues.filter((x) => x.kind === 'rps' && x.desired)) assert.deepEqual(cpusOf(r.current), expectedRps(p, r), `${r.interface} rx-${r.queue} rps`);
    timings[`cpu${cpu} online -> last write`] = lastWriteAfter(await agent.records(), tOnline, off.offsetMs);
    timings[`cpu${cpu} device_add -> onlined by test`] = tOnline - tAdd;
  });

  it('cores added, online-hotplugged = yes: the agent onlines the new CPU itself and balances onto it', async () => {
    await agent.reload(POLICY(true));
    const off = await clockOffset(guest);
    const tAdd = Date.now();
    const cpu = await guest.hotAddCpu();
    await guest.waitFor(`[ "$(cat /sys/devices/system/cpu/cpu${cpu}/online)" = 1 ]`, 60_000, `the agent to online cpu${cpu}`);
    const p = await onPlan(`cpu${cpu} onlined by the agent`);
    assert.equal(p.allowedCpus, `0-${cpu}`);
    const recs = await agent.records();
    const onl = recs.find((r) => r.target === `cpu/${cpu}/online`);
    assert.equal(onl?.kind, 'applied', 'the onlining is an audit record like any write');
    assert.match(onl?.trigger ?? '', new RegExp(`cpu${cpu} add`));
    // Two enabled rx queues on three CPUs: on distinct CPUs; RPS spreads both NICs over all three.
    const rx = p.irqs.filter((i) => i.role === 'rx' && i.desired);
    assert.equal(new Set(rx.map((i) => i.current)).size, rx.length);
    for (const r of p.queues.filter((x) => x.kind === 'rps' && x.desired)) assert.deepEqual(cpusOf(r.current), expectedRps(p, r), `${r.interface} rx-${r.queue} rps`);
    timings[`cpu${cpu} device_add -> last write`] = lastWriteAfter(recs, tAdd, off.offsetMs);
  });

  let mqIf = '';
  let e1000If = '';
  it('a hot-added 4-queue virtio-net: queue IRQs pinned one CPU each, balanced with the others, XPS set', async () => {
    const off = await clockOffset(guest);
    const tAdd = Date.now();
    mqIf = await guest.hotAddNic({ id: 'hot4', model: 'virtio', queues: 4 });
    const p = await onPlan(`${mqIf} add`);
    const own = p.irqs.filter((i) => i.interface === mqIf && i.desired !== null);
    // virtio-net enables min(queue pairs, online CPUs) queues (3 here): the 4th pair's
    // vectors exist but serve no queue, so only the active ones are planned.
    const active = Number((await guest.sh(`ls /sys/class/net/${mqIf}/queues | grep -c rx-`)).trim());
    assert.equal(active, 3);
    assert.equal(own.filter((i) => i.role === 'rx').length, active);
    for (const i of own) assert.equal(cpusOf(i.current).length, 1, `${i.name} pinned to one CPU`);
    const xps = p.queues.filter((x) => x.interface === mqIf && x.kind === 'xps');
    assert.equal(xps.length, active, 'one XPS mask per enabled tx queue');
    for (const x of xps) assert.ok(cpusOf(x.current).length >= 1, `${mqIf} xps-${x.queue} set`);
    // Balanced over all NICs together: the enabled rx vectors (1 + 1 + 3) on 3 CPUs.
    const perCpu = [0, 0, 0];
    for (const i of p.irqs.filter((i) => (i.role === 'rx' || i.role === 'rxtx') && i.desired !== null)) for (const c of cpusOf(i.current)) perCpu[c]!++;
    assert.ok(Math.max(...perCpu) - Math.min(...perCpu) <= 1, `rx vectors per CPU ${perCpu}`);
    // virtio-net sets its own queue affinity and XPS at probe (virtnet_set_affinity); where
    // that already matches the plan the agent has nothing to write, but it did look.
    const recs = await agent.records();
    assert.ok(recs.some((r) => r.kind === 'plan-summary' && Date.parse(r.time) >= tAdd + off.offsetMs), `a pass ran after ${mqIf} appeared`);
    timings[`${mqIf} device_add -> last write`] = lastWriteAfter(recs, tAdd, off.offsetMs);
  });

  it('a hot-added e1000: its legacy INTx line is recognised as the NIC\'s IRQ and placed; the NIC gets RPS', async () => {
    e1000If = await guest.hotAddNic({ id: 'legacy', model: 'e1000' });
    // e1000 requests its IRQ in ndo_open: nothing to see until the link is up.
    await guest.sh(`ip link set ${e1000If} up`);
    const p = await onPlan(`${e1000If} up`);
    const irq = p.irqs.find((i) => i.interface === e1000If);
    assert.ok(irq, `plan lists ${e1000If}'s interrupt as the NIC's own`);
    const pciIrq = Number((await guest.sh(`cat /sys/class/net/${e1000If}/device/irq`)).trim());
    assert.equal(irq.irq, pciIrq, 'the INTx line from the PCI function\'s irq file');
    assert.ok(pciIrq < 24, `a legacy IO-APIC line (got ${pciIrq})`);
    assert.equal(cpusOf(irq.desired).length, 1);
    assert.equal(irq.current, irq.desired);
    const rps = p.queues.find((x) => x.interface === e1000If && x.kind === 'rps');
    assert.ok(rps, `${e1000If} has an RPS queue`);
    assert.deepEqual(cpusOf(rps.current), expectedRps(p, rps), 'RPS spreads the single queue over the CPUs other than its INTx line\'s');
    assert.equal(cpusOf(rps.current).length, 2);
  });

  it('link down/up (the driver frees and requests its IRQ again in ndo_stop/ndo_open) ends on plan', async () => {
    const before = (await agent.plan()).irqs.find((i) => i.interface === e1000If)!;
    // What the kernel does to the mask: on 6.1 an INTx line keeps an affinity set from user
    // space (IRQD_AFFINITY_SET) across free_irq/request_irq, so there may be nothing to redo;
    // vectors a driver frees and allocates again come back at the default. Either way the
    // agent's pass on the link events must leave the IRQ on plan.
    await guest.sh(`ip link set ${e1000If} down; ip link set ${e1000If} up`);
    const kept = (await guest.sh(`cat /proc/irq/${before.irq}/smp_affinity_list`)).trim();
    console.log(`# ${e1000If} INTx ${before.irq} after down/up: ${kept} (planned ${before.desired})`);
    const p = await onPlan(`${e1000If} down/up`);
    assert.equal(p.irqs.find((i) => i.interface === e1000If)!.current, before.desired);
    await guest.waitFor(`grep -q '${e1000If} up' /tmp/agent.out`, 30_000, 'the agent to see the link come up');
  });

  it('a mask reset behind its back (as a hotplug or driver reset does) is put back on the next event', async () => {
    const irq = (await agent.plan()).irqs.find((i) => i.interface === e1000If)!;
    const off = await clockOffset(guest);
    const t0 = Date.now();
    await guest.sh(`echo 0-2 > /proc/irq/${irq.irq}/smp_affinity_list; ip link set ${e1000If} down; ip link set ${e1000If} up`);
    const p = await onPlan(`${e1000If} reset + down/up`);
    assert.equal(p.irqs.find((i) => i.irq === irq.irq)!.current, irq.desired);
    const recs = await agent.records();
    assert.ok(recs.some((r) => r.kind === 'applied' && r.irq === irq.irq && r.old === '0-2' && Date.parse(r.time) >= t0 + off.offsetMs - 1000), 'the reset mask was written again');
    timings[`${e1000If} down/up -> last write`] = lastWriteAfter(recs, t0, off.offsetMs);
  });

  it('hot-removing both NICs: no errors, nothing of them left in the state', async () => {
    await guest.unplug('hot4');
    await guest.unplug('legacy');
    await guest.waitFor(`! [ -e /sys/class/net/${mqIf} ] && ! [ -e /sys/class/net/${e1000If} ]`, 30_000, 'the NICs to go');
    await onPlan('after removal');
    // A pass after the removal has saved the state.
    await guest.waitFor(`! grep -q -e '/${mqIf}/' -e '/${e1000If}/' /var/lib/affinityd/state.json`, 30_000, 'the state to drop the removed NICs');
    const state = JSON.parse(await guest.sh('cat /var/lib/affinityd/state.json')) as { targets: Record<string, string> };
    const leftovers = Object.keys(state.targets).filter((t) => t.includes(`/${mqIf}/`) || t.includes(`/${e1000If}/`));
    assert.deepEqual(leftovers, []);
    const recs = await agent.records();
    assert.deepEqual(recs.filter((r) => r.kind === 'failed').map((r) => r.message ?? r.msg), [], 'no failed writes all along');
    const log = await agent.errors();
    assert.doesNotMatch(log, /"level":(50|60)/, `no errors in the agent log: ${log.slice(0, 500)}`);
  });
});
