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
import { refreshAfterCpuChange } from '../src/snapshot/refresh.js';
import { runs } from './helpers/runs.js';
import { parseCpuList } from '../src/cpumask/cpumask.js';

const takeList = (text: string): number[] => parseCpuList(text.trim());
import { reconcile } from '../src/reconcile/reconcile.js';
import { defaultPolicy } from '../src/policy/policy.js';
import { emptyState } from '../src/state/state.js';

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
});
