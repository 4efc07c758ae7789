// Classes 3 and 4 (issue 10): link loops in sysfs, and small inputs that used to cost
// unbounded memory or time — a 14 KB cpulist (564 MB), tens of MB of bad config lines, an
// empty cpu99999999 directory, `*?*?*?…` globs, error lines that echoed their whole input.
// This file runs under the suite's heap cap: a regression runs out of heap and fails.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { FsRoot, PathEscapeError } from '../../src/snapshot/fsroot.js';
import { CpuFormatError, MAX_CPU_TEXT, parseCpuList, parseCpuMask } from '../../src/cpumask/cpumask.js';
import { compileGlob, globMatch, GlobError } from '../../src/policy/match.js';
import { MAX_POLICY_ERRORS } from '../../src/policy/errors.js';
import { validatePolicy } from '../../src/policy/policy.js';
import { takeSnapshot } from '../../src/snapshot/snapshot.js';
import { plan } from '../../src/planner/planner.js';
import { defaultPolicy } from '../../src/policy/policy.js';
import { fixtureTmpDir } from '../../fixture/fixture.js';
import { cli, fixture, oneLine } from './helpers.js';

describe('hostile: link loops', () => {
  it('a device link loop (a -> b -> a) does not crash plan, apply or a snapshot', () => {
    const fx = fixture();
    try {
      const dev = path.join(fx.root, 'sys/class/net/eth0');
      const real = fs.realpathSync(dev);
      fs.rmSync(path.join(real, 'device'));
      fs.symlinkSync('loop-b', path.join(real, 'device'));
      fs.symlinkSync('device', path.join(real, 'loop-b'));
      // And a tty whose device link points at itself.
      fs.mkdirSync(path.join(fx.root, 'sys/class/tty/ttyS9'), { recursive: true });
      fs.symlinkSync('device', path.join(fx.root, 'sys/class/tty/ttyS9/device'));
      assert.equal(new FsRoot(fx.root).resolve('/sys/class/net/eth0/device'), null);
      const s = takeSnapshot(fx.root);
      assert.ok(s.nics.length > 0);
      for (const args of [['plan'], ['apply', '--dry-run']]) {
        const r = cli([...args, '--root', fx.root]);
        assert.equal(r.status, 0, r.stderr);
      }
    } finally {
      fx.done();
    }
  });

  it('generated: any graph of links resolves or gives up, never throws or recurses without end (fast-check)', () => {
    const base = fs.mkdtempSync(path.join(fixtureTmpDir(), 'affinityd-links-'));
    try {
      let n = 0;
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.constantFrom('abs', 'rel', 'up', 'dir')), { minLength: 1, maxLength: 6 }),
          fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 4 }),
          (nodes, walk) => {
            const root = path.join(base, String(n++));
            fs.mkdirSync(root);
            nodes.forEach(([to, kind], i) => {
              const p = path.join(root, `n${i}`);
              if (kind === 'dir') fs.mkdirSync(p);
              else fs.symlinkSync(kind === 'abs' ? `/n${to}` : kind === 'rel' ? `n${to}` : `../../n${to}`, p);
            });
            const fsr = new FsRoot(root);
            const p = '/' + walk.map((i) => `n${i}`).join('/');
            const r = fsr.resolve(p);
            assert.ok(r === null || r.startsWith('/'));
            try {
              const w = fsr.writablePath(p);
              assert.ok(w === root || w.startsWith(root + '/'), `${w} is inside ${root}`);
            } catch (e) {
              assert.ok(e instanceof PathEscapeError, String(e));
            }
          },
        ),
        { numRuns: 300 },
      );
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});

describe('hostile: bounded memory and time', () => {
  it('a 14 KB cpulist of repeated 0-8191 parses to 8192 CPUs; 210 KB is refused with a short message', () => {
    const small = Array(2000).fill('0-8191').join(',');
    assert.equal(parseCpuList(small).length, 8192);
    const big = Array(30_000).fill('0-8191').join(',');
    assert.ok(big.length > MAX_CPU_TEXT);
    assert.throws(() => parseCpuList(big), (e: unknown) => e instanceof CpuFormatError && e.message.length < 300);
    assert.throws(() => parseCpuMask('0,'.repeat(40_000)), (e: unknown) => e instanceof CpuFormatError && e.message.length < 300);
  });

  it('generated: cpulists parse to what a naive expansion gives, or a short CpuFormatError (fast-check)', () => {
    const elem = fc.oneof(
      fc.integer({ min: 0, max: 9000 }).map(String),
      fc.tuple(fc.integer({ min: 0, max: 9000 }), fc.integer({ min: 0, max: 9000 })).map(([a, b]) => `${a}-${b}`),
      fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 9 })).map(([a, b, u, g]) => `${a}-${b}:${u}/${g}`),
      fc.string({ maxLength: 6 }),
    );
    fc.assert(
      fc.property(fc.array(elem, { maxLength: 40 }), (parts) => {
        const text = parts.join(',');
        let got: number[] | null = null;
        try {
          got = parseCpuList(text);
        } catch (e) {
          assert.ok(e instanceof CpuFormatError, String(e));
          assert.ok((e as Error).message.length < 400);
          return;
        }
        // Naive oracle (fine for these small inputs).
        const want = new Set<number>();
        for (const p of text.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
          const m = /^(\d+)(?:-(\d+)(?::(\d+)\/(\d+))?)?$/.exec(p)!;
          const lo = Number(m[1]);
          const hi = m[2] === undefined ? lo : Number(m[2]);
          const used = m[3] === undefined ? 1 : Number(m[3]);
          const group = m[4] === undefined ? 1 : Number(m[4]);
          for (let b = lo; b <= hi; b += group) for (let k = 0; k < used && b + k <= hi; k++) want.add(b + k);
        }
        assert.deepEqual(got, [...want].sort((a, b) => a - b));
      }),
      { numRuns: 500 },
    );
  });

  it('an empty cpu99999999 directory is ignored with a warning, not a 400 MB array', () => {
    const fx = fixture();
    try {
      fs.mkdirSync(path.join(fx.root, 'sys/devices/system/cpu/cpu99999999'));
      const s = takeSnapshot(fx.root);
      assert.ok(s.warnings.some((w) => /cpu99999999.*beyond 8191/.test(w)), s.warnings.join('\n'));
      assert.ok(s.topology.cpus.every((c) => c.cpu < 8192));
      plan(s, defaultPolicy());
    } finally {
      fx.done();
    }
  });

  it('a garbled /proc/interrupts: a bounded list of warnings, and a header it cannot read falls back to /proc/irq', () => {
    const fx = fixture();
    try {
      const file = path.join(fx.root, 'proc/interrupts');
      const good = fs.readFileSync(file, 'utf8');
      fs.writeFileSync(file, good + `${'x'.repeat(100)} no colon here\n`.repeat(20_000));
      const s = takeSnapshot(fx.root);
      assert.ok(s.irqs.length > 0);
      assert.ok(s.warnings.length <= 110, `${s.warnings.length} warnings`);
      assert.ok(s.warnings.some((w) => /more odd line\(s\) not listed/.test(w)));
      assert.ok(s.warnings.every((w) => w.length < 400));
      fs.writeFileSync(file, `${'CPUx'.repeat(10_000)}\n 38: 1 2 PCI-MSIX 0-edge virtio2-input.0\n`);
      const g = takeSnapshot(fx.root);
      assert.ok(g.warnings.some((w) => /garbled header.*taken from \/proc\/irq/.test(w)), g.warnings.join('\n'));
      assert.ok(g.irqs.some((i) => i.irq === 38));
    } finally {
      fx.done();
    }
  });

  it('tens of MB of bad config lines: one line, exit 78, no heap death; in-process errors are capped', () => {
    const fx = fixture();
    try {
      const file = path.join(fx.root, 'huge.ini');
      fs.writeFileSync(file, 'not a line of ini\n'.repeat(1_500_000));
      const r = cli(['check-config', '--config', file]);
      assert.equal(r.status, 78);
      assert.match(oneLine(r.stderr), /larger than the 1048576-byte limit: refused/);
      const text = '[cpus]\n' + 'bad line here\n'.repeat(60_000);
      const errors = validatePolicy(text, 'mem.ini');
      assert.equal(errors.length, MAX_POLICY_ERRORS + 1);
      assert.match(errors.at(-1)!.message, /59900 more problem\(s\) not listed/);
    } finally {
      fx.done();
    }
  });

  it('error lines quote at most a short excerpt of what they found', () => {
    const fx = fixture();
    try {
      const file = path.join(fx.root, 'long.ini');
      fs.writeFileSync(file, `[cpus]\nexclude-cpus = ${'1x'.repeat(50_000)}\n[${'s'.repeat(100_000)}\n${'k'.repeat(100_000)} = 1\n`);
      const r = cli(['check-config', '--config', file]);
      assert.equal(r.status, 78);
      assert.ok(oneLine(r.stderr).length < 400, `${r.stderr.length} chars`);
    } finally {
      fx.done();
    }
  });

  it('`*?*?*?…x` against a long name is linear-ish, not exponential (the run would time out)', { timeout: 20_000 }, () => {
    const glob = '*?'.repeat(100) + 'x';
    const name = 'a'.repeat(4000);
    for (let i = 0; i < 20; i++) assert.equal(globMatch(glob, name), false);
    assert.equal(globMatch(glob, name + 'x'), true);
  });

  it('generated: the glob matcher agrees with fnmatch semantics (a RegExp oracle on short inputs) (fast-check)', () => {
    const globChar = fc.constantFrom('a', 'b', '.', '-', '*', '?', '[ab]', '[!a]', '[a-b]', '\\*', '[]a]');
    fc.assert(
      fc.property(fc.array(globChar, { maxLength: 8 }), fc.stringMatching(/^[ab.*\-\]]{0,10}$/), (parts, text) => {
        const glob = parts.join('');
        const re = new RegExp(
          '^' +
            parts
              .map((p) => (({ '*': '.*', '?': '.', '[ab]': '[ab]', '[!a]': '[^a]', '[a-b]': '[a-b]', '\\*': '\\*', '[]a]': '[\\]a]', '.': '\\.', '-': '-' }) as Record<string, string>)[p] ?? p)
              .join('') +
            '$',
          's',
        );
        assert.equal(globMatch(glob, text), re.test(text), `${glob} vs ${text}`);
      }),
      { numRuns: 1000 },
    );
  });

  it('generated: any glob text compiles or is a GlobError, never anything else (fast-check)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z09\[\]!^\-\\*?]{0,12}$/), (g) => {
        try {
          compileGlob(g).test('eth0');
        } catch (e) {
          assert.ok(e instanceof GlobError, `${g}: ${String(e)}`);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
