import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSoftnetStat, readStuckBacklogs, stuckBacklogs } from '../src/snapshot/softnet.js';
import { FsRoot } from '../src/snapshot/fsroot.js';
import { plan } from '../src/planner/planner.js';
import { defaultPolicy } from '../src/policy/policy.js';
import { snap } from './helpers/snap.js';

// Rows as this VM printed them with cpu1's backlog wedged (kernel 6.18): 15 columns,
// backlog length in column 12, CPU index in column 13.
const WEDGED = [
  '025f1c93 00000000 00000003 00000000 00000000 00000000 00000000 00000000 00000000 000f0e27 00000000 00000000 00000000 00000000 00000000',
  '00f3ec7b 00006390 00000000 00000000 00000000 00000000 00000000 00000000 00000000 000e0063 00000000 00000024 00000001 00000024 00000000',
].join('\n');

test('softnet_stat: processed, dropped, backlog and CPU index', () => {
  const rows = parseSoftnetStat(WEDGED);
  assert.deepEqual(rows[1], { cpu: 1, processed: 0xf3ec7b, dropped: 0x6390, backlog: 0x24 });
  // Old kernels: 10 or 11 columns, no index: rows are the online CPUs in order.
  const old = parseSoftnetStat('0000000a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000', [3]);
  assert.deepEqual(old, [{ cpu: 3, processed: 10, dropped: 0, backlog: 0 }]);
});

test('a CPU is stuck only when its backlog is non-empty twice and nothing was processed', () => {
  const a = parseSoftnetStat(WEDGED);
  assert.deepEqual(stuckBacklogs(a, a), [1]);
  const moved = a.map((r) => (r.cpu === 1 ? { ...r, processed: r.processed + 5 } : r));
  assert.deepEqual(stuckBacklogs(a, moved), []);
});

test('on a tree whose softnet_stat shows a wedged cpu1, the plan leaves cpu1 out of RPS and says why', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-softnet-'));
  try {
    fs.mkdirSync(path.join(root, 'proc/net'), { recursive: true });
    fs.writeFileSync(path.join(root, 'proc/net/softnet_stat'), WEDGED + '\n');
    assert.deepEqual(readStuckBacklogs(new FsRoot(root), [0, 1], 1), [1]);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  const s = snap({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, nics: [{ name: 'eth0', node: 0, queues: 1, virtio: true }] });
  s.stuckBacklogCpus = [1];
  const p = plan(s, defaultPolicy());
  // cpu1 out (wedged), and cpu0 out: rx-0's interrupt is there (withoutIrqCpu).
  assert.deepEqual(p.irqs.find((i) => i.interface === 'eth0')!.desired, [0]);
  assert.deepEqual(p.queues.find((q) => q.kind === 'rps')!.desired, [2, 3]);
  assert.ok(p.warnings.some((w) => /cpu1: NET_RX backlog/.test(w)));
  // IRQ placement is unaffected: the NIC's own NAPI poll is not the backlog.
  assert.ok(p.irqs.some((i) => i.interface === 'eth0' && i.desired !== null));
});
