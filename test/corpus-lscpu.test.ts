// util-linux lscpu sysroot dumps (real /sys/devices/system/{cpu,node} of 9 machines): the CPU
// reader and the planner on each, with ground truth from the corpus README.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { takeSnapshot } from '../src/snapshot/snapshot.js';
import { plan } from '../src/planner/planner.js';
import { defaultPolicy } from '../src/policy/policy.js';
import { formatCpuList } from '../src/cpumask/cpumask.js';
import { corpusDir } from './helpers/corpus.js';

const DIR = corpusDir('util-linux-lscpu');

// What the corpus README says of each machine.
const EXPECTED: Record<string, { online?: string; nodes?: Record<number, string> }> = {
  'x86_64-epyc_7451': { online: '0-95', nodes: { 0: '0-5,48-53', 1: '6-11,54-59', 7: '42-47,90-95' } },
  'x86_64-64cpu': {},
  'rv64-milkvpioneer': { online: '0-63', nodes: { 0: '0-7,16-23', 1: '8-15,24-31', 2: '32-39,48-55', 3: '40-47,56-63' } },
  'ppc64-POWER7-64cpu': { online: '0-63', nodes: { 0: '0-63', 1: '' } },
  'vmware_fpe': {},
  'loongarch-kvm_on_loongson_3c6000': { online: '0-31' },
  's390-lpar-drawer': {},
  's390-lpar': { online: '1-5,8-19' },
  'arm-A510-A710-A715-X3': { online: '0-7' },
};

describe('util-linux lscpu dumps', () => {
  const tarballs = fs.existsSync(DIR) ? fs.readdirSync(DIR).filter((f) => f.endsWith('.tar.gz')) : [];
  it('every dump: CPUs and NUMA nodes read as the README says, a plan only on online CPUs', (t) => {
    if (tarballs.length === 0) return t.skip('corpus not present (../shared/corpus/util-linux-lscpu)');
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-lscpu-'));
    try {
      for (const tarball of tarballs) {
        const name = tarball.replace(/\.tar\.gz$/, '');
        execFileSync('tar', ['-xzf', path.join(DIR, tarball), '-C', tmp]);
        const root = path.join(tmp, name);
        const s = takeSnapshot(root);
        const want = EXPECTED[name] ?? {};
        if (want.online) assert.equal(formatCpuList(s.topology.online), want.online, `${name}: online`);
        for (const [node, cpus] of Object.entries(want.nodes ?? {})) {
          if (cpus === undefined) continue;
          assert.equal(formatCpuList(s.topology.nodes.find((n) => n.id === Number(node))?.cpus ?? []), cpus, `${name}: node${node}`);
        }
        if (name === 'x86_64-64cpu') assert.deepEqual(s.topology.nodes.map((n) => n.id), [0, 2, 3], `${name}: sparse node ids`);
        const p = plan(s, defaultPolicy());
        for (const c of p.allowedCpus) assert.ok(s.topology.online.includes(c), `${name}: cpu${c} allowed but not online`);
        // Every online CPU has a core identity; SMT siblings share it.
        const byCore = new Map<string, number[]>();
        for (const c of s.topology.cpus.filter((x) => x.online)) byCore.set(c.coreKey, [...(byCore.get(c.coreKey) ?? []), c.cpu]);
        if (name === 'x86_64-epyc_7451') assert.equal(byCore.size, 48, `${name}: 48 physical cores`);
        if (name === 'ppc64-POWER7-64cpu') assert.equal(byCore.size, 16, `${name}: 16 cores x 4 threads`);
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
