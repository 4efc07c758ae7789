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
});
