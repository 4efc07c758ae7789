import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { computeStatus } from '../src/status/load.js';
import { parseProcStat, parseSoftirqs } from '../src/snapshot/softirqs.js';
import { parseCpuList } from '../src/cpumask/cpumask.js';
import { parseSoftnetStat } from '../src/snapshot/softnet.js';
import { EXECUTABLE } from '../src/cli/executable.js';

const CLI = EXECUTABLE;
const softirqs = (rx0: number, rx1: number) =>
  `                    CPU0       CPU1\n          HI:          1          0\n      NET_TX:        10         20\n      NET_RX:   ${rx0}   ${rx1}\n`;
const stat = (s0: number, s1: number, t: number) => `cpu  1 2 3 4 5 6 7 0 0 0\ncpu0 ${t} 0 0 0 0 0 ${s0} 0 0 0\ncpu1 ${t} 0 0 0 0 0 ${s1} 0 0 0\n`;

test('status: one CPU carrying most softirq time gives an imbalance verdict', () => {
  const a = { at: 0, irqs: new Map([[38, { 0: 100, 1: 0 }]]), softirq: parseSoftirqs(softirqs(1000, 10)), stat: parseProcStat(stat(100, 10, 1000)) };
  const b = { at: 1000, irqs: new Map([[38, { 0: 1100, 1: 0 }]]), softirq: parseSoftirqs(softirqs(9000, 20)), stat: parseProcStat(stat(190, 12, 1100)) };
  const r = computeStatus(a, b, new Map([[0, ['eth0:rx-0']]]));
  assert.equal(r.cpus[0]!.irqPerSec, 1000);
  assert.equal(r.cpus[0]!.netRxPerSec, 8000);
  assert.ok(Math.abs(r.hottestShare - 90 / 92) < 1e-9);
  assert.match(r.verdict, /^imbalanced: cpu0 carries 98%/);
  assert.deepEqual(r.cpus[0]!.queues, ['eth0:rx-0']);
  const even = computeStatus(a, { ...b, stat: parseProcStat(stat(150, 60, 1100)) }, new Map());
  assert.match(even.verdict, /^balanced/);
  // cpu1's backlog holds packets in both samples, nothing processed: said first.
  const row = (processed: number, backlog: number, cpu: number) => [processed, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, backlog, cpu].map((n) => n.toString(16).padStart(8, '0')).join(' ');
  const sn = (p0: number) => parseSoftnetStat(`${row(p0, 0, 0)}\n${row(500, 36, 1)}\n`);
  const wedged = computeStatus({ ...a, softnet: sn(100) }, { ...b, stat: parseProcStat(stat(150, 60, 1100)), softnet: sn(900) }, new Map());
  assert.deepEqual(wedged.stuckBacklogCpus, [1]);
  assert.match(wedged.verdict, /^wedged: the NET_RX backlog of cpu1 \(36 queued\)/);
});

test('status --json on this machine: per-CPU rows for every online CPU', () => {
  const r = spawnSync(process.execPath, [CLI, 'status', '--json', '--interval', '0.2'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { cpus: { cpu: number }[]; verdict: string };
  const online = parseCpuList(fs.readFileSync('/sys/devices/system/cpu/online', 'utf8'));
  // /proc/softirqs columns are the CPUs online when it was read (another test may hotplug).
  assert.ok(s.cpus.length >= 1 && s.cpus.length <= online.length + 1);
  assert.equal(typeof s.verdict, 'string');
});
