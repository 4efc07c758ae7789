import { FsRoot } from './dist/src/snapshot/fsroot.js';
import { readCpuTopology } from './dist/src/snapshot/cpus.js';
import { readNics } from './dist/src/snapshot/nics.js';
import { readIrqs } from './dist/src/snapshot/irqs.js';
import { readStuckBacklogs } from './dist/src/snapshot/softnet.js';
import { takeSnapshot } from './dist/src/snapshot/snapshot.js';
import { plan } from './dist/src/planner/planner.js';
import { diffPlan } from './dist/src/applier/diff.js';
import { loadPolicy } from './dist/src/policy/policy.js';
const policy = loadPolicy({ root: '/' });
const cache = new Map();
const t = {};
const add = (k, t0) => { (t[k] ??= []).push(Number(process.hrtime.bigint() - t0) / 1e6); };
for (let i = 0; i < 50; i++) {
  const fs = new FsRoot('/'); const w = [];
  let t0 = process.hrtime.bigint(); const topo = readCpuTopology(fs, w, cache); add('topology', t0);
  t0 = process.hrtime.bigint(); const nics = readNics(fs, w); add('nics', t0);
  t0 = process.hrtime.bigint(); const irqs = readIrqs(fs, nics, w); add('irqs', t0);
  t0 = process.hrtime.bigint(); readStuckBacklogs(fs, topo.online); add('softnet', t0);
  t0 = process.hrtime.bigint(); const snap = takeSnapshot('/', { topologyCache: cache, serial: false }); add('snapshotAll', t0);
  t0 = process.hrtime.bigint(); const p = plan(snap, policy, {}); add('plan', t0);
  t0 = process.hrtime.bigint(); diffPlan(p, snap.topology.nrCpuIds); add('diff', t0);
}
for (const [k, v] of Object.entries(t)) { v.sort((a, b) => a - b); console.log(k.padEnd(12), 'p50', v[25].toFixed(2), 'p95', v[47].toFixed(2)); }
