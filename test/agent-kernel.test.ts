// The agent end to end against the real kernel (root only): `startAgent` runs in this process
// with root '/', real uevent/rtnetlink/SIGHUP sources, a temp policy and state file, and a
// fake audit log that collects records. Each test drives real hardware events — a veth we
// create (its peer in a netns we create), cpu1 offline/online, unbind/bind of a virtio_rng device (found in sysfs), a forged
// uevent, a policy reload, an event flood — and checks what the agent wrote.
//
// Safety: other engineers run kernel tests at the same time, so the policy makes the agent
// leave every NIC alone except the NIC found in sysfs (eth0 here) and the veths this file names ([net:others] ignore). eth0
// is never renamed or taken down; only its queue IRQ masks and rx-0 rps_cpus are written, and
// they are saved before and restored after. cpu1 is brought back online, the device rebound and
// its IRQ masks restored in `finally`/`after`.

import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile as execFileCb } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { Subject, tap, type Observable } from 'rxjs';
import { RawNetlinkSocket, Protocol } from 'netlink';
import { MAX_WAIT_SETTLES } from '../src/agent/pipeline.js';
import { describeEvent } from '../src/agent/events.js';
import { kernelSources, startAgent, type PassInfo } from '../src/agent/agent.js';
import type { AgentEvent } from '../src/agent/events.js';
import { ueventStats } from '../src/agent/uevent.js';
import type { AuditLog, AuditRecord } from '../src/audit/audit-log.js';
import { parseCpuList } from '../src/cpumask/cpumask.js';
import { shippedPolicyPath } from '../src/policy/policy.js';
import { queueNic, unbindableDevice } from './helpers/live.js';
import { setTimeout as sleep } from 'node:timers/promises';

const execFile = promisify(execFileCb);
const isRoot = process.getuid?.() === 0;
const pid = process.pid;

const NS = `affd-ag-${pid}`;
const HOST = `affdA${pid}`;
const PEER = `affdB${pid}`;
const RENAMED = `affdR${pid}`;
/** Prefix of the flood test's veths: af<pid>x<i> stays within IFNAMSIZ (15). */
const FLOOD = `af${pid}x`;
const CPU1 = '/sys/devices/system/cpu/cpu1/online';
/** Found in sysfs (helpers/live.ts): the NIC the tests steer and a device safe to unbind. */
const NIC = queueNic();
const ETH = NIC?.name ?? 'eth0';
const ETH0_IRQS = NIC?.irqs.map((i) => i.name) ?? [];
const UNBINDABLE = unbindableDevice();
const RNG = UNBINDABLE?.driverDir ?? '/sys/bus/virtio/drivers/virtio_rng';
const DEV = UNBINDABLE?.device ?? '(no unbindable device)';
const TIMEOUT = 2000;

// ---------------------------------------------------------------------------------------
// Small helpers (live /proc and /sys)


async function run(cmd: string, ...args: string[]): Promise<void> {
  await execFile(cmd, args);
}

async function tryRun(cmd: string, ...args: string[]): Promise<void> {
  try {
    await execFile(cmd, args);
  } catch {
    /* already gone */
  }
}

/** IRQ numbers by action name, from the live /proc/interrupts. */
function irqsByName(): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of fs.readFileSync('/proc/interrupts', 'utf8').split('\n')) {
    const m = /^\s*(\d+):/.exec(line);
    if (!m) continue;
    const name = line.trim().split(/\s+/).pop()!;
    out.set(name, Number(m[1]));
  }
  return out;
}

function irqOf(name: string): number | null {
  return irqsByName().get(name) ?? null;
}

function readMask(irq: number): string {
  return fs.readFileSync(`/proc/irq/${irq}/smp_affinity_list`, 'utf8').trim();
}

function writeMask(irq: number, list: string): void {
  fs.writeFileSync(`/proc/irq/${irq}/smp_affinity_list`, list);
}

function rpsFile(ifname: string): string {
  return `/sys/class/net/${ifname}/queues/rx-0/rps_cpus`;
}

/** rps_cpus as a number (the hex mask; 2 CPUs fit in one digit). */
function readRps(ifname: string): number | null {
  try {
    return parseInt(fs.readFileSync(rpsFile(ifname), 'utf8').trim().replace(/,/g, ''), 16);
  } catch {
    return null;
  }
}

async function until<T>(what: string, probe: () => T | null | undefined | false, ms = TIMEOUT): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

const msSince = (t0: bigint, t1: bigint = process.hrtime.bigint()): number => Number(t1 - t0) / 1e6;

function onlineCpus(): number[] {
  return parseCpuList(fs.readFileSync('/sys/devices/system/cpu/online', 'utf8').trim());
}

// ---------------------------------------------------------------------------------------
// The agent under test

/** Shipped policy, our state file, and sections that keep the agent off other people's NICs. */
function policyText(dir: string, extra = ''): string {
  const shipped = shippedPolicyPath();
  if (shipped === null) throw new Error('shipped etc/affinityd.ini not found');
  // Metrics go to our temp dir, never into the host's node_exporter directory.
  const text = fs
    .readFileSync(shipped, 'utf8')
    .replace(/^state-file = .*$/m, `state-file = ${path.join(dir, 'state.json')}`)
    .replace(/^textfile-directory = .*$/m, `textfile-directory = ${dir}`);
  return `${text}
[net:others]
match-name = *
strategy = ignore

[net:ours]
match-name = ${ETH}, ${HOST}, ${RENAMED}, ${FLOOD}*
strategy = spread

[net:renamed]
match-name = ${RENAMED}
rps = off
${extra}`;
}

interface Stamped<T> {
  at: bigint;
  v: T;
}

class Agent {
  /** Events as they reached the pipeline (only when the agent runs on kernel sources). */
  readonly events: Stamped<AgentEvent>[] = [];
  readonly records: Stamped<AuditRecord>[] = [];
  readonly passes: PassInfo[] = [];
  readonly logs: string[] = [];
  readonly done: Promise<number>;
  private readonly stop$ = new Subject<void>();

  constructor(
    readonly configFile: string,
    sources?: Observable<AgentEvent>,
  ) {
    const audit: AuditLog = {
      sink: 'stdout',
      record: (r) => this.records.push({ at: process.hrtime.bigint(), v: r }),
      flush: async () => undefined,
      close: async () => undefined,
      stats: () => null,
    };
    const log = pino({ level: 'debug', base: null }, { write: (s: string) => void this.logs.push(s) });
    const src = sources ?? kernelSources(log).pipe(tap((e) => this.events.push({ at: process.hrtime.bigint(), v: e })));
    this.done = startAgent(
      {
        root: '/',
        configFile,
        audit,
        log,
        onPass: (p) => this.passes.push(p),
        sources: src,
      },
      this.stop$,
    );
  }

  /** First pass (after index `from`) whose trigger matches. */
  async pass(what: string, pred: (p: PassInfo) => boolean, from = 0, ms = TIMEOUT): Promise<PassInfo> {
    try {
      return await until(what, () => this.passes.slice(from).find(pred), ms);
    } catch (e) {
      throw new Error(`${(e as Error).message}; passes: ${this.passes.slice(from).map((p) => p.trigger).join(' | ') || '(none)'}`);
    }
  }

  /**
   * The pass that handled the first event (from index `from`) matching `pred`: the first pass
   * to start after the event arrived (passes are synchronous). Matching by trigger text alone
   * is fragile here: the text names only the first few events of a batch, and other
   * engineers' veths come and go on this machine.
   */
  async passFor(what: string, pred: (e: AgentEvent) => boolean, from: number, ms = TIMEOUT): Promise<PassInfo> {
    const ev = await until(`${what} event`, () => this.events.slice(from).find((e) => pred(e.v)), ms);
    return this.pass(`pass for ${what}`, (p) => p.startedAt > ev.at, 0, ms);
  }

  failed(): AuditRecord[] {
    return this.records.map((r) => r.v).filter((r) => r.kind === 'failed');
  }

  async stop(): Promise<void> {
    this.stop$.next();
    const code = await Promise.race([this.done, sleep(5000).then(() => 'timeout' as const)]);
    assert.equal(code, 0, 'agent did not stop within 5 s');
  }
}

function needRoot(t: TestContext): boolean {
  if (!isRoot) {
    t.skip('needs root (netlink multicast, netns, /proc/irq and sysfs writes)');
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Machine state saved before and restored after

interface Saved {
  masks: Map<string, string>;
  eth0Rps: string | null;
}

let saved: Saved | null = null;
let tmp = '';

function saveState(): Saved {
  const byName = irqsByName();
  const masks = new Map<string, string>();
  for (const [name, irq] of byName) if (ETH0_IRQS.includes(name) || name.startsWith(`${DEV}-`)) masks.set(name, readMask(irq));
  let eth0Rps: string | null = null;
  try {
    eth0Rps = fs.readFileSync(rpsFile(ETH), 'utf8').trim();
  } catch {
    /* no rx-0 */
  }
  return { masks, eth0Rps };
}

async function restoreState(s: Saved): Promise<string[]> {
  const problems: string[] = [];
  if (fs.existsSync(CPU1) && fs.readFileSync(CPU1, 'utf8').trim() !== '1') fs.writeFileSync(CPU1, '1');
  if (fs.existsSync(RNG) && !fs.existsSync(`${RNG}/${DEV}`)) {
    try {
      fs.writeFileSync(`${RNG}/bind`, DEV);
    } catch (e) {
      problems.push(`rebind ${DEV}: ${(e as Error).message}`);
    }
  }
  // The IRQ numbers may have changed (rebind): restore by name.
  const byName = irqsByName();
  for (const [name, mask] of s.masks) {
    const irq = byName.get(name);
    if (irq === undefined) continue;
    try {
      if (readMask(irq) !== mask) writeMask(irq, mask);
    } catch (e) {
      problems.push(`irq ${irq} (${name}) ${mask}: ${(e as Error).message}`);
    }
  }
  if (s.eth0Rps !== null) {
    try {
      fs.writeFileSync(rpsFile(ETH), s.eth0Rps);
    } catch (e) {
      problems.push(`eth0 rps ${s.eth0Rps}: ${(e as Error).message}`);
    }
  }
  return problems;
}

async function removeOurLinks(): Promise<void> {
  await tryRun('ip', 'link', 'del', HOST);
  await tryRun('ip', 'link', 'del', RENAMED);
  await tryRun('ip', 'netns', 'del', NS);
}

describe('agent against the real kernel', { concurrency: false }, () => {
  before(async () => {
    if (!isRoot) return;
    saved = saveState();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-agent-'));
    await run('ip', 'netns', 'add', NS);
  });

  after(async () => {
    if (!isRoot || saved === null) return;
    const problems = await restoreState(saved);
    await removeOurLinks();
    fs.rmSync(tmp, { recursive: true, force: true });
    const now = saveState();
    assert.deepEqual(problems, []);
    assert.deepEqual([...now.masks], [...saved.masks], 'IRQ masks restored');
    assert.equal(now.eth0Rps, saved.eth0Rps, 'eth0 rps_cpus restored');
  });

  function config(name: string, extra = ''): string {
    const file = path.join(tmp, `${name}.ini`);
    fs.writeFileSync(file, policyText(path.join(tmp, name), extra));
    fs.mkdirSync(path.join(tmp, name), { recursive: true });
    return file;
  }

  it('veth add → RPS on its rx-0; rename → re-matched (rps off); delete → no failures', async (t) => {
    if (!needRoot(t)) return;
    if (onlineCpus().length < 2) return t.skip('needs 2 online CPUs for rps auto = on');
    const agent = new Agent(config('veth'));
    try {
      await agent.pass('first pass', () => true);
      // Passes are found by the event they handled, not by trigger text: the text names only
      // a batch's first events (CI: the rename hid behind "affdA… rx-0 add, … (+6 more)").
      const named = (ifname: string) => (e: AgentEvent) => describeEvent(e).startsWith(`${ifname} `);
      const e0 = agent.events.length;
      const t0 = process.hrtime.bigint();
      await run('ip', 'link', 'add', HOST, 'type', 'veth', 'peer', 'name', PEER, 'netns', NS);
      const rps = await until(`${HOST} rx-0 rps_cpus = 3`, () => readRps(HOST) === 3 && process.hrtime.bigint());
      const added = await agent.passFor(`${HOST} add`, named(HOST), e0);
      t.diagnostic(`veth add → rps written: ${msSince(t0, rps).toFixed(1)} ms (pass ${msSince(added.startedAt, added.endedAt).toFixed(1)} ms, trigger "${added.trigger}")`);
      assert.ok(agent.records.some((r) => r.v.kind === 'applied' && r.v.interface === HOST), 'applied record for the veth');

      // Rename (the kernel refuses renaming an up device): [net:renamed] says rps = off.
      const e1 = agent.events.length;
      const t1 = process.hrtime.bigint();
      await run('ip', 'link', 'set', HOST, 'down');
      await run('ip', 'link', 'set', HOST, 'name', RENAMED);
      const cleared = await until(`${RENAMED} rx-0 rps_cpus = 0`, () => readRps(RENAMED) === 0 && process.hrtime.bigint());
      const moved = await agent.passFor(`${RENAMED} rename`, named(RENAMED), e1);
      t.diagnostic(`rename → rps cleared: ${msSince(t1, cleared).toFixed(1)} ms (trigger "${moved.trigger}")`);

      const e2 = agent.events.length;
      await run('ip', 'link', 'del', RENAMED);
      const removed = await agent.passFor(`${RENAMED} deletion`, named(RENAMED), e2);
      assert.equal(removed.failed, 0);
      assert.deepEqual(agent.failed(), []);
    } finally {
      await agent.stop();
      await tryRun('ip', 'link', 'del', HOST);
      await tryRun('ip', 'link', 'del', RENAMED);
    }
  });

  it('cpu1 offline/online → eth0 queue IRQ masks back to the plan', async (t) => {
    if (!needRoot(t)) return;
    if (!fs.existsSync(CPU1)) return t.skip('cpu1 has no online file (single CPU or not hot-pluggable)');
    if (fs.readFileSync(CPU1, 'utf8').trim() !== '1') return t.skip('cpu1 is not online to begin with');
    const irqs = ETH0_IRQS.map((n) => irqOf(n));
    if (irqs.some((i) => i === null)) return t.skip(`${ETH} queue IRQs ${ETH0_IRQS.join(', ')} not in /proc/interrupts`);
    const dir = path.join(tmp, 'cpu');
    const agent = new Agent(config('cpu'));
    try {
      await agent.pass('first pass', () => true);
      const e0 = agent.events.length;
      fs.writeFileSync(CPU1, '0');
      await agent.passFor('cpu1 offline', (e) => e.kind === 'cpu' && e.cpu === 1 && e.action === 'offline', e0);
      // Undo the plan behind the agent's back, as a hotplug reset would: the online pass must
      // write the masks again, not find them already right.
      for (const irq of irqs) writeMask(irq!, '0-1');
      const e1 = agent.events.length;
      const t0 = process.hrtime.bigint();
      fs.writeFileSync(CPU1, '1');
      const on = await agent.passFor('cpu1 online', (e) => e.kind === 'cpu' && e.cpu === 1 && e.action === 'online', e1);
      t.diagnostic(`cpu1 online write → pass end: ${msSince(t0, on.endedAt).toFixed(1)} ms (pass ${msSince(on.startedAt, on.endedAt).toFixed(1)} ms, ${on.changed} changed)`);
      assert.equal(on.failed, 0);

      // The plan the agent applied is in its state file.
      const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as { targets: Record<string, string> };
      for (const irq of irqs) {
        const want = state.targets[`irq/${irq}`];
        assert.ok(want !== undefined, `state has a target for irq ${irq}: ${JSON.stringify(state.targets)}`);
        assert.deepEqual(parseCpuList(readMask(irq!)), parseCpuList(want), `irq ${irq} mask`);
      }
      const rpsWant = state.targets[`net/${ETH}/rx-0/rps`];
      if (rpsWant !== undefined) {
        // Every online CPU but the one rx-0's interrupt was placed on (planner: withoutIrqCpu).
        const rxIrq = NIC?.irqs.find((i) => /^(rx|combined)-0$/.test(i.queue));
        const rxCpu = rxIrq ? state.targets[`irq/${irqOf(rxIrq.name)}`] : undefined;
        const want = onlineCpus().filter((c) => rxCpu === undefined || onlineCpus().length < 2 || String(c) !== rxCpu);
        assert.deepEqual(parseCpuList(rpsWant), want, 'eth0 rps back on the CPUs other than its IRQ\'s');
      }
      assert.deepEqual(agent.failed(), []);
    } finally {
      if (fs.readFileSync(CPU1, 'utf8').trim() !== '1') fs.writeFileSync(CPU1, '1');
      await agent.stop();
    }
    assert.equal(fs.readFileSync(CPU1, 'utf8').trim(), '1');
  });

  async function cycleUnbindable(t: TestContext, agent: Agent): Promise<PassInfo> {
    const isDev = (action: 'bind' | 'unbind') => (e: AgentEvent) => e.kind === 'driver' && e.device === DEV && e.action === action;
    const e0 = agent.events.length;
    fs.writeFileSync(`${RNG}/unbind`, DEV);
    await agent.passFor(`${DEV} unbind`, isDev('unbind'), e0);
    const e1 = agent.events.length;
    fs.writeFileSync(`${RNG}/bind`, DEV);
    const p = await agent.passFor(`${DEV} bind`, isDev('bind'), e1);
    // The trigger names the bind unless a crowd of other events filled the text first.
    if (!p.trigger.includes(DEV)) t.diagnostic(`bind pass trigger: ${p.trigger}`);
    return p;
  }

  it('unbind/bind of a virtio_rng device: a pass runs; the default policy leaves its IRQs alone', async (t) => {
    if (!needRoot(t)) return;
    if (!fs.existsSync(`${RNG}/${DEV}`)) return t.skip('no device of an unbindable driver (virtio_rng) on this machine');
    const agent = new Agent(config('rng-default'));
    try {
      await agent.pass('first pass', () => true);
      const bound = await cycleUnbindable(t, agent);
      assert.equal(bound.failed, 0);
      const input = await until(`${DEV}-input IRQ`, () => irqOf(`${DEV}-input`));
      assert.ok(!agent.records.some((r) => r.v.irq === input && r.v.kind !== 'plan-summary'), `no record touches the ${DEV} IRQ`);
      assert.deepEqual(agent.failed(), []);
    } finally {
      if (!fs.existsSync(`${RNG}/${DEV}`)) fs.writeFileSync(`${RNG}/bind`, DEV);
      await agent.stop();
    }
  });

  it('unbind/bind of a virtio_rng device with [irq:rng] pin = 1: the new IRQ gets mask 1', async (t) => {
    if (!needRoot(t)) return;
    if (!fs.existsSync(`${RNG}/${DEV}`)) return t.skip('no device of an unbindable driver (virtio_rng) on this machine');
    if (!onlineCpus().includes(1)) return t.skip('cpu1 is offline');
    const agent = new Agent(config('rng-pin', `\n[irq:rng]\nmatch-irq = ${DEV}-*\nstrategy = pin\npin = 1\n`));
    try {
      await agent.pass('first pass', () => true);
      const r0 = agent.records.length;
      const bound = await cycleUnbindable(t, agent);
      assert.equal(bound.failed, 0);
      const input = await until(`${DEV}-input IRQ`, () => irqOf(`${DEV}-input`));
      await until(`irq ${input} (${DEV}-input) mask 1`, () => readMask(input) === '1');
      assert.ok(
        agent.records.slice(r0).some((r) => r.v.kind === 'applied' && r.v.irq === input && r.v.new === '1'),
        'an applied record for the new IRQ after the rebind',
      );
      assert.deepEqual(agent.failed(), []);
    } finally {
      if (!fs.existsSync(`${RNG}/${DEV}`)) fs.writeFileSync(`${RNG}/bind`, DEV);
      await agent.stop();
      // Put the device's masks back now (by name: the rebind may have changed the numbers).
      if (saved) await restoreState({ masks: new Map([...saved.masks].filter(([n]) => n.startsWith(`${DEV}-`))), eth0Rps: null });
    }
  });

  it('a uevent forged from a userspace netlink socket triggers no pass', async (t) => {
    if (!needRoot(t)) return;
    const agent = new Agent(config('forged'));
    const sender = new RawNetlinkSocket(Protocol.KOBJECT_UEVENT);
    sender.on('error', () => undefined);
    try {
      await agent.pass('first pass', () => true);
      const before = ueventStats().droppedSender;
      const dp = '/devices/system/cpu/cpu4093';
      const forged = Buffer.from(`add@${dp}\0ACTION=add\0DEVPATH=${dp}\0SUBSYSTEM=cpu\0SEQNUM=1\0`, 'utf8');
      await new Promise<void>((resolve, reject) => sender.send(forged, { port: 0, groups: 1 }, (err) => (err ? reject(err) : resolve())));
      await until('the forged uevent to be dropped', () => ueventStats().droppedSender > before);
      // Longer than settle + maxWait + a pass: a wrongly accepted event would have run by now.
      await sleep(500);
      // By event, not by trigger text (which names only a batch's first events).
      assert.deepEqual(agent.events.filter((e) => describeEvent(e.v).includes('cpu4093')).map((e) => describeEvent(e.v)), []);
    } finally {
      sender.close();
      await agent.stop();
    }
  });

  it('SIGHUP with an invalid policy keeps the old one (policy-rejected); passes go on', async (t) => {
    if (!needRoot(t)) return;
    const file = config('reload');
    const good = fs.readFileSync(file, 'utf8');
    const agent = new Agent(file);
    try {
      await agent.pass('first pass', () => true);
      fs.writeFileSync(file, `${good}\n[cpus]\ncpus = banana\n`);
      const isReload = (e: AgentEvent) => e.kind === 'reload';
      const e0 = agent.events.length;
      process.kill(process.pid, 'SIGHUP');
      await agent.passFor('reload', isReload, e0);
      const rejected = agent.records.find((r) => r.v.kind === 'policy-rejected');
      assert.ok(rejected, 'policy-rejected record');
      assert.match(rejected.v.message, /keeping the previous policy/);
      assert.match(rejected.v.message, /reload\.ini:\d+/, 'names file:line');

      // The old policy still rules: [net:renamed] (rps = off) puts back a mask we set by hand.
      // By event, not by trigger text: with leading-edge passes the link's `up` can land in a
      // batch whose text names only its first events (seen in CI: "rx-0 add, … (+5 more)").
      const e1 = agent.events.length;
      await run('ip', 'link', 'add', RENAMED, 'type', 'veth', 'peer', 'name', PEER, 'netns', NS);
      await agent.passFor(`${RENAMED} add`, (e) => describeEvent(e).startsWith(`${RENAMED} `), e1);
      fs.writeFileSync(rpsFile(RENAMED), '3');
      const e2 = agent.events.length;
      await run('ip', 'link', 'set', RENAMED, 'up');
      await agent.passFor(`${RENAMED} up`, (e) => describeEvent(e) === `${RENAMED} up`, e2);
      await until(`${RENAMED} rps back to 0 under the old policy`, () => readRps(RENAMED) === 0);

      // A good file again: reloaded.
      fs.writeFileSync(file, good);
      const e3 = agent.events.length;
      process.kill(process.pid, 'SIGHUP');
      await agent.passFor('second reload', isReload, e3);
      assert.ok(agent.records.some((r) => r.v.kind === 'policy-loaded' && r.v.message.includes('reloaded')));
      assert.deepEqual(agent.failed(), []);
    } finally {
      await agent.stop();
      await tryRun('ip', 'link', 'del', RENAMED);
    }
  });

  it('a flood of 100k injected events: bounded passes, a reload inside it is honoured, still responsive', async (t) => {
    if (!needRoot(t)) return;
    const events = new Subject<AgentEvent>();
    const agent = new Agent(config('flood-fake'), events);
    try {
      await agent.pass('first pass', () => true);
      const n0 = agent.passes.length;
      const t0 = process.hrtime.bigint();
      const N = 100_000;
      // 1000 events per macrotask for 100 macrotasks, a reload in the middle (event 50 017,
      // far beyond the events a batch keeps).
      for (let i = 0; i < N / 1000; i++) {
        for (let j = 0; j < 1000; j++) {
          const k = i * 1000 + j;
          events.next(k === 50_017 ? { kind: 'reload', reason: 'test' } : { kind: 'link', type: 'new', ifindex: 100_000 + (k % 500), ifname: `fake${k % 500}`, up: k % 2 === 0, running: false });
        }
        await new Promise((r) => setImmediate(r));
      }
      const floodMs = msSince(t0);
      await sleep(300);
      const during = agent.passes.slice(n0);
      const total = during.reduce((n, p) => n + p.events, 0);
      t.diagnostic(`100k events in ${floodMs.toFixed(0)} ms → ${during.length} passes`);
      assert.equal(total, N, 'every event counted by some pass');
      // At most one coalesced pass per maxWait and, when the flood pauses for settle ms
      // (a loaded machine, a long pass), at most one leading pass per coalesced one.
      const maxWaitMs = 20 * MAX_WAIT_SETTLES;
      assert.ok(during.length <= 2 * Math.ceil(floodMs / maxWaitMs) + 3, `${during.length} passes for a ${floodMs.toFixed(0)} ms flood`);
      assert.ok(agent.records.some((r) => r.v.kind === 'policy-loaded' && r.v.message.includes('reloaded')), 'reload inside the flood honoured');

      const n1 = agent.passes.length;
      events.next({ kind: 'resync', reason: 'after the flood' });
      await agent.pass('pass after the flood', (p) => p.trigger.includes('after the flood'), n1);
      assert.deepEqual(agent.failed(), []);
    } finally {
      await agent.stop();
    }
  });

  it('a real flood: 250 veth pairs added and deleted at once → bounded passes, still responsive', async (t) => {
    if (!needRoot(t)) return;
    if (onlineCpus().length < 2) return t.skip('needs 2 online CPUs for rps auto = on');
    const agent = new Agent(config('flood-veth'));
    const batch = path.join(tmp, 'flood.batch');
    const names = Array.from({ length: 250 }, (_, i) => `${FLOOD}${i}`);
    try {
      await agent.pass('first pass', () => true);
      const n0 = agent.passes.length;
      fs.writeFileSync(
        batch,
        names.map((n, i) => `link add ${n} type veth peer name ${FLOOD}p${i} netns ${NS}`).join('\n') + '\n' + names.map((n) => `link del ${n}`).join('\n') + '\n',
      );
      const t0 = process.hrtime.bigint();
      await run('ip', '-batch', batch);
      const ipMs = msSince(t0);
      // Let the agent drain what the kernel queued.
      let last = -1;
      await until('the agent to go quiet', () => {
        const quiet = agent.passes.length === last;
        last = agent.passes.length;
        return quiet;
      }, 30_000).catch(() => undefined);
      await sleep(300);
      const during = agent.passes.slice(n0);
      const spanMs = during.length > 0 ? msSince(t0, during[during.length - 1]!.endedAt) : 0;
      const events = during.reduce((n, p) => n + p.events, 0);
      t.diagnostic(`ip -batch (500 link add/del) ${ipMs.toFixed(0)} ms; ${events} events → ${during.length} passes over ${spanMs.toFixed(0)} ms`);
      assert.ok(during.length >= 1);
      // The kernel spreads the flood over seconds, in clumps that can be more than settle
      // (20 ms) apart, so the bound is one pass per settle window, not per maxWait.
      assert.ok(during.length <= Math.ceil(spanMs / 20) + 3, `${during.length} passes in ${spanMs.toFixed(0)} ms`);
      assert.ok(during.length < events / 10, `${during.length} passes for ${events} events`);
      assert.deepEqual(agent.failed(), []);

      // Still responsive: a new veth gets its RPS.
      await run('ip', 'link', 'add', HOST, 'type', 'veth', 'peer', 'name', PEER, 'netns', NS);
      await until(`${HOST} rx-0 rps_cpus = 3 after the flood`, () => readRps(HOST) === 3);
    } finally {
      await agent.stop();
      await tryRun('ip', 'link', 'del', HOST);
      for (const n of names) if (fs.existsSync(`/sys/class/net/${n}`)) await tryRun('ip', 'link', 'del', n);
    }
  });
});
