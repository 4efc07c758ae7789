// The gateway bench's measurement math (bench/lib/gateway.ts): parsing the guest sampler's
// output and the figures the README quotes (hottest share, time to spread). Pure: no guest.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GATEWAY_SAMPLER, hottestShare, parseSamples, timeToSpread, workBetween } from '../bench/lib/gateway.js';

/** One sampler block; cpus: [softirq, total] per CPU, napi: [pid, ticks, cpu]. */
function block(t: number, online: string, cpus: [number, number][], netRx: number[], napi: [number, number, number][] = []): string {
  const lines = [`@ ${t}`, `online ${online}`];
  // user nice system idle iowait irq softirq steal: put the rest of total in idle.
  cpus.forEach(([si, total], i) => lines.push(`cpu${i} 0 0 0 ${total - si} 0 0 ${si} 0 0 0`));
  lines.push(`    NET_RX: ${netRx.join(' ')}`);
  lines.push('irq  11:  ' + cpus.map((_, i) => String(100 * (i + 1))).join(' ') + '  IO-APIC  11-fasteoi   ens19');
  for (const [pid, ticks, cpu] of napi) lines.push(`napi ${pid} ${ticks} ${cpu}`);
  return lines.join('\n') + '\n';
}

test('parse: CPU times, NET_RX, IRQ columns and napi threads; a cut-off last block is dropped', () => {
  const text = block(1000, '0', [[5, 100]], [7]) + block(1250, '0-2', [[30, 125], [0, 3], [1, 3]], [20, 1, 2], [[99, 4, 1]]) + '@ 1500\nonline 0-2\n';
  const s = parseSamples(text);
  assert.equal(s.length, 2);
  assert.deepEqual(s[1]!.stat.get(0), { softirq: 30, total: 125 });
  assert.deepEqual([...s[1]!.netRx.values()], [20, 1, 2]);
  assert.deepEqual(s[1]!.irqs.get(11), [100, 200, 300]);
  assert.deepEqual(s[1]!.napi.get(99), { ticks: 4, cpu: 1 });
  // cpu1 and cpu2 were not in the first sample: only cpu0 has a delta.
  assert.deepEqual(workBetween(s[0]!, s[1]!).map((w) => [w.cpu, w.softirq, w.total, w.netRx]), [[0, 25, 25, 13]]);
});

test('napi thread time counts on the CPU the thread ran on', () => {
  const s = parseSamples(block(0, '0-1', [[0, 0], [0, 0]], [0, 0], [[99, 0, 1]]) + block(1000, '0-1', [[2, 100], [0, 100]], [0, 0], [[99, 50, 1]]));
  const w = workBetween(s[0]!, s[1]!);
  assert.deepEqual(w.map((x) => x.net), [2, 50]);
  assert.equal(hottestShare(w)!.cpu, 1);
});

test('time to spread: the first ~1 s window with more than one CPU online and the hottest share under the limit', () => {
  let text = '';
  let si = [0, 0, 0];
  for (let i = 0; i < 20; i++) {
    // Until sample 8 all work on cpu0; from then on an even split.
    si = i < 8 ? [si[0]! + 10, si[1]!, si[2]!] : si.map((x) => x + 5);
    text += block(i * 250, i < 4 ? '0' : '0-2', [[si[0]!, i * 25], [si[1]!, i * 25], [si[2]!, i * 25]], [0, 0, 0]);
  }
  const s = parseSamples(text);
  // Intervals 8..11 (ending at sample 11, 2750 ms) are the first four all even: 2.25 s after 500 ms.
  assert.equal(timeToSpread(s, 500, 0.4), 2.25);
  assert.equal(timeToSpread(s, 500, 0.1), null);
});

test('hottest share is in [1/n, 1] for any non-zero work (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 8 }), (net) => {
      const work = net.map((n, cpu) => ({ cpu, softirq: n, napi: 0, net: n, total: 1000, netRx: 0 }));
      const h = hottestShare(work);
      const sum = net.reduce((a, b) => a + b, 0);
      if (sum === 0) return h === null;
      return h !== null && h.share <= 1 && h.share >= 1 / net.length - 1e-9 && net[h.cpu] === Math.max(...net);
    }),
  );
});

test('the sampler runs here and its output parses (this machine\'s /proc)', { timeout: 20_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-sampler-'));
  try {
    const f = path.join(dir, 's.pl');
    fs.writeFileSync(f, GATEWAY_SAMPLER);
    const out = execFileSync('perl', [f, '10', '3'], { encoding: 'utf8' });
    const s = parseSamples(out);
    assert.equal(s.length, 3);
    const cpus = fs.readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d/.test(l)).length;
    assert.equal(s[0]!.stat.size, cpus);
    assert.equal(s[0]!.netRx.size, cpus);
    assert.ok(s[2]!.t >= s[0]!.t);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
