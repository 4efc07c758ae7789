// Reboot reapplication on a fixture tree: the agent reports what changed behind its back
// since the last applied plan as ONE drift-at-start record, then re-applies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NEVER, timer } from 'rxjs';
import pino from 'pino';
import { startAgent } from '../src/agent/agent.js';
import type { AuditLog } from '../src/audit/audit-log.js';
import type { AuditRecord } from '../src/audit/records.js';
import { buildFixture, presets, removeFixture } from '../fixture/fixture.js';

function fakeAudit(records: AuditRecord[]): AuditLog {
  return { sink: 'stdout', record: (r) => void records.push(r), flush: async () => undefined, close: async () => undefined, stats: () => null };
}

test('start after a reset: one drift-at-start record naming what changed, then a full re-apply', async () => {
  const root = buildFixture(presets.vm2());
  try {
    const log = pino({ level: 'silent' });
    const first: AuditRecord[] = [];
    assert.equal(await startAgent({ root, sources: NEVER, audit: fakeAudit(first), log }, timer(50)), 0);
    assert.ok(first.some((r) => r.kind === 'applied' && r.target === 'irq/38'), 'first start applies');
    assert.ok(!first.some((r) => r.kind === 'drift-at-start'), 'nothing to compare with on the very first start');
    const state = JSON.parse(fs.readFileSync(path.join(root, 'var/lib/affinityd/state.json'), 'utf8')) as { targets: Record<string, string> };
    const planned = state.targets['irq/38'];
    assert.ok(planned);

    // What a reboot or a CPU hotplug does: the kernel puts the masks back to all CPUs.
    for (const irq of [38, 39]) fs.writeFileSync(path.join(root, `proc/irq/${irq}/smp_affinity_list`), '0-1\n');
    const second: AuditRecord[] = [];
    assert.equal(await startAgent({ root, sources: NEVER, audit: fakeAudit(second), log }, timer(50)), 0);
    const drift = second.filter((r) => r.kind === 'drift-at-start');
    assert.equal(drift.length, 1);
    assert.match(drift[0]!.message, new RegExp(`^2 target\\(s\\) changed since the last apply .*irq/38 ${planned} -> 0-1`));
    const reapplied = second.filter((r) => r.kind === 'applied').map((r) => r.target).sort();
    assert.deepEqual(reapplied, ['irq/38', 'irq/39']);
    assert.equal(fs.readFileSync(path.join(root, 'proc/irq/38/smp_affinity_list'), 'utf8').trim(), planned);
  } finally {
    removeFixture(root);
  }
});
