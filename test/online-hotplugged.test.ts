// [cpus] online-hotplugged: which CPUs get onlined, through the ordinary applier (write,
// read back, audit). The real kernel case — a vCPU hot-added over QMP — is in
// test/lab-gateway.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onlineWrites } from '../src/applier/online.js';
import { applyWrites } from '../src/applier/applier.js';
import { changeRecord } from '../src/reconcile/reconcile.js';
import { NEVER, concat, map, timer } from 'rxjs';
import pino from 'pino';
import { startAgent } from '../src/agent/agent.js';
import type { AgentEvent } from '../src/agent/events.js';
import type { AuditRecord } from '../src/audit/records.js';
import { buildFixture, presets, removeFixture } from '../fixture/fixture.js';

function tree(online: Record<number, string | null>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'affinityd-online-'));
  for (const [cpu, v] of Object.entries(online)) {
    const dir = path.join(root, 'sys/devices/system/cpu', `cpu${cpu}`);
    fs.mkdirSync(dir, { recursive: true });
    if (v !== null) fs.writeFileSync(path.join(dir, 'online'), `${v}\n`);
  }
  return root;
}

describe('online-hotplugged', () => {
  it('onlines only the named CPUs that are offline, and says so in the audit', () => {
    // cpu0 has no online file (not hotpluggable), cpu1 is already online, cpu2 and cpu3 were
    // hot-added offline, cpu4 is offline but was not announced by an add event.
    const root = tree({ 0: null, 1: '1', 2: '0', 3: '0', 4: '0' });
    try {
      const writes = onlineWrites(root, [3, 2, 1, 0, 2]);
      assert.deepEqual(writes.map((w) => w.target), ['cpu/2/online', 'cpu/3/online']);
      const report = applyWrites(writes, { root });
      assert.deepEqual(report.changes.map((c) => c.outcome), ['applied', 'applied']);
      for (const c of [2, 3, 4]) {
        assert.equal(fs.readFileSync(path.join(root, `sys/devices/system/cpu/cpu${c}/online`), 'utf8').trim(), c === 4 ? '0' : '1');
      }
      const rec = changeRecord(report.changes[0]!, 'cpu2 add');
      assert.equal(rec?.kind, 'applied');
      assert.equal(rec?.message, 'cpu2 online 0 -> 1: cpu2 add');
      assert.equal(rec?.target, 'cpu/2/online');
      assert.deepEqual(onlineWrites(root, [2, 3]), [], 'once online, nothing more to write');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  // An `add` announces a CPU that is still offline: with the default (`no`) it needs no pass
  // (nothing can be placed on it yet; under load that pass delayed the `online` one by
  // seconds, issue 12) and the agent says so in its log; with `yes` the add is what the
  // agent acts on.
  for (const onlineHotplugged of [false, true]) {
    it(`agent: a cpu add event ${onlineHotplugged ? 'starts a pass that onlines it (= yes)' : 'starts no pass and is logged (= no)'}`, async () => {
      const root = buildFixture(presets.vm2());
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affinityd-online-cfg-'));
      try {
        // cpu2 as a hot-added vCPU: present, offline.
        fs.mkdirSync(path.join(root, 'sys/devices/system/cpu/cpu2'), { recursive: true });
        fs.writeFileSync(path.join(root, 'sys/devices/system/cpu/cpu2/online'), '0\n');
        const config = path.join(dir, 'a.ini');
        fs.writeFileSync(config, `[cpus]\nonline-hotplugged = ${onlineHotplugged ? 'yes' : 'no'}\n`);
        const add: AgentEvent = { kind: 'cpu', action: 'add', cpu: 2 };
        const sources = concat(timer(150).pipe(map(() => add)), NEVER);
        const triggers: string[] = [];
        const records: AuditRecord[] = [];
        const lines: string[] = [];
        const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
        const audit = { sink: 'stdout' as const, record: (r: AuditRecord) => void records.push(r), flush: async () => undefined, close: async () => undefined, stats: () => null };
        assert.equal(await startAgent({ root, configFile: config, sources, audit, log, onPass: (i) => triggers.push(i.trigger) }, timer(600)), 0);
        if (onlineHotplugged) {
          assert.deepEqual(triggers.slice(1), ['cpu2 add']);
          assert.ok(records.some((r) => r.target === 'cpu/2/online'), 'the agent tried to online cpu2');
        } else {
          assert.equal(triggers.length, 1, `only the start pass: ${triggers.join(', ')}`);
          assert.ok(!records.some((r) => r.target === 'cpu/2/online'));
          assert.ok(lines.some((l) => l.includes('cpu2 hot-added and left offline')), 'the add is logged');
        }
      } finally {
        removeFixture(root);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
