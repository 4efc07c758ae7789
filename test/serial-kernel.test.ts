// serial on the live machine — udev's port list through @serialport/bindings-cpp merged
// with sysfs, the udevadm-less fallback, and a real plan + apply of ttyS0's IRQ (mask
// restored afterwards). Writes /proc/irq: run under the kernel lock (npm test does).
//
// Nothing here opens or writes /dev/ttyS* (it is the console): only /proc/irq masks.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseCpuList, parseCpuMask } from '../src/cpumask/cpumask.js';
import { enumerateSerialPorts } from '../src/snapshot/serial.js';
import type { SerialPortInfo } from '../src/types.js';
import { EXECUTABLE } from '../src/cli/executable.js';

const MAIN = EXECUTABLE;

const tmpDirs: string[] = [];
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'affinityd-serial-'));
  tmpDirs.push(d);
  return d;
}

const port = (ports: SerialPortInfo[], p: string): SerialPortInfo => {
  const found = ports.find((x) => x.path === p);
  assert.ok(found, `${p} not in ${ports.map((x) => x.path).join(', ')}`);
  return found;
};

// ---------------------------------------------------------------------------------------
// The live machine.

function liveTtyS0(): { irq: number; reason: null } | { irq: null; reason: string } {
  if (process.platform !== 'linux') return { irq: null, reason: 'not Linux' };
  const irq = Number(fs.readFileSync('/sys/class/tty/ttyS0/irq', { encoding: 'utf8', flag: 'r' }).trim());
  if (!(irq > 0)) return { irq: null, reason: 'ttyS0 has no IRQ here' };
  const interrupts = fs.readFileSync('/proc/interrupts', 'utf8');
  if (!new RegExp(`^\\s*${irq}:`, 'm').test(interrupts)) return { irq: null, reason: `ttyS0's IRQ ${irq} has no handler (port not open)` };
  return { irq, reason: null };
}

function safeLive(): ReturnType<typeof liveTtyS0> {
  try {
    return liveTtyS0();
  } catch (e) {
    return { irq: null, reason: `no /sys/class/tty/ttyS0 (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
  }
}

describe('live system', () => {
  test('bindings list (udev) merged with sysfs finds ttyS0 and its IRQ', async (t) => {
    const live = safeLive();
    if (live.irq === null) return t.skip(live.reason);
    const r = await enumerateSerialPorts({ root: '/' });
    if (r.source !== 'bindings') return t.skip(`bindings unusable here: ${r.notes.join('; ')}`);
    assert.deepEqual(r.notes, []);
    assert.deepEqual(port(r.ports, '/dev/ttyS0').irqs, [live.irq]);
    // Virtual consoles never show up.
    assert.ok(r.ports.every((p) => !/^\/dev\/tty\d+$/.test(p.path)));
  });

  test('without udevadm on PATH: sysfs fallback, said once, never a failure', async (t) => {
    const live = safeLive();
    if (live.irq === null) return t.skip(live.reason);
    const saved = process.env.PATH;
    const seen = new Set<string>();
    try {
      process.env.PATH = tmpDir(); // an empty directory: no udevadm
      const first = await enumerateSerialPorts({ root: '/', seen });
      assert.equal(first.source, 'sysfs');
      assert.deepEqual(first.notes, ['serial ports: udevadm not found on PATH; reading /sys/class/tty instead']);
      assert.deepEqual(port(first.ports, '/dev/ttyS0').irqs, [live.irq]);
      const second = await enumerateSerialPorts({ root: '/', seen });
      assert.deepEqual(second.notes, [], 'the note is given once per caller');
      assert.deepEqual(second.ports, first.ports);
    } finally {
      process.env.PATH = saved;
    }
    // A failing list() (bindings not built, udevadm error) is the same fallback.
    const failing = await enumerateSerialPorts({ root: '/', list: () => Promise.reject(new Error('No native build was found')) });
    assert.deepEqual([failing.source, failing.notes], ['sysfs', ['serial ports: listing failed (No native build was found); reading /sys/class/tty instead']]);
  });

  test('plan and apply: [serial:console] pins ttyS0\'s IRQ to CPU 1 (mask restored)', async (t) => {
    const live = safeLive();
    if (live.irq === null) return t.skip(live.reason);
    if (process.getuid?.() !== 0) return t.skip('needs root to write /proc/irq');
    const online = parseCpuList(fs.readFileSync('/sys/devices/system/cpu/online', 'utf8'));
    if (!online.includes(1)) return t.skip('CPU 1 is not online');
    const irq = live.irq;
    const maskFile = `/proc/irq/${irq}/smp_affinity`;
    const original = fs.readFileSync(maskFile, 'utf8').trim();
    const dir = tmpDir();
    const ini = path.join(dir, 'affinityd.ini');
    // [defaults] ignore: this test changes the console's IRQ and nothing else (no NIC, no RPS).
    fs.writeFileSync(ini, `[defaults]\nstrategy = ignore\n[agent]\nstate-file = ${path.join(dir, 'state.json')}\n[serial:console]\nmatch-path = /dev/ttyS0\nstrategy = pin\npin = 1\n`);
    try {
      // Start from a mask that is not the target, so the apply has something to do.
      fs.writeFileSync(maskFile, '3');
      const planned = JSON.parse(execFileSync(process.execPath, [MAIN, 'plan', '--json', '--config', ini], { encoding: 'utf8' })) as {
        irqs: { irq: number; desired: string | null; serial?: string; policy: string | null }[];
      };
      const row = planned.irqs.find((i) => i.irq === irq)!;
      assert.deepEqual([row.desired, row.serial, row.policy], ['1', '/dev/ttyS0', 'serial:console']);
      assert.ok(planned.irqs.filter((i) => i.irq !== irq).every((i) => i.desired === null), 'only the serial IRQ is planned');

      const r = spawnSync(process.execPath, [MAIN, 'apply', '--json', '--config', ini], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { changes: { target: string; outcome: string }[] };
      assert.deepEqual(out.changes.map((c) => c.outcome), ['applied'], r.stdout);
      assert.match(out.changes[0]!.target, new RegExp(`\\b${irq}\\b`));
      assert.equal(fs.readFileSync(`/proc/irq/${irq}/smp_affinity_list`, 'utf8').trim(), '1');
    } finally {
      fs.writeFileSync(maskFile, original);
    }
    assert.deepEqual(parseCpuMask(fs.readFileSync(maskFile, 'utf8')), parseCpuMask(original));
  });
});
