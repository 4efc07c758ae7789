// Classes 5, 6 and 7 (issue 10): internal errors that escaped as exit 1 (a reversed glob
// class, an unparseable read-back, no online CPU), silent loss (a journal nobody reads, a
// policy the loader skipped without a word), and error classes that were sticky or too broad
// (EPERM remembered forever, state.targets recording what was never applied, EIO on one
// xps_cpus as "needs root").
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import fc from 'fast-check';
import { applyWrites } from '../../src/applier/applier.js';
import type { Write } from '../../src/applier/diff.js';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { JournalClient } from '../../src/audit/journald.js';
import { plan } from '../../src/planner/planner.js';
import { defaultPolicy, loadPolicy, PolicyError } from '../../src/policy/policy.js';
import { MANAGED_RETRY_MS, reconcile } from '../../src/reconcile/reconcile.js';
import { emptyState } from '../../src/state/state.js';
import { snap, withOnline } from '../helpers/snap.js';
import { fixtureTmpDir } from '../../fixture/fixture.js';
import { cli, fixture, oneLine, rootPolicy } from './helpers.js';

const require = createRequire(import.meta.url);
const unixDgram = require('unix-dgram') as { createSocket(t: 'unix_dgram'): { bind(p: string): void; close(): void; on(e: string, l: () => void): void } };

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  return {
    stream: new Writable({
      write(chunk: Buffer, _e, cb) {
        text += chunk.toString();
        cb();
      },
    }),
    text: () => text,
  };
}

describe('hostile: internal errors become clear messages', () => {
  it('eth[9-0] is a config error (78) naming file, line and key', () => {
    const fx = fixture();
    try {
      const file = path.join(fx.root, 'glob.ini');
      fs.writeFileSync(file, '[net:x]\nmatch-name = eth[9-0]\n');
      const r = cli(['check-config', '--config', file]);
      assert.equal(r.status, 78);
      assert.match(oneLine(r.stderr), new RegExp(`^affinityd: ${file}:2: \\[net:x\\] match-name: reversed range '9-0'`));
      fs.writeFileSync(file, '[irq:x]\nmatch-irq = timer[z-a]\n');
      assert.match(oneLine(cli(['plan', '--config', file, '--root', fx.root]).stderr), /:2: \[irq:x\] match-irq: reversed range 'z-a'/);
    } finally {
      fx.done();
    }
  });

  it('generated: any glob in any match key loads or is a PolicyError (fast-check)', () => {
    fc.assert(
      fc.property(fc.constantFrom('match-name', 'match-driver', 'match-pci', 'match-mac'), fc.stringMatching(/^[a-z0-9[\]!^\-\\*?:.]{1,12}$/), (key, glob) => {
        const dir = fs.mkdtempSync(path.join(fixtureTmpDir(), 'affinityd-glob-'));
        try {
          const file = path.join(dir, 'p.ini');
          fs.writeFileSync(file, `[net:g]\n${key} = ${glob}\n`);
          try {
            loadPolicy({ configFile: file });
          } catch (e) {
            assert.ok(e instanceof PolicyError, `${key} = ${glob}: ${String(e)}`);
            assert.match(e.message, /p\.ini:2: \[net:g\] match-/);
          }
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a read-back the verifier cannot parse is that target failing, not an exception mid-apply', () => {
    const fx = fixture();
    try {
      const file = '/proc/irq/38/smp_affinity_list';
      const w: Write = { kind: 'irq', target: 'irq/38', path: file, value: 'zz-garbage', old: '0-1', new: '1', cpus: [1], irq: 38, policy: null, reason: 'test' };
      const other: Write = { ...w, target: 'irq/39', path: '/proc/irq/39/smp_affinity_list', value: '1', irq: 39 };
      const r = applyWrites([w, other], { root: fx.root });
      assert.equal(r.changes[0]!.outcome, 'failed');
      assert.match(r.changes[0]!.error ?? '', /unparseable/);
      assert.equal(r.changes[1]!.outcome, 'applied', 'the run goes on');
    } finally {
      fx.done();
    }
  });

  it('an empty online CPU set plans without recursing forever and writes nothing', () => {
    const s = withOnline(snap({ sockets: 1, coresPerSocket: 4, threadsPerCore: 2, nics: [{ name: 'eth0', node: 0, queues: 4 }] }), []);
    const p = plan(s, defaultPolicy());
    assert.ok(p.irqs.every((i) => i.desired === null || i.desired.every((c) => c >= 0)));
    assert.ok(p.warnings.some((w) => /no CPU is online/.test(w)), p.warnings.join('\n'));
  });
});

describe('hostile: nothing is lost without a word', () => {
  it('a journal socket nobody listens on: records go to the fallback stream, stderr says how many, retries stop', async () => {
    const dir = fs.mkdtempSync(path.join(fixtureTmpDir(), 'affinityd-jd-'));
    try {
      // What a journald that died leaves behind: its socket file, nobody bound.
      const stale = path.join(dir, 'socket');
      const s = unixDgram.createSocket('unix_dgram');
      s.bind(stale);
      s.close();
      const out = sink();
      const warn = sink();
      const log = createAuditLog({ journal: 'on', socketPath: stale, stdout: out.stream, warn: warn.stream, client: { retryMinMs: 5, retryMaxMs: 10, giveUpMs: 100 } });
      for (let i = 0; i < 3; i++) log.record({ kind: 'applied', message: `irq ${40 + i} 0-1 -> 1: test`, irq: 40 + i });
      // The agent never calls close between passes: the client must give up by itself.
      const deadline = Date.now() + 5000;
      while (log.stats()!.undelivered < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(log.stats()!.undelivered, 3);
      assert.equal(log.stats()!.queued, 0, 'nothing queued, so nothing to retry');
      assert.deepEqual(out.text().trim().split('\n').map((l) => (JSON.parse(l) as { irq: number }).irq), [40, 41, 42]);
      assert.match(warn.text(), /^affinityd: 3 audit record\(s\) not delivered to the journal: the journal accepted nothing for 0 s \(ECONNREFUSED/);
      await log.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a journal that never reads (EAGAIN): every record is either accepted or handed over, counted', async () => {
    const dir = fs.mkdtempSync(path.join(fixtureTmpDir(), 'affinityd-jd-'));
    const p = path.join(dir, 'socket');
    // A wedged journald: a process that binds the socket and then never reads (its event loop
    // is blocked), so its queue fills and sendto() answers EAGAIN.
    const wedged = spawn(process.execPath, ['-e', `const s = require(${JSON.stringify(require.resolve('unix-dgram'))}).createSocket('unix_dgram'); s.bind(${JSON.stringify(p)}); process.stdout.write('ready\\n'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        wedged.stdout.once('data', () => resolve());
        wedged.once('exit', (c) => reject(new Error(`wedged journald exited ${c}`)));
      });
      const handed: number[] = [];
      const client = new JournalClient({ socketPath: p, retryMinMs: 5, retryMaxMs: 10, giveUpMs: 150, onUndelivered: (rs) => handed.push(rs.length) });
      const total = 300;
      for (let i = 0; i < total; i++) client.send({ MESSAGE: `m${i}`, SYSLOG_IDENTIFIER: 'affinityd' }, `line ${i}\n`);
      assert.equal(await client.close(3000), false);
      const st = client.stats;
      assert.ok(st.undelivered > 0, JSON.stringify(st));
      assert.equal(st.sent + st.undelivered, total, JSON.stringify(st));
      assert.equal(handed.reduce((a, b) => a + b, 0), st.undelivered);
      assert.match(st.lastError ?? '', /EAGAIN/);
    } finally {
      wedged.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a policy the loader cannot read is exit 78, never the defaults applied in silence', () => {
    const cases: [string, (etc: string) => void, RegExp][] = [
      ['drop-in directory is a file', (etc) => fs.writeFileSync(path.join(etc, 'affinityd.d'), 'x'), /affinityd\.d: cannot read the drop-in directory: a path component is not a directory|ENOTDIR/],
      ['dangling drop-in link', (etc) => (fs.mkdirSync(path.join(etc, 'affinityd.d')), fs.symlinkSync('/nonexistent/x.ini', path.join(etc, 'affinityd.d/10-x.ini'))), /10-x\.ini: cannot read policy file: dangling symbolic link/],
      ['looping drop-in link', (etc) => (fs.mkdirSync(path.join(etc, 'affinityd.d')), fs.symlinkSync('20-y.ini', path.join(etc, 'affinityd.d/20-y.ini'))), /20-y\.ini: cannot read policy file: too many levels of symbolic links/],
      ['main file is a directory', (etc) => fs.mkdirSync(path.join(etc, 'affinityd.ini')), /affinityd\.ini: cannot read policy file: is a directory/],
      ['main file dangles', (etc) => fs.symlinkSync('gone.ini', path.join(etc, 'affinityd.ini')), /affinityd\.ini: cannot read policy file: dangling symbolic link/],
    ];
    // The policy is loaded before anything else is read: an empty tree is root enough.
    const base = fs.mkdtempSync(path.join(fixtureTmpDir(), 'affinityd-pol-'));
    try {
      cases.forEach(([what, make, want], i) => {
        const root = path.join(base, String(i));
        const etc = path.join(root, 'etc/affinityd');
        fs.mkdirSync(etc, { recursive: true });
        make(etc);
        const r = cli(['plan', '--root', root]);
        assert.equal(r.status, 78, `${what}: ${r.stderr}`);
        assert.match(oneLine(r.stderr), want, what);
      });
      const root = path.join(base, 'etc-file');
      fs.mkdirSync(root);
      fs.writeFileSync(path.join(root, 'etc'), 'not a directory');
      const r = cli(['plan', '--root', root]);
      assert.equal(r.status, 78, r.stderr);
      assert.match(oneLine(r.stderr), /affinityd\.ini: cannot read policy file: a path component is not a directory/);
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});

describe('hostile: error classes are neither sticky nor over-broad', () => {
  it('a refused IRQ is retried once the refusal is older than MANAGED_RETRY_MS', () => {
    const fx = fixture();
    try {
      const first = reconcile({ root: fx.root, policy: defaultPolicy(), state: emptyState(), trigger: 'test' });
      const irq = first.plan.irqs.find((i) => i.desired !== null)!;
      const state = { ...first.state, managed: { [irq.irq]: irq.name }, managedSince: { [irq.irq]: first.state.appliedAt } };
      const at = (ms: number) => () => new Date(Date.parse(first.state.appliedAt) + ms);
      const soon = reconcile({ root: fx.root, policy: defaultPolicy(), state, trigger: 'test', dryRun: true, now: at(60_000) });
      assert.match(soon.plan.irqs.find((i) => i.irq === irq.irq)!.reason, /kernel-managed/);
      const later = reconcile({ root: fx.root, policy: defaultPolicy(), state, trigger: 'test', now: at(MANAGED_RETRY_MS + 1) });
      assert.doesNotMatch(later.plan.irqs.find((i) => i.irq === irq.irq)!.reason, /kernel-managed/);
      assert.equal(later.state.managed[irq.irq], undefined, 'a retry that is not refused forgets the refusal');
    } finally {
      fx.done();
    }
  });

  it('state.targets records only what was applied: a failed write is not recorded (no false drift)', () => {
    const fx = fixture();
    try {
      const dry = reconcile({ root: fx.root, policy: defaultPolicy(), state: emptyState(), trigger: 'test', dryRun: true });
      const victim = dry.report.changes.find((c) => c.write.kind === 'rps')!.write;
      const suffix = `net/${victim.interface}/queues/${victim.queue}/rps_cpus`;
      const writeFile = (file: string, value: string): void => {
        if (file.endsWith(suffix)) throw Object.assign(new Error('EBUSY'), { code: 'EBUSY' });
        fs.writeFileSync(file, value);
      };
      const r = reconcile({ root: fx.root, policy: defaultPolicy(), state: emptyState(), trigger: 'test', apply: { writeFile } });
      assert.equal(r.report.changes.find((c) => c.write.target === victim.target)?.outcome, 'failed');
      assert.equal(r.state.targets[victim.target], undefined);
      assert.ok(Object.keys(r.state.targets).length > 0, 'the others are recorded');
    } finally {
      fx.done();
    }
  });

  it('EIO on one xps_cpus write (as root) is that target failing, not exit 77 for the run; EPERM is a permission error only without CAP_NET_ADMIN', () => {
    const fx = fixture();
    try {
      const dry = reconcile({ root: fx.root, policy: defaultPolicy(), state: emptyState(), trigger: 'test', dryRun: true });
      const writes = dry.report.changes.map((c) => c.write);
      const xps = writes.find((w) => w.kind === 'xps')!;
      assert.ok(xps, 'the fixture has an XPS write');
      const failWith = (code: string) => (file: string, value: string) => {
        if (file.endsWith(`net/${xps.interface}/queues/${xps.queue}/xps_cpus`)) throw Object.assign(new Error(code), { code });
        fs.writeFileSync(file, value);
      };
      const eio = applyWrites(writes, { root: fx.root, writeFile: failWith('EIO'), netAdmin: true });
      assert.equal(eio.permissionError, null);
      assert.equal(eio.changes.find((c) => c.write === xps)!.outcome, 'failed');
      assert.ok(eio.changes.filter((c) => c.write !== xps).every((c) => c.outcome === 'applied'));
      assert.equal(applyWrites([xps], { root: fx.root, writeFile: failWith('EIO'), netAdmin: false }).permissionError, null);
      assert.equal(applyWrites([xps], { root: fx.root, writeFile: failWith('EPERM'), netAdmin: true }).permissionError, null);
      assert.match(applyWrites([xps], { root: fx.root, writeFile: failWith('EPERM'), netAdmin: false }).permissionError ?? '', /CAP_NET_ADMIN/);
    } finally {
      fx.done();
    }
  });
});
