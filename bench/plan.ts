// bench/plan — snapshot + plan time on a generated 1024-CPU, 8-node machine with 4096 NIC
// queue IRQs (fixture/fixture.ts preset big1024). Target: plan ≤ 20 ms median.
// A benchmark, not a test: it prints figures, it does not assert them.

import { performance } from 'node:perf_hooks';
import { buildFixture, presets, removeFixture } from '../fixture/fixture.js';
import { takeSnapshot } from '../src/snapshot/snapshot.js';
import { assignmentOf, plan } from '../src/planner/planner.js';
import { defaultPolicy } from '../src/policy/policy.js';
import { diffPlan } from '../src/applier/diff.js';

function stats(xs: number[]): { median: number; p95: number; min: number; max: number; runs: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { median: r(at(0.5)), p95: r(at(0.95)), min: r(s[0]!), max: r(s[s.length - 1]!), runs: s.length };
}

export async function benchPlan(opts: { snapshotRuns?: number; planRuns?: number } = {}): Promise<object> {
  const root = buildFixture(presets.big1024());
  try {
    const policy = defaultPolicy();
    const snapTimes: number[] = [];
    let snap = takeSnapshot(root);
    for (let i = 0; i < (opts.snapshotRuns ?? 10); i++) {
      const t0 = performance.now();
      snap = takeSnapshot(root);
      snapTimes.push(performance.now() - t0);
    }
    const queueIrqs = snap.irqs.filter((i) => i.queue !== null).length;
    // Warm up the JIT, as a long-running agent would be.
    for (let i = 0; i < 5; i++) plan(snap, policy);
    const planTimes: number[] = [];
    const replanTimes: number[] = [];
    let p = plan(snap, policy);
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < (opts.planRuns ?? 50); i++) {
      const t0 = performance.now();
      p = plan(snap, policy);
      planTimes.push(performance.now() - t0);
    }
    const previous = assignmentOf(p);
    for (let i = 0; i < (opts.planRuns ?? 50); i++) {
      const t0 = performance.now();
      plan(snap, policy, { previous });
      replanTimes.push(performance.now() - t0);
    }
    const t0 = performance.now();
    const writes = diffPlan(p, snap.topology.nrCpuIds);
    const diffMs = performance.now() - t0;
    return {
      fixture: { cpus: snap.topology.online.length, nodes: snap.topology.nodes.length, irqs: snap.irqs.length, queueIrqs, nics: snap.nics.length },
      snapshotMs: stats(snapTimes),
      planMs: stats(planTimes),
      replanWithPreviousMs: stats(replanTimes),
      diffMs: Math.round(diffMs * 1000) / 1000,
      writes: writes.length,
      heapDeltaMB: Math.round(((process.memoryUsage().heapUsed - heapBefore) / 1048576) * 10) / 10,
      rssMB: Math.round((process.memoryUsage().rss / 1048576) * 10) / 10,
      targetPlanMedianMs: 20,
    };
  } finally {
    removeFixture(root);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchPlan(), null, 2));
}
