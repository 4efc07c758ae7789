// The command line as an operator meets it: exit codes and one-line errors for bad input,
// never a stack trace, never a partial write.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EXECUTABLE } from '../src/cli/executable.js';

const CLI = EXECUTABLE;
const SHIPPED = fileURLToPath(new URL('../../etc/affinityd.ini', import.meta.url));

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function oneLineError(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `exactly one line, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
  return lines[0]!;
}

describe('cli', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-cli-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ini = (name: string, text: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };

  it('--help and --version exit 0', () => {
    const h = run('--help');
    assert.equal(h.status, 0);
    assert.match(h.stdout, /usage: affinityd/);
    const v = run('--version');
    assert.equal(v.status, 0);
    assert.match(v.stdout, /^affinityd \d+\.\d+\.\d+/);
  });

  it('usage errors exit 64', () => {
    assert.equal(run('frobnicate').status, 64);
    const r = run('plan', '--bogus');
    assert.equal(r.status, 64);
    assert.match(oneLineError(r.stderr), /unknown option --bogus/);
    assert.match(oneLineError(run('plan', '--root', path.join(dir, 'nope')).stderr), /no such directory/);
  });

  it('malformed INI: exit 78, file and line named', () => {
    const f = ini('bad.ini', '[cpus]\ncpus = all\nthis line is not ini\n');
    const r = run('check-config', '--config', f);
    assert.equal(r.status, 78);
    assert.match(oneLineError(r.stderr), new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:`));
  });

  it('unknown key: exit 78, names the closest known key', () => {
    const f = ini('typo.ini', '[cpus]\nexclud-cpus = 1\n');
    const r = run('plan', '--config', f);
    assert.equal(r.status, 78);
    const line = oneLineError(r.stderr);
    assert.match(line, /typo\.ini:2:/);
    assert.match(line, /exclud-cpus/);
    assert.match(line, /exclude-cpus/);
  });

  it('out-of-range cpulist: exit 78 with key', () => {
    const f = ini('range.ini', '[cpus]\nexclude-cpus = 0-9000\n');
    const r = run('check-config', '--config', f);
    assert.equal(r.status, 78);
    assert.match(oneLineError(r.stderr), /range\.ini:2:.*exclude-cpus/);
  });

  it('apply with a bad config writes nothing (exit 78 before any write)', () => {
    const root = path.join(dir, 'root');
    fs.mkdirSync(path.join(root, 'proc/irq/5'), { recursive: true });
    fs.writeFileSync(path.join(root, 'proc/irq/5/smp_affinity_list'), '0-1\n');
    const f = ini('bad2.ini', '[defaults]\nstrategy = scatter\n');
    const r = run('apply', '--root', root, '--config', f);
    assert.equal(r.status, 78);
    assert.match(oneLineError(r.stderr), /bad2\.ini:2:.*strategy/);
    assert.equal(fs.readFileSync(path.join(root, 'proc/irq/5/smp_affinity_list'), 'utf8'), '0-1\n');
  });

  it('check-config prints the effective policy; no file at all means the shipped defaults', () => {
    const r = run('check-config', '--config', SHIPPED);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /strategy = spread/);
    const empty = path.join(dir, 'emptyroot');
    fs.mkdirSync(empty);
    const d = run('check-config', '--root', empty, '--json');
    assert.equal(d.status, 0, d.stderr);
    const p = JSON.parse(d.stdout) as { defaults: { strategy: string; rps: string } };
    assert.equal(p.defaults.strategy, 'spread');
    assert.equal(p.defaults.rps, 'auto');
  });

  it('odd /proc/interrupts lines and missing sysfs files are warnings, not crashes', () => {
    const root = path.join(dir, 'odd');
    fs.mkdirSync(path.join(root, 'proc'), { recursive: true });
    fs.mkdirSync(path.join(root, 'sys/devices/system/cpu'), { recursive: true });
    fs.writeFileSync(path.join(root, 'sys/devices/system/cpu/online'), '0-1\n');
    fs.writeFileSync(path.join(root, 'proc/interrupts'), '           CPU0       CPU1\n  5:  1  2  IO-APIC   5-edge  eth9\n garbage line without colon\n 7:\nERR: 0\n');
    const r = run('plan', '--root', root, '--config', SHIPPED);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /warning: .*interrupts:3:/);
    assert.match(r.stdout, /^5\s/m);
  });

  it('plan --json has the documented shape', () => {
    const r = run('plan', '--json');
    assert.equal(r.status, 0, r.stderr);
    const p = JSON.parse(r.stdout) as { irqs: Record<string, unknown>[]; queues: Record<string, unknown>[] };
    assert.ok(Array.isArray(p.irqs) && Array.isArray(p.queues));
    for (const i of p.irqs) for (const k of ['irq', 'name', 'device', 'interface', 'queue', 'node', 'current', 'desired', 'reason']) assert.ok(k in i, `irq entry has ${k}`);
    for (const q of p.queues) {
      for (const k of ['interface', 'queue', 'kind', 'current', 'desired']) assert.ok(k in q, `queue entry has ${k}`);
      assert.ok(q.kind === 'rps' || q.kind === 'xps');
    }
  });
});
