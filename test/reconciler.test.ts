// Reconciler — what lives between passes: the state file (when a pass saves it, what it does
// when it cannot), a state file it cannot use, a reloaded policy, the last snapshot a CPU
// event's pass refreshes, the drift check's snapshot and the topology cache (forgotten on
// CPU hotplug). The preview == pass property is in reconciler-property.test.ts. Fixture
// trees only.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Reconciler, stateFileOf } from '../src/reconcile/reconciler.js';
import { defaultPolicy, parsePolicy } from '../src/policy/policy.js';
import { buildFixture, presets, removeFixture } from '../fixture/fixture.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) removeFixture(r);
});

const NOW = new Date('2026-12-01T12:00:00.000Z');

function tree(): string {
  const root = buildFixture(presets.vm2());
  roots.push(root);
  return root;
}

const saved = (file: string): { appliedAt: string; trigger: string; targets: Record<string, string> } | null => (fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : null);

test('the state file is saved when a pass changed something, with save = always, and never by a dry run', async () => {
  const root = tree();
  const policy = defaultPolicy();
  const file = stateFileOf(root, policy);

  const dry = await new Reconciler({ root, policy, now: () => NOW }).pass('dry', { dryRun: true });
  assert.ok(dry.report.changes.length > 0);
  assert.equal(saved(file), null, 'a dry run saves nothing');

  const r = new Reconciler({ root, policy, now: () => NOW });
  const first = await r.pass('first');
  assert.equal(first.saveError, null);
  assert.deepEqual([saved(file)?.trigger, saved(file)?.appliedAt], ['first', NOW.toISOString()]);
  assert.equal(r.state.trigger, 'first');

  // Balanced now: a pass with nothing to write leaves the file alone…
  fs.rmSync(file);
  assert.deepEqual((await r.pass('idle')).report.changes, []);
  assert.equal(saved(file), null, 'nothing changed: not saved');
  // …unless asked to save always (the periodic resync), and a dry run still never does.
  await r.pass('dry again', { dryRun: true, save: 'always' });
  assert.equal(saved(file), null);
  await r.pass('resync', { save: 'always' });
  assert.equal(saved(file)?.trigger, 'resync');
});

test('a pass that writes nothing but drops what is gone (a removed NIC\'s targets) saves the state', async () => {
  const root = tree();
  const policy = defaultPolicy();
  const file = stateFileOf(root, policy);
  await new Reconciler({ root, policy, now: () => NOW }).pass('first');
  const state = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.writeFileSync(file, JSON.stringify({ ...state, targets: { ...state.targets, 'net/gone0/rx-0/rps': '0-1' } }));
  const r = new Reconciler({ root, policy, now: () => NOW });
  assert.equal(r.state.targets['net/gone0/rx-0/rps'], '0-1');
  assert.deepEqual((await r.pass('later')).report.changes, [], 'nothing to write');
  assert.deepEqual(saved(file)?.targets, state.targets, 'the vanished target left the state file');
});

test('a state file that cannot be written: the pass is done and says why (errno code)', async () => {
  const root = tree();
  const policy = defaultPolicy();
  const file = stateFileOf(root, policy);
  fs.mkdirSync(file, { recursive: true }); // a directory where the file should be
  const result = await new Reconciler({ root, policy, now: () => NOW }).pass('first');
  assert.ok(result.report.changes.every((c) => c.outcome === 'applied'));
  assert.equal(result.saveError, 'ENOTREG');
});

test('a state file that cannot be used is ignored and said so; an absent one is no problem', () => {
  const root = tree();
  const policy = defaultPolicy();
  const file = stateFileOf(root, policy);
  assert.equal(new Reconciler({ root, policy }).stateProblem, null);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '{"version": 1, "targets": ');
  const r = new Reconciler({ root, policy });
  assert.match(r.stateProblem ?? '', /not JSON/);
  assert.deepEqual(r.state.targets, {});
});

test('a reloaded policy is the one the next preview and pass plan with', async () => {
  const root = tree();
  const r = new Reconciler({ root, policy: defaultPolicy(), now: () => NOW });
  assert.deepEqual((await r.preview()).plan.allowedCpus, [0, 1]);
  const narrow = parsePolicy('[cpus]\nexclude-cpus = 1', 'reload.ini');
  r.setPolicy(narrow);
  assert.equal(r.policy, narrow);
  assert.deepEqual((await r.preview()).plan.allowedCpus, [0]);
  assert.deepEqual((await r.pass('reload', { dryRun: true })).plan.allowedCpus, [0]);
});

/** Renames IRQ `irq`'s action: only a pass that reads the IRQs again sees it. */
function rename(root: string, irq: number, name: string): void {
  fs.writeFileSync(path.join(root, `sys/kernel/irq/${irq}/actions`), `${name}\n`);
}
const nameOf = (r: { snapshot: { irqs: { irq: number; name: string }[] } }, irq: number): string | undefined => r.snapshot.irqs.find((i) => i.irq === irq)?.name;

test('a CPU event\'s pass refreshes the last pass\'s snapshot; after a dry run there is none to refresh', async () => {
  const root = tree();
  const r = new Reconciler({ root, policy: defaultPolicy(), now: () => NOW });
  const first = await r.pass('first');
  const irq = first.snapshot.irqs.find((i) => i.affinity !== null)!;
  rename(root, irq.irq, 'renamed-a');
  // The refresh re-reads CPU sets and masks, not names: the old name is kept.
  assert.equal(nameOf(await r.pass('cpu1 offline', { refresh: true }), irq.irq), irq.name);
  // A pass without refresh reads everything.
  assert.equal(nameOf(await r.pass('resync'), irq.irq), 'renamed-a');
  // A dry run leaves no snapshot behind: the next CPU event's pass reads everything.
  rename(root, irq.irq, 'renamed-b');
  await r.pass('dry', { dryRun: true });
  rename(root, irq.irq, 'renamed-c');
  assert.equal(nameOf(await r.pass('cpu1 online', { refresh: true }), irq.irq), 'renamed-c');
});

test('CPU hotplug forgets the drift check\'s snapshot and the cached topology', async () => {
  const root = tree();
  const r = new Reconciler({ root, policy: defaultPolicy(), now: () => NOW, cacheTopology: true });
  const first = await r.pass('first');
  const irq = first.snapshot.irqs.find((i) => i.affinity !== null)!;
  const coreFile = path.join(root, 'sys/devices/system/cpu/cpu1/topology/core_id');
  const core1 = first.snapshot.topology.cpus.find((c) => c.cpu === 1)!.core;
  fs.writeFileSync(coreFile, `${core1 + 7}\n`);
  // Cached: a pass does not read the static topology again…
  assert.equal((await r.pass('next')).snapshot.topology.cpus.find((c) => c.cpu === 1)!.core, core1);
  r.drift();
  rename(root, irq.irq, 'renamed-after-drift');
  r.forgetTopology();
  // …until a CPU was added or removed; and the drift check's snapshot is not reused either.
  const after = await r.pass('cpu2 add', { dryRun: true });
  assert.equal(after.snapshot.topology.cpus.find((c) => c.cpu === 1)!.core, core1 + 7);
  assert.equal(nameOf(after, irq.irq), 'renamed-after-drift');
});

test('without a topology cache, forgetTopology() still forgets the drift check\'s snapshot', async () => {
  const root = tree();
  const r = new Reconciler({ root, policy: defaultPolicy(), now: () => NOW });
  const irq = (await r.preview()).snapshot.irqs.find((i) => i.affinity !== null)!;
  r.drift();
  rename(root, irq.irq, 'renamed-after-drift');
  r.forgetTopology();
  assert.equal(nameOf(await r.pass('cpu2 add', { dryRun: true }), irq.irq), 'renamed-after-drift');
});

test('the drift check reads as a pass does: its snapshot is the start pass\'s, and it fills the topology cache', async () => {
  const root = tree();
  const r = new Reconciler({ root, policy: defaultPolicy(), now: () => NOW, cacheTopology: true });
  r.drift();
  const start = await r.pass('start', { dryRun: true });
  // The start pass planned from the drift check's snapshot: what a pass of its own would have read.
  const own = await new Reconciler({ root, policy: defaultPolicy(), now: () => NOW }).pass('own', { dryRun: true });
  assert.deepEqual(start.snapshot, own.snapshot);
  // The topology the drift check read is the one cached for the passes after it.
  const core1 = start.snapshot.topology.cpus.find((c) => c.cpu === 1)!.core;
  fs.writeFileSync(path.join(root, 'sys/devices/system/cpu/cpu1/topology/core_id'), `${core1 + 7}\n`);
  assert.equal((await r.pass('next', { dryRun: true })).snapshot.topology.cpus.find((c) => c.cpu === 1)!.core, core1);
});

test('a preview reads the tree as a pass does: the same snapshot, the same plan', async () => {
  const root = tree();
  const r = new Reconciler({ root, policy: defaultPolicy(), now: () => NOW });
  const preview = await r.preview();
  const pass = await r.pass('dry', { dryRun: true });
  assert.deepEqual(preview.snapshot, pass.snapshot);
  assert.deepEqual(preview.plan, pass.plan);
});

test('a pass whose only write failed again still saves the state (a failure is news, even with the same targets)', async () => {
  const root = tree();
  const policy = defaultPolicy();
  const file = stateFileOf(root, policy);
  let failing = '';
  // ENOSPC: the target CPU is out of interrupt vectors; the write fails, nothing is refused for good.
  const apply = {
    writeFile: (f: string, value: string): void => {
      if (f.endsWith(`${failing}/smp_affinity_list`)) throw Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' });
      fs.writeFileSync(f, value);
    },
  };
  const irq = (await new Reconciler({ root, policy, now: () => NOW }).preview()).plan.irqs.find((i) => i.desired !== null && i.current !== null && i.desired.join() !== i.current.join())!;
  failing = `/proc/irq/${irq.irq}`;
  const r = new Reconciler({ root, policy, now: () => NOW, apply });
  const first = await r.pass('first');
  assert.equal(first.report.changes.find((c) => c.write.irq === irq.irq)?.outcome, 'failed');
  const before = r.state;
  fs.rmSync(file);
  const second = await r.pass('second');
  assert.deepEqual(second.report.changes.map((c) => [c.write.irq, c.outcome]), [[irq.irq, 'failed']], 'only the failing write is tried again');
  assert.deepEqual([second.saveError, r.state.targets, r.state.assignment], [null, before.targets, before.assignment], 'nothing else changed');
  assert.equal(saved(file)?.trigger, 'second');
});

test('a pass that only puts back a mask moved behind its back saves the state; its phases include the save', async () => {
  const root = tree();
  const policy = defaultPolicy();
  const file = stateFileOf(root, policy);
  const r = new Reconciler({ root, policy, now: () => NOW });
  const w = (await r.pass('first')).report.changes.find((c) => c.write.kind === 'irq')!.write;
  fs.writeFileSync(path.join(root, `proc/irq/${w.irq}/smp_affinity_list`), `${w.old}\n`);
  const t0 = process.hrtime.bigint();
  const again = await r.pass('drift');
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.deepEqual(again.report.changes.map((c) => c.write.target), [w.target]);
  assert.equal(saved(file)?.trigger, 'drift', 'the same targets, but a write: saved');
  assert.ok(again.phases.save > 0 && again.phases.snapshot > 0, JSON.stringify(again.phases));
  assert.ok(Object.values(again.phases).reduce((a, b) => a + b, 0) <= wall, 'the phases fit in the pass');
});

test('a pass refused for permission saves nothing', async () => {
  const root = tree();
  const policy = defaultPolicy();
  const denied = { writeFile: (): void => { throw Object.assign(new Error('EACCES'), { code: 'EACCES' }); } };
  const result = await new Reconciler({ root, policy, now: () => NOW, apply: denied }).pass('first');
  assert.notEqual(result.report.permissionError, null);
  assert.equal(saved(stateFileOf(root, policy)), null);
});
