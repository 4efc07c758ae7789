// reconciler — `plan` shows exactly what `apply` does, given the same state file.
//
// The property runs the real commands in-process (main(): `plan --json` and
// `apply --dry-run --json`) and a real pass of the Reconciler on generated fixture trees with
// generated state files: kernel-managed memories with the right and with a stale action name,
// previous placements on CPUs that exist and that do not. Then a second look finds nothing
// left to write. Fixture trees only: nothing here touches the host.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { main } from '../src/cli/main.js';
import { loadPolicy } from '../src/policy/policy.js';
import { Reconciler } from '../src/reconcile/reconciler.js';
import { MANAGED_RETRY_MS } from '../src/reconcile/reconcile.js';
import { emptyState, type AppliedState } from '../src/state/state.js';
import { takeSnapshot } from '../src/snapshot/snapshot.js';
import type { AuditRecord } from '../src/audit/records.js';
import { irqTarget, queueTarget } from '../src/targets.js';
import { buildFixture, removeFixture, type FixtureNic, type FixtureSpec, type NicNaming } from '../fixture/fixture.js';
import { cli, writeStateFile, type ApplyJson, type PlanJson } from './helpers/cli-json.js';
import { unitKey } from '../src/planner/planner.js';

/** The cpumask and IRQ writes a plan implies (what `apply` must attempt). */
function impliedWrites(p: PlanJson): string[] {
  const out: string[] = [];
  for (const i of p.irqs) if (i.desired !== null && i.current !== null && i.desired !== i.current) out.push(`${irqTarget(i.irq)} ${i.desired}`);
  for (const q of p.queues) if (q.desired !== null && q.current !== null && q.desired !== q.current) out.push(`${queueTarget(q.interface, q.kind, q.queue)} ${q.desired}`);
  return out.sort();
}

const cpumaskWrites = (changes: ApplyJson['changes']): string[] =>
  changes
    .filter((c) => /^irq\/|\/(rps|xps)$/.test(c.target))
    .map((c) => `${c.target} ${c.new}`)
    .sort();

describe('one owner of a pass: the property', () => {
  const namings: { naming: NicNaming; driver: string }[] = [
    { naming: 'virtio', driver: 'virtio_net' },
    { naming: 'TxRx', driver: 'ixgbe' },
    { naming: 'i40e', driver: 'i40e' },
    { naming: 'mlx5', driver: 'mlx5_core' },
  ];
  const machine = fc.record({
    cores: fc.integer({ min: 1, max: 4 }),
    threads: fc.integer({ min: 1, max: 2 }),
    smt: fc.constantFrom<'linux-intel' | 'adjacent'>('linux-intel', 'adjacent'),
    cpu0Only: fc.boolean(),
    nics: fc.array(fc.record({ kind: fc.nat(namings.length - 1), queues: fc.integer({ min: 1, max: 4 }), rps: fc.constantFrom('off', 'cpu0', 'all') }), { minLength: 1, maxLength: 2 }),
  });
  // What a state file may remember, as choices over the tree's IRQs (resolved per tree).
  const memory = fc.record({
    managed: fc.array(fc.record({ pick: fc.nat(), sameName: fc.boolean(), fresh: fc.boolean() }), { maxLength: 3 }),
    placed: fc.array(fc.record({ pick: fc.nat(), cpu: fc.integer({ min: 0, max: 9 }) }), { maxLength: 4 }),
  });

  function specOf(m: typeof machine extends fc.Arbitrary<infer M> ? M : never): FixtureSpec {
    const nics: FixtureNic[] = m.nics.map((n, k) => ({
      name: `eth${k}`,
      driver: namings[n.kind]!.driver,
      pci: `0000:0${k + 3}:00.0`,
      node: -1,
      queues: n.queues,
      naming: namings[n.kind]!.naming,
      ...(namings[n.kind]!.naming === 'virtio' ? { virtioIndex: k + 2 } : {}),
      rps: n.rps === 'off' ? '' : n.rps === 'cpu0' ? '1' : ((1 << (m.cores * m.threads)) - 1).toString(16),
    }));
    return { sockets: 1, coresPerSocket: m.cores, threadsPerCore: m.threads, nodes: 1, smtNumbering: m.smt, initialAffinity: m.cpu0Only ? 'cpu0' : 'all', platform: 'kvm', firstIrq: 40, nics };
  }

  test('property: plan == apply --dry-run == a real pass, and a second look writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(machine, memory, async (m, mem) => {
        const root = buildFixture(specOf(m));
        try {
          const irqs = takeSnapshot(root).irqs;
          // A refusal is in force for MANAGED_RETRY_MS after it was recorded, then retried.
          const now = Date.now();
          const state: AppliedState = { ...emptyState(), appliedAt: new Date(now).toISOString(), managedSince: {} };
          for (const x of mem.managed) {
            const irq = irqs[x.pick % irqs.length]!;
            state.managed[irq.irq] = x.sameName ? irq.name : `${irq.name}.stale`;
            state.managedSince![irq.irq] = new Date(x.fresh ? now - 60_000 : now - MANAGED_RETRY_MS - 60_000).toISOString();
          }
          for (const x of mem.placed) {
            const irq = irqs[x.pick % irqs.length]!;
            state.assignment[unitKey(irq.queue ? irq.queue.interface : null, irq.queue ? irq.queue.queue : null, irq.irq)] = x.cpu;
          }
          writeStateFile(root, state);

          const planned = (await cli('plan', '--json', '--root', root)) as PlanJson;
          const dry = (await cli('apply', '--dry-run', '--json', '--root', root)) as ApplyJson;
          // The plan apply works from is the plan shown (plan adds the snapshot's warnings).
          assert.deepEqual({ ...dry.plan, warnings: [] }, { ...planned, warnings: [] });
          assert.deepEqual(cpumaskWrites(dry.changes), impliedWrites(planned));
          for (const [irq, name] of Object.entries(state.managed)) {
            const row = planned.irqs.find((i) => i.irq === Number(irq))!;
            const inForce = row.name === name && Date.parse(state.managedSince![irq]!) > now - MANAGED_RETRY_MS;
            assert.equal(/kernel-managed/.test(row.reason), inForce, `irq ${irq}: ${row.reason}`);
          }

          const records: AuditRecord[] = [];
          const reconciler = new Reconciler({ root, policy: loadPolicy({ root }), audit: { record: (r) => void records.push(r) } });
          const pass = await reconciler.pass('test');
          assert.deepEqual(cpumaskWrites(pass.report.changes.map((c) => ({ ...c.write, outcome: c.outcome }))), impliedWrites(planned));
          assert.ok(pass.report.changes.every((c) => c.outcome === 'applied'), JSON.stringify(pass.report.changes.map((c) => [c.write.target, c.outcome, c.error])));
          assert.equal(records.filter((r) => r.kind === 'applied').length, pass.report.changes.length);

          // Level-triggered and stable: after the pass, a new owner of the saved state has nothing to do.
          const again = (await cli('apply', '--dry-run', '--json', '--root', root)) as ApplyJson;
          assert.deepEqual(again.changes, []);
        } finally {
          removeFixture(root);
        }
      }),
      { numRuns: 25 },
    );
  });
});
