// `affinityd apply` on this machine's real /proc/irq (root, real kernel): writes, verifies,
// skips a kernel-managed (blk-mq) IRQ that refuses writes, remembers it, restores after.
// The NIC, its queue IRQs and the managed IRQ are found in /proc and /sys (helpers/live.ts).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { applyWrites } from '../src/applier/applier.js';
import type { Write } from '../src/applier/diff.js';
import { irqByName, managedIrq, queueNic } from './helpers/live.js';
import { EXECUTABLE } from '../src/cli/executable.js';

const CLI = EXECUTABLE;
const SHIPPED = fileURLToPath(new URL('../../etc/affinityd.ini', import.meta.url));
const isRoot = process.getuid?.() === 0;

const NIC = queueNic();
const ONLINE = fs.readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();

/** Put the NIC's queue IRQs back to the kernel's reset mask (all online CPUs). */
function resetQueueMasks(): void {
  for (const { name } of NIC?.irqs ?? []) {
    const irq = irqByName(name);
    if (irq !== null) fs.writeFileSync(`/proc/irq/${irq}/smp_affinity_list`, ONLINE);
  }
}

function saveMasks(): Map<string, string> {
  const saved = new Map<string, string>();
  for (const n of fs.readdirSync('/proc/irq')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      saved.set(`/proc/irq/${n}/smp_affinity_list`, fs.readFileSync(`/proc/irq/${n}/smp_affinity_list`, 'utf8').trim());
    } catch {
      // vanished
    }
  }
  for (const q of NIC ? fs.readdirSync(`/sys/class/net/${NIC.name}/queues`) : []) {
    const f = q.startsWith('rx') ? 'rps_cpus' : 'xps_cpus';
    const p = `/sys/class/net/${NIC!.name}/queues/${q}/${f}`;
    try {
      saved.set(p, fs.readFileSync(p, 'utf8').trim());
    } catch {
      // single-queue devices answer ENOENT when xps_cpus is read
    }
  }
  return saved;
}

function restore(saved: Map<string, string>): void {
  for (const [p, v] of saved) {
    try {
      if (fs.readFileSync(p, 'utf8').trim() !== v) fs.writeFileSync(p, v);
    } catch {
      // kernel-managed or vanished: nothing we changed
    }
  }
}

describe('apply on the real kernel', { concurrency: false }, () => {
  let dir = '';
  let saved = new Map<string, string>();
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-apply-'));
    if (isRoot) saved = saveMasks();
  });
  after(() => {
    if (isRoot) restore(saved);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('applies the plan, skips the kernel-managed IRQ (EPERM/EIO) and remembers it', (t) => {
    if (!isRoot) return t.skip('needs root to write /proc/irq');
    if (!NIC) return t.skip('no NIC with queue IRQs on this machine');
    const managed0 = managedIrq();
    if (managed0 === null) return t.skip('no kernel-managed (blk-mq) IRQ on this machine');
    const blk = managed0.irq;
    const state = path.join(dir, 'state.json');
    const config = path.join(dir, 'affinityd.ini');
    // Force a plan for the managed IRQ too, so the applier meets the kernel's EPERM.
    fs.writeFileSync(config, `${fs.readFileSync(SHIPPED, 'utf8')}\n[irq:blk]\nmatch-irq = ${managed0.name}\nstrategy = pin\npin = 1\n`.replace(/^state-file = .*$/m, `state-file = ${state}`));
    // Start from the kernel's reset state so there is something to change.
    resetQueueMasks();
    const r = spawnSync(process.execPath, [CLI, 'apply', '--config', config, '--json'], { encoding: 'utf8', env: { ...process.env, NOTIFY_SOCKET: '' } });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { plan: { irqs: { irq: number; desired: string | null; interface: string | null }[] }; changes: { target: string; outcome: string; error: string | null }[] };
    const managed = out.changes.find((c) => c.target === `irq/${blk}`);
    assert.equal(managed?.outcome, 'skipped-managed');
    assert.match(managed?.error ?? '', /^(EPERM|EIO)$/);
    // Every NIC queue IRQ now reads back what the plan wanted.
    const queues = out.plan.irqs.filter((i) => i.interface === NIC.name && i.desired !== null);
    assert.equal(queues.length, NIC.irqs.length, `${NIC.name}'s queue IRQs are in the plan`);
    for (const q of queues) assert.equal(fs.readFileSync(`/proc/irq/${q.irq}/smp_affinity_list`, 'utf8').trim(), q.desired);
    assert.ok(out.changes.some((c) => c.outcome === 'applied'));
    // The refusal is remembered: a second apply neither retries it nor changes anything.
    const stateJson = JSON.parse(fs.readFileSync(state, 'utf8')) as { managed: Record<string, string> };
    assert.equal(stateJson.managed[String(blk)], managed0.name);
    const again = spawnSync(process.execPath, [CLI, 'apply', '--config', config, '--json'], { encoding: 'utf8' });
    assert.equal(again.status, 0, again.stderr);
    const out2 = JSON.parse(again.stdout) as { changes: unknown[]; plan: { irqs: { irq: number; reason: string }[] } };
    assert.deepEqual(out2.changes, [], 'second apply writes nothing');
    assert.match(out2.plan.irqs.find((i) => i.irq === blk)!.reason, /kernel-managed/);
  });

  it('a CPU that went offline between plan and write asks for a re-plan (EINVAL)', (t) => {
    if (!isRoot) return t.skip('needs root for CPU hotplug');
    const cpu1 = '/sys/devices/system/cpu/cpu1/online';
    if (!fs.existsSync(cpu1)) return t.skip('cpu1 cannot be hot-unplugged here');
    const irq = NIC?.irqs[0]?.irq;
    if (irq === undefined) return t.skip('no NIC queue IRQ on this machine');
    const w: Write = { kind: 'irq', target: `irq/${irq}`, path: `/proc/irq/${irq}/smp_affinity_list`, value: '1', old: '0-1', new: '1', cpus: [1], irq, policy: null, reason: 'test' };
    try {
      fs.writeFileSync(cpu1, '0');
      const r = applyWrites([w]);
      assert.equal(r.changes[0]!.outcome, 'needs-replan');
      assert.equal(r.changes[0]!.error, 'EINVAL');
      assert.equal(r.needsReplan, true);
    } finally {
      fs.writeFileSync(cpu1, '1');
    }
    assert.equal(fs.readFileSync('/sys/devices/system/cpu/online', 'utf8').trim(), ONLINE);
  });

  it('as a non-root user: plan works, apply exits 77 with one line and writes nothing', (t) => {
    if (!isRoot) return t.skip('needs root to switch to the nobody user');
    const before = saveMasks();
    // dist/ must be readable by nobody: the checkout is usually world-readable.
    const plan = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'plan', '--json'], { encoding: 'utf8', cwd: '/' });
    if (plan.error) return t.skip(`setpriv unavailable: ${plan.error.message}`);
    assert.equal(plan.status, 0, plan.stderr);
    assert.ok((JSON.parse(plan.stdout) as { irqs: unknown[] }).irqs.length > 0);
    resetQueueMasks();
    const mid = saveMasks();
    const apply = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'apply', '--config', SHIPPED], { encoding: 'utf8', cwd: '/' });
    assert.equal(apply.status, 77, apply.stdout + apply.stderr);
    const errLines = apply.stderr.trim().split('\n').filter((l) => l.startsWith('affinityd:'));
    assert.equal(errLines.length, 1, apply.stderr);
    assert.match(errLines[0]!, /permission denied/);
    assert.doesNotMatch(apply.stderr, /at .*\.js:\d+/, 'no stack trace');
    assert.deepEqual(saveMasks(), mid, 'nothing written');
    // The agent as non-root fails fast the same way instead of running without effect.
    const agent = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'run', '--config', SHIPPED], { encoding: 'utf8', cwd: '/', timeout: 20_000 });
    assert.equal(agent.status, 77, agent.stderr);
    assert.match(agent.stderr, /^affinityd: .*permission denied/m);
    assert.deepEqual(saveMasks(), mid, 'nothing written by the agent either');
    restore(before);
  });

  it('applier: a vanished IRQ is skipped (ENOENT), never created', () => {
    const w: Write = { kind: 'irq', target: 'irq/99999', path: '/proc/irq/99999/smp_affinity_list', value: '0', old: '0-1', new: '0', cpus: [0], irq: 99999, policy: null, reason: 'test' };
    const r = applyWrites([w], { root: dir });
    assert.equal(r.changes[0]!.outcome, 'skipped-vanished');
    assert.equal(fs.existsSync(path.join(dir, 'proc/irq/99999/smp_affinity_list')), false);
    const dry = applyWrites([w], { root: dir, dryRun: true });
    assert.equal(dry.changes[0]!.outcome, 'dry-run');
  });
});

