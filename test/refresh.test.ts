// snapshot/refresh on generated fixture trees: after anything a CPU online/offline can change
// (the online set, IRQ masks, RPS/XPS masks), the refreshed snapshot equals a full one; when
// the previous picture no longer holds (an IRQ or a queue vanished) it gives up (null).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { buildFixture, kernelList, kernelMask, presets, removeFixture } from '../fixture/fixture.js';
import { takeSnapshot } from '../src/snapshot/snapshot.js';
import { refreshAfterCpuChange, refreshTargets } from '../src/snapshot/refresh.js';
import { runs } from './helpers/runs.js';
import { parseCpuList } from '../src/cpumask/cpumask.js';

const takeList = (text: string): number[] => parseCpuList(text.trim());
import { reconcile } from '../src/reconcile/reconcile.js';
import { defaultPolicy } from '../src/policy/policy.js';
import { emptyState } from '../src/state/state.js';
import { Reconciler } from '../src/reconcile/reconciler.js';
import type { Plan } from '../src/types.js';
import * as os from 'node:os';

const CPUS = 32; // presets.server2s

describe('refreshAfterCpuChange', () => {
  it('property: after CPU, IRQ-mask and RPS/XPS-mask changes it equals a full snapshot', () => {
    const root = buildFixture(presets.server2s());
    try {
      const base = takeSnapshot(root);
      const irqs = base.irqs.filter((i) => i.affinity !== null).map((i) => i.irq);
      const rxFiles = base.nics.flatMap((n) => n.rx.map((r) => `/sys/class/net/${n.name}/queues/rx-${r.index}/rps_cpus`));
      const txFiles = base.nics.flatMap((n) => n.tx.filter((t) => t.xpsCpus !== null).map((t) => `/sys/class/net/${n.name}/queues/tx-${t.index}/xps_cpus`));
      const cpuSet = fc.uniqueArray(fc.integer({ min: 0, max: CPUS - 1 }), { minLength: 1, maxLength: 8 });
      fc.assert(
        fc.property(
          fc.uniqueArray(fc.integer({ min: 1, max: CPUS - 1 }), { maxLength: 6 }),
          fc.array(fc.tuple(fc.constantFrom(...irqs), cpuSet, fc.integer({ min: 0, max: CPUS - 1 })), { maxLength: 10 }),
          fc.array(fc.tuple(fc.constantFrom(...rxFiles, ...txFiles), cpuSet), { maxLength: 10 }),
          (offline, irqMasks, queueMasks) => {
            const at = (p: string) => path.join(root, p);
            const online = Array.from({ length: CPUS }, (_, c) => c).filter((c) => !offline.includes(c));
            fs.writeFileSync(at('/sys/devices/system/cpu/online'), `${kernelList(online)}\n`);
            for (let c = 1; c < CPUS; c++) fs.writeFileSync(at(`/sys/devices/system/cpu/cpu${c}/online`), offline.includes(c) ? '0\n' : '1\n');
            for (const [irq, cpus, eff] of irqMasks) {
              fs.writeFileSync(at(`/proc/irq/${irq}/smp_affinity_list`), `${kernelList(cpus)}\n`);
              fs.writeFileSync(at(`/proc/irq/${irq}/effective_affinity_list`), `${eff}\n`);
            }
            for (const [file, cpus] of queueMasks) fs.writeFileSync(at(file), `${kernelMask(cpus, CPUS)}\n`);
            const refreshed = refreshAfterCpuChange(base);
            assert.ok(refreshed, 'nothing vanished: no fallback');
            assert.deepEqual(refreshed, takeSnapshot(root));
          },
        ),
        { numRuns: runs(40) },
      );
    } finally {
      removeFixture(root);
    }
  });

  it('after CPUs are hot-added (new cpuN directories, present and node lists grow) it equals a full snapshot', () => {
    // The agent refreshes after a CPU add too (its topology cache dropped): what an add
    // changes is CPU topology only, which the refresh re-reads whole.
    const root = buildFixture(presets.server2s());
    const saved = new Map<string, string>();
    const at = (p: string) => path.join(root, p);
    try {
      const added = [24, 25, 30, 31];
      const hide = (p: string) => {
        for (const f of fs.readdirSync(at(p), { recursive: true, withFileTypes: true })) {
          if (f.isFile()) saved.set(path.join(f.parentPath, f.name), fs.readFileSync(path.join(f.parentPath, f.name), 'utf8'));
        }
        fs.rmSync(at(p), { recursive: true });
      };
      const rewrite = (p: string, drop: number[]) => {
        saved.set(at(p), fs.readFileSync(at(p), 'utf8'));
        const cpus = takeList(fs.readFileSync(at(p), 'utf8')).filter((c) => !drop.includes(c));
        fs.writeFileSync(at(p), `${kernelList(cpus)}\n`);
      };
      for (const c of added) hide(`/sys/devices/system/cpu/cpu${c}`);
      for (const f of ['present', 'online']) rewrite(`/sys/devices/system/cpu/${f}`, added);
      for (const n of fs.readdirSync(at('/sys/devices/system/node')).filter((d) => /^node\d+$/.test(d))) rewrite(`/sys/devices/system/node/${n}/cpulist`, added);
      const base = takeSnapshot(root);
      assert.ok(!base.topology.present.includes(24));
      for (const [file, text] of saved) {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text);
      }
      const refreshed = refreshAfterCpuChange(base);
      assert.ok(refreshed, 'nothing vanished: no fallback');
      const full = takeSnapshot(root);
      assert.ok(full.topology.present.includes(24));
      assert.deepEqual(refreshed, full);
    } finally {
      removeFixture(root);
    }
  });

  it('a vanished IRQ or queue: null (the caller takes a full snapshot)', () => {
    const root = buildFixture(presets.server2s());
    try {
      const base = takeSnapshot(root);
      const nic = base.nics[0]!;
      fs.rmSync(path.join(root, `/sys/class/net/${nic.name}/queues/rx-${nic.rx.at(-1)!.index}`), { recursive: true });
      assert.equal(refreshAfterCpuChange(base), null);
      const irq = base.irqs.find((i) => i.affinity !== null)!;
      fs.rmSync(path.join(root, `/proc/irq/${irq.irq}`), { recursive: true });
      assert.equal(refreshAfterCpuChange(base), null);
    } finally {
      removeFixture(root);
    }
  });

  it('reconcile from a refreshed snapshot writes what a full pass writes, and reads it back', () => {
    const root = buildFixture(presets.server2s());
    try {
      const policy = defaultPolicy();
      const first = reconcile({ root, policy, state: emptyState(), trigger: 'test' });
      assert.ok(first.report.changes.some((c) => c.outcome === 'applied'));
      // cpu5 goes offline: its online files change, then the masks are planned again.
      fs.writeFileSync(path.join(root, '/sys/devices/system/cpu/online'), `${kernelList([...Array(CPUS).keys()].filter((c) => c !== 5))}\n`);
      fs.writeFileSync(path.join(root, '/sys/devices/system/cpu/cpu5/online'), '0\n');
      const dry = reconcile({ root, policy, state: first.state, trigger: 'full', dryRun: true });
      const fast = reconcile({ root, policy, state: first.state, trigger: 'refresh', refreshFrom: first.snapshot });
      const targets = (r: typeof dry) => r.report.changes.map((c) => `${c.write.target}=${c.write.new}`).sort();
      assert.ok(targets(dry).length > 0, 'cpu5 leaving changes some masks');
      assert.deepEqual(targets(fast), targets(dry));
      assert.ok(fast.report.changes.every((c) => c.outcome === 'applied'), 'every write verified by reading it back');
      // Nothing left to do: a full pass afterwards plans no write.
      assert.deepEqual(reconcile({ root, policy, state: fast.state, trigger: 'after', dryRun: true }).report.changes, []);
    } finally {
      removeFixture(root);
    }
  });

  it('refreshTargets re-reads the CPU sets and the named targets only, and gives up when one vanished', () => {
    const root = buildFixture(presets.server2s());
    try {
      const base = takeSnapshot(root);
      const [a, b] = base.irqs.filter((i) => i.affinity !== null);
      const nic = base.nics[0]!;
      fs.writeFileSync(path.join(root, `/proc/irq/${a!.irq}/smp_affinity_list`), '3\n');
      fs.writeFileSync(path.join(root, `/proc/irq/${b!.irq}/smp_affinity_list`), '4\n');
      fs.writeFileSync(path.join(root, `/sys/class/net/${nic.name}/queues/rx-0/rps_cpus`), `${kernelMask([2], CPUS)}\n`);
      fs.writeFileSync(path.join(root, '/sys/devices/system/cpu/online'), `${kernelList([...Array(CPUS).keys()].filter((c) => c !== 7))}\n`);
      fs.writeFileSync(path.join(root, '/sys/devices/system/cpu/cpu7/online'), '0\n');
      const quick = refreshTargets(base, new Set([`irq/${a!.irq}`, `net/${nic.name}/rx-0/rps`]));
      assert.ok(quick);
      assert.deepEqual(quick.topology, takeSnapshot(root).topology, 'the CPU sets are read again');
      assert.deepEqual(quick.irqs.find((i) => i.irq === a!.irq)!.affinity, [3], 'a named IRQ is read again');
      assert.deepEqual(quick.irqs.find((i) => i.irq === b!.irq)!.affinity, b!.affinity, 'an IRQ not named is kept');
      assert.deepEqual(quick.nics[0]!.rx[0]!.rpsCpus, [2]);
      fs.rmSync(path.join(root, `/proc/irq/${a!.irq}`), { recursive: true });
      assert.equal(refreshTargets(base, new Set([`irq/${a!.irq}`])), null);
      assert.ok(refreshTargets(base, new Set([`irq/${b!.irq}`])), 'a vanished IRQ that is not named is the full refresh\'s business');
    } finally {
      removeFixture(root);
    }
  });

  it('property: write first, then refresh — a CPU-event pass leaves what a full pass leaves, whatever the kept masks say', () => {
    const root = buildFixture(presets.server2s());
    try {
      const policy = defaultPolicy();
      const first = reconcile({ root, policy, state: emptyState(), trigger: 'test' });
      const irqs = first.snapshot.irqs.filter((i) => i.affinity !== null).map((i) => i.irq);
      const online0 = fs.readFileSync(path.join(root, '/sys/devices/system/cpu/online'), 'utf8');
      const masks0 = new Map(irqs.map((i) => [i, fs.readFileSync(path.join(root, `/proc/irq/${i}/smp_affinity_list`), 'utf8')]));
      const cpuSet = fc.uniqueArray(fc.integer({ min: 0, max: CPUS - 1 }), { minLength: 1, maxLength: 4 });
      fc.assert(
        fc.property(
          fc.uniqueArray(fc.integer({ min: 1, max: CPUS - 1 }), { maxLength: 4 }),
          // Masks moved behind the agent's back (a hotplug reset, another tool), managed or not.
          fc.array(fc.tuple(fc.constantFrom(...irqs), cpuSet), { maxLength: 8 }),
          (offline, moved) => {
            const at = (p: string) => path.join(root, p);
            fs.writeFileSync(at('/sys/devices/system/cpu/online'), online0);
            for (let c = 1; c < CPUS; c++) fs.writeFileSync(at(`/sys/devices/system/cpu/cpu${c}/online`), '1\n');
            for (const [i, m] of masks0) fs.writeFileSync(at(`/proc/irq/${i}/smp_affinity_list`), m);
            const online = [...Array(CPUS).keys()].filter((c) => !offline.includes(c));
            fs.writeFileSync(at('/sys/devices/system/cpu/online'), `${kernelList(online)}\n`);
            for (const c of offline) fs.writeFileSync(at(`/sys/devices/system/cpu/cpu${c}/online`), '0\n');
            for (const [irq, cpus] of moved) fs.writeFileSync(at(`/proc/irq/${irq}/smp_affinity_list`), `${kernelList(cpus)}\n`);
            const full = reconcile({ root, policy, state: first.state, trigger: 'full', dryRun: true });
            const fast = reconcile({ root, policy, state: first.state, trigger: 'refresh', refreshFrom: first.snapshot });
            assert.ok(fast.report.changes.every((c) => c.outcome === 'applied'), 'every write read back');
            assert.deepEqual(fast.plan.irqs.map((p) => [p.irq, p.desired]), full.plan.irqs.map((p) => [p.irq, p.desired]), 'the last round plans what a full pass plans');
            assert.deepEqual(reconcile({ root, policy, state: fast.state, trigger: 'after', dryRun: true }).report.changes, [], 'nothing left to write');
          },
        ),
        { numRuns: runs(25) },
      );
    } finally {
      removeFixture(root);
    }
  });
});

describe("Reconciler at start: the drift check's snapshot is the first pass's", () => {
  it('the tree is read once: the pass after drift() plans from its snapshot, the next one reads again', async () => {
    const root = buildFixture(presets.server2s());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-drift-'));
    const irqDir = path.join(root, 'proc/irq');
    const hide = () => fs.renameSync(irqDir, `${irqDir}.hidden`);
    const show = () => fs.existsSync(`${irqDir}.hidden`) && fs.renameSync(`${irqDir}.hidden`, irqDir);
    const desired = (p: { plan: Plan }) => p.plan.irqs.map((i) => [i.irq, i.desired]);
    try {
      const policy = { ...defaultPolicy(), agent: { ...defaultPolicy().agent, stateFile: path.join(dir, 'state.json') } };
      const expected = await new Reconciler({ root, policy }).preview();
      assert.ok(expected.plan.irqs.some((i) => i.desired !== null));
      const r = new Reconciler({ root, policy });
      assert.deepEqual(r.drift(), [], 'no state yet: no drift');
      // Hidden after the drift check: a pass that read the tree again would see no IRQ masks.
      hide();
      try {
        assert.deepEqual(desired(await r.pass('boot', { dryRun: true })), desired(expected));
        assert.notDeepEqual(desired(await r.pass('next', { dryRun: true })), desired(expected), 'only the first pass reuses it');
      } finally {
        show();
      }
    } finally {
      show();
      removeFixture(root);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
