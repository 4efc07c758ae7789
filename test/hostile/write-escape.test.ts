// Class 1 (issue 10): writes never leave --root. Fixture trees whose links point out of the
// tree — absolute links, links that climb with `..`, a whole `proc` pointing elsewhere — and
// state-file paths that climb: apply must refuse or stay inside, and a decoy directory outside
// the root (holding a copy of what the links point at) must come out byte for byte unchanged.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { reconcile } from '../../src/reconcile/reconcile.js';
import { defaultPolicy } from '../../src/policy/policy.js';
import { emptyState, readState, stateFilePath, writeState } from '../../src/state/state.js';
import { FsRoot, PathEscapeError } from '../../src/snapshot/fsroot.js';
import { cli, decoy, fixture, oneLine, rootPolicy } from './helpers.js';

/** In-root paths apply would write on a fresh fixture (dry run). */
function writeTargets(root: string): string[] {
  const r = reconcile({ root, policy: defaultPolicy(), state: emptyState(), trigger: 'test', dryRun: true });
  return r.report.changes.map((c) => c.write.path);
}

/**
 * Replace the directory at in-root `prefix` with a link to a copy of it inside the decoy:
 * `absolute` links name the decoy's host path, otherwise the link climbs out with `..`.
 */
function divert(root: string, prefix: string, decoyDir: string, absolute: boolean): void {
  const host = fs.realpathSync(path.join(root, prefix));
  assert.ok(host.startsWith(root + '/'), `${prefix} resolves inside the root`);
  const copy = path.join(decoyDir, path.relative(root, host));
  fs.mkdirSync(path.dirname(copy), { recursive: true });
  fs.cpSync(host, copy, { recursive: true, verbatimSymlinks: true });
  fs.rmSync(host, { recursive: true, force: true });
  fs.symlinkSync(absolute ? copy : path.relative(path.dirname(host), copy), host);
}

describe('hostile: writes stay inside --root', () => {
  it('an absolute /proc/irq/N link, a climbing queues/rx-0 link and a diverted proc: nothing outside changes', () => {
    for (const [what, prefixOf, absolute] of [
      ['absolute proc/irq/N', (t: string[]) => path.posix.dirname(t.find((p) => p.startsWith('/proc/irq/'))!), true],
      ['climbing queues/rx-0', (t: string[]) => path.posix.dirname(t.find((p) => p.includes('/queues/rx-'))!), false],
      ['proc pointing elsewhere', () => '/proc', true],
    ] as const) {
      const fx = fixture();
      const d = decoy();
      try {
        rootPolicy(fx.root);
        divert(fx.root, prefixOf(writeTargets(fx.root)), d.dir, absolute);
        const before = d.fingerprint();
        const r = cli(['apply', '--root', fx.root, '--json']);
        assert.ok(r.status === 0 || r.status === 1, `${what}: exit ${r.status}: ${r.stderr}`);
        assert.equal(d.fingerprint(), before, `${what}: a write left the root`);
        const out = JSON.parse(r.stdout) as { changes: { target: string; outcome: string; error: string | null }[] };
        assert.ok(out.changes.length > 0, `${what}: apply had something to write`);
      } finally {
        d.done();
        fx.done();
      }
    }
  });

  it('generated: a link anywhere on a write path, absolute or climbing, never carries a write out (fast-check)', () => {
    const fx = fixture();
    const targets = writeTargets(fx.root);
    fx.done();
    // Every directory prefix of every target that is a real directory in the tree.
    const prefixes = [...new Set(targets.flatMap((t) => t.split('/').slice(2, -1).map((_, i, a) => '/' + t.split('/').slice(1, i + 2).join('/'))))];
    fc.assert(
      fc.property(fc.constantFrom(...prefixes), fc.boolean(), (prefix, absolute) => {
        const fx2 = fixture();
        const d = decoy();
        try {
          rootPolicy(fx2.root);
          divert(fx2.root, prefix, d.dir, absolute);
          const before = d.fingerprint();
          // (A diverted /sys may leave nothing to write: reads resolve in-root too.)
          reconcile({ root: fx2.root, policy: defaultPolicy(), state: emptyState(), trigger: 'test' });
          assert.equal(d.fingerprint(), before, `a write through ${prefix} (${absolute ? 'absolute' : 'climbing'}) left the root`);
        } finally {
          d.done();
          fx2.done();
        }
      }),
      { numRuns: 15 },
    );
  });

  it('writablePath: `..` above the root is refused, absolute links are taken relative to the root', () => {
    const fx = fixture();
    try {
      const root = new FsRoot(fx.root);
      assert.throws(() => root.writablePath('/proc/../../etc/passwd'), (e: unknown) => e instanceof PathEscapeError && e.code === 'EXDEV');
      fs.symlinkSync('/etc', path.join(fx.root, 'etc-link'));
      assert.equal(root.writablePath('/etc-link/passwd'), path.join(fx.root, 'etc/passwd'));
      fs.symlinkSync('../../../../../../../../etc', path.join(fx.root, 'climb'));
      assert.throws(() => root.writablePath('/climb/passwd'), /outside the root/);
    } finally {
      fx.done();
    }
  });

  it('[agent] state-file = /../../.. is a config error naming file, line and key (exit 78)', () => {
    const fx = fixture();
    try {
      fs.mkdirSync(path.join(fx.root, 'etc/affinityd'), { recursive: true });
      const ini = path.join(fx.root, 'etc/affinityd/affinityd.ini');
      for (const bad of ['/../../..', '/var/lib/../../../tmp/x', '/var/lib/affinityd/']) {
        fs.writeFileSync(ini, `[agent]\nstate-file = ${bad}\n`);
        const r = cli(['apply', '--root', fx.root]);
        assert.equal(r.status, 78, r.stderr);
        assert.match(oneLine(r.stderr), new RegExp(`^affinityd: ${ini.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: \\[agent\\] state-file: `));
      }
    } finally {
      fx.done();
    }
  });

  it('a state directory that links out of the root: climbing is refused, absolute stays inside', () => {
    const fx = fixture();
    const d = decoy();
    try {
      rootPolicy(fx.root);
      fs.mkdirSync(path.join(fx.root, 'var/lib'), { recursive: true });
      fs.symlinkSync(path.relative(path.join(fx.root, 'var/lib'), d.dir), path.join(fx.root, 'var/lib/affinityd'));
      const r = cli(['apply', '--root', fx.root]);
      assert.equal(r.status, 1);
      assert.match(oneLine(r.stderr), /state file .*outside the root.*refused/);
      assert.deepEqual(fs.readdirSync(d.dir), []);

      fs.rmSync(path.join(fx.root, 'var/lib/affinityd'));
      fs.symlinkSync(d.dir, path.join(fx.root, 'var/lib/affinityd'));
      const file = stateFilePath(fx.root, '/var/lib/affinityd/state.json');
      assert.ok(file.startsWith(fx.root + '/'), file);
      const ok = cli(['apply', '--root', fx.root]);
      assert.equal(ok.status, 0, ok.stderr);
      assert.deepEqual(fs.readdirSync(d.dir), [], 'nothing written into the decoy');
      assert.ok(fs.existsSync(path.join(fx.root, d.dir, 'state.json')), 'the state went inside the root');
    } finally {
      d.done();
      fx.done();
    }
  });

  it('a state file that is a link is replaced, never written through; a link is not read', () => {
    const d = decoy();
    const dir = fs.mkdtempSync(path.join(d.dir, '..', 'affinityd-state-'));
    try {
      const victim = path.join(d.dir, 'victim');
      fs.writeFileSync(victim, 'precious\n');
      const file = path.join(dir, 'state.json');
      fs.symlinkSync(victim, file);
      assert.match(readState(file).problem ?? '', /symbolic link/);
      writeState(file, emptyState());
      assert.equal(fs.readFileSync(victim, 'utf8'), 'precious\n');
      assert.ok(fs.lstatSync(file).isFile());
      assert.deepEqual(fs.readdirSync(dir), ['state.json'], 'no temp file left behind');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      d.done();
    }
  });
});
