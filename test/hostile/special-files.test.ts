// Classes 9, 10 and 11 (issue 10): special files where regular ones belong (a FIFO hung
// forever, /dev/zero ended in std::bad_alloc), control characters reaching the terminal,
// and the rtnetlink sender check per datagram.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { NetlinkSocket, type RawNetlinkSocket } from 'netlink';
import { applyWrites } from '../../src/applier/applier.js';
import { readState } from '../../src/state/state.js';
import { takeSnapshot } from '../../src/snapshot/snapshot.js';
import { reconcile } from '../../src/reconcile/reconcile.js';
import { defaultPolicy } from '../../src/policy/policy.js';
import { emptyState } from '../../src/state/state.js';
import { openLinkSocket, type LinkNotification, type NlSender } from '../../src/agent/netlink-adapter.js';
import { printable } from '../../src/text/printable.js';
import { assertPrintable, cli, fixture, oneLine, rootPolicy } from './helpers.js';

function mkfifo(p: string): void {
  fs.rmSync(p, { force: true });
  execFileSync('mkfifo', [p]);
}

/** A character device like /dev/zero inside the tree (root can mknod; CI runs as root). */
function mkzero(p: string): boolean {
  fs.rmSync(p, { force: true });
  try {
    execFileSync('mknod', [p, 'c', '1', '5'], { stdio: 'ignore' });
    return true;
  } catch {
    fs.symlinkSync('/dev/zero', p);
    return false;
  }
}

describe('hostile: special files where regular files belong', () => {
  it('a FIFO or /dev/zero as the config file: exit 78 at once, one line', () => {
    const fx = fixture();
    try {
      const fifo = path.join(fx.root, 'fifo.ini');
      mkfifo(fifo);
      const r = cli(['check-config', '--config', fifo], { timeoutMs: 10_000 });
      assert.equal(r.status, 78);
      assert.match(oneLine(r.stderr), /fifo\.ini: cannot read policy file: a FIFO, not a regular file: refused/);
      const zero = path.join(fx.root, 'zero.ini');
      fs.symlinkSync('/dev/zero', zero);
      const z = cli(['check-config', '--config', zero], { timeoutMs: 10_000 });
      assert.equal(z.status, 78);
      assert.match(oneLine(z.stderr), /zero\.ini: cannot read policy file: a character device, not a regular file: refused/);
    } finally {
      fx.done();
    }
  });

  it('a FIFO or a zero device as the state file: an empty state and one warning, apply goes on', () => {
    const fx = fixture();
    try {
      rootPolicy(fx.root);
      const state = path.join(fx.root, 'var/lib/affinityd/state.json');
      fs.mkdirSync(path.dirname(state), { recursive: true });
      for (const make of [mkfifo, mkzero]) {
        make(state);
        assert.match(readState(state).problem ?? '', /not a regular file|symbolic link/);
        const r = cli(['apply', '--root', fx.root, '--dry-run'], { timeoutMs: 10_000 });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('affinityd: warning:')).length, 1, r.stderr);
      }
    } finally {
      fx.done();
    }
  });

  it('a FIFO or a zero device as /proc/interrupts: a warning, and the plan still comes', () => {
    const fx = fixture();
    try {
      for (const make of [mkfifo, mkzero]) {
        make(path.join(fx.root, 'proc/interrupts'));
        const s = takeSnapshot(fx.root);
        assert.ok(s.warnings.some((w) => /\/proc\/interrupts: .*(not a regular file|refused)/.test(w) || /\/proc\/interrupts: missing/.test(w)), s.warnings.join('\n'));
        const r = cli(['plan', '--root', fx.root], { timeoutMs: 10_000 });
        assert.equal(r.status, 0, r.stderr);
      }
    } finally {
      fx.done();
    }
  });

  it('a FIFO or a device as a write target is that target failing, never a hang or a write into it', () => {
    const fx = fixture();
    try {
      const dry = reconcile({ root: fx.root, policy: defaultPolicy(), state: emptyState(), trigger: 'test', dryRun: true });
      const [a, b] = dry.report.changes.filter((c) => c.write.kind === 'irq').map((c) => c.write);
      assert.ok(a && b);
      mkfifo(path.join(fx.root, a.path));
      const isDevice = mkzero(path.join(fx.root, b.path));
      const r = applyWrites([a, b], { root: fx.root });
      assert.equal(r.changes[0]!.outcome, 'failed');
      assert.match(r.changes[0]!.error ?? '', /^(ENXIO|ENOTREG)/);
      assert.equal(r.changes[1]!.outcome, isDevice ? 'failed' : 'skipped-vanished', r.changes[1]!.error);
      assert.equal(r.permissionError, null);
    } finally {
      fx.done();
    }
  });
});

/**
 * Strings of UTF-16 code units, weighted towards the troublesome ones (C0, DEL, C1, bidi
 * controls, surrogates). fc.string({ unit: 'binary' }) takes seconds per few hundred samples.
 */
const nastyText = (maxLength: number) =>
  fc
    .array(fc.oneof(fc.integer({ min: 0, max: 0x20 }), fc.integer({ min: 0x7f, max: 0xa0 }), fc.integer({ min: 0x2020, max: 0x206f }), fc.integer({ min: 0xd800, max: 0xdfff }), fc.integer({ min: 0x21, max: 0x7e }), fc.integer({ min: 0, max: 0xffff })), { maxLength })
    .map((codes) => String.fromCharCode(...codes));

describe('hostile: nothing printed raw to a terminal', () => {
  it('an ESC sequence in a config line and in an IRQ name comes out escaped', () => {
    const fx = fixture();
    try {
      const file = path.join(fx.root, 'esc.ini');
      fs.writeFileSync(file, '[cpus]\n\u001b]0;owned\u0007\u001b[2J = 1\n');
      const r = cli(['check-config', '--config', file]);
      assert.equal(r.status, 78);
      assertPrintable(r.stderr, 'stderr');
      assert.match(r.stderr, /\\u001b\]0;owned\\u0007/);
      // An IRQ whose action name carries a CSI sequence, matched by an [irq:] section.
      const actions = path.join(fx.root, 'sys/kernel/irq/26/actions');
      fs.writeFileSync(actions, 'ttyS0\u001b[31m\u009b1m\n');
      rootPolicy(fx.root, '[irq:serial]\nmatch-irq = ttyS0*\nstrategy = pin\npin = 1\n');
      for (const args of [['plan'], ['plan', '--json'], ['apply', '--dry-run']]) {
        const p = cli([...args, '--root', fx.root]);
        assert.equal(p.status, 0, p.stderr);
        assertPrintable(p.stdout, `${args.join(' ')} stdout`);
        if (args[0] === 'plan') assert.match(p.stdout, /ttyS0\\u001b\[31m\\u009b1m/);
      }
      const json = cli(['plan', '--json', '--root', fx.root]);
      assert.equal((JSON.parse(json.stdout) as { irqs: { irq: number; name: string }[] }).irqs.find((i) => i.irq === 26)?.name, 'ttyS0\u001b[31m\u009b1m', 'JSON stays exact');
    } finally {
      fx.done();
    }
  });

  it('audit JSON lines (the stdout sink, the fallback stream) carry no raw C1/bidi control and stay exact JSON', async () => {
    let text = '';
    const stream = new Writable({
      write(chunk: Buffer, _e, cb) {
        text += chunk.toString();
        cb();
      },
    });
    const log = createAuditLog({ journal: 'off', stdout: stream });
    const message = 'irq 26 (tty\u009b31m\u202e\u001b[2J) 0-1 -> 1: test';
    log.record({ kind: 'applied', message, irq: 26 });
    await log.close();
    assertPrintable(text, 'audit line');
    assert.doesNotMatch(text, /\u202e/);
    assert.equal((JSON.parse(text) as { message: string }).message, message);
  });

  it('generated: printable() leaves no control character and keeps everything else (fast-check)', () => {
    fc.assert(
      fc.property(nastyText(40), (s) => {
        const p = printable(s);
        assertPrintable(p.replace(/\t/g, ' '), 'printable()');
        assert.doesNotMatch(p, /[\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
        // Nothing but the unsafe characters changes.
        if (!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069\ud800-\udfff]/.test(s)) assert.equal(p, s);
      }),
      { numRuns: 2000 },
    );
  });

  it('generated: whatever a config line holds, the error line is one printable line (fast-check)', () => {
    const fx = fixture();
    try {
      const file = path.join(fx.root, 'gen.ini');
      fc.assert(
        fc.property(nastyText(30), (junk) => {
          // A leading 'q' keeps the value invalid whatever follows: junk starting with '#' or ';'
          // would otherwise be a comment, an empty value and a valid policy (exit 0).
          fs.writeFileSync(file, `[cpus]\nexclude-cpus = q${junk.replace(/[\r\n]/g, '')}x\n`);
          const r = cli(['check-config', '--config', file]);
          assert.equal(r.status, 78, r.stderr);
          assertPrintable(oneLine(r.stderr), 'error line');
        }),
        { numRuns: 4 },
      );
    } finally {
      fx.done();
    }
  });
});

describe('hostile: rtnetlink sender checked per datagram', () => {
  /** nlmsghdr + ifinfomsg + IFLA_IFNAME. */
  function linkMessage(ifindex: number, name: string, flags: number, port: number): Buffer {
    const nameAttr = Buffer.alloc(4 + Math.ceil((name.length + 1) / 4) * 4);
    nameAttr.writeUInt16LE(4 + name.length + 1, 0);
    nameAttr.writeUInt16LE(3, 2); // IFLA_IFNAME
    nameAttr.write(name, 4);
    const ifi = Buffer.alloc(16);
    ifi.writeInt32LE(ifindex, 4);
    ifi.writeUInt32LE(1, 8); // IFF_UP
    const hdr = Buffer.alloc(16);
    hdr.writeUInt32LE(16 + ifi.length + nameAttr.length, 0);
    hdr.writeUInt16LE(16, 4); // RTM_NEWLINK
    hdr.writeUInt16LE(flags, 6);
    hdr.writeUInt32LE(7, 8);
    hdr.writeUInt32LE(port, 12);
    return Buffer.concat([hdr, ifi, nameAttr]);
  }

  it('a userspace NLM_F_MULTI datagram followed by a kernel one is reported with ITS sender', () => {
    // The package's NetlinkSocket over a fake raw socket: exactly what createRtNetlink builds.
    const raw = Object.assign(new EventEmitter(), { address: () => ({ port: 99 }), close: () => {}, ref: () => {}, unref: () => {}, addMembership: () => {} });
    const nls = new NetlinkSocket(raw as unknown as RawNetlinkSocket);
    const seen: [LinkNotification, NlSender][] = [];
    const h = openLinkSocket(
      { onLink: (n, from) => seen.push([n, from]), onInvalid: () => {}, onError: () => {} },
      { create: () => ({ socket: nls, addMembership: () => {} }) },
    );
    const NLM_F_MULTI = 2;
    raw.emit('message', linkMessage(666, 'evil0', NLM_F_MULTI, 4242), { port: 4242, groups: 1 });
    raw.emit('message', linkMessage(2, 'eth1', 0, 0), { port: 0, groups: 1 });
    h.close();
    assert.deepEqual(
      seen.map(([n, from]) => [n.ifindex, n.ifname, from.port]),
      [
        [666, 'evil0', 4242],
        [2, 'eth1', 0],
      ],
    );
  });
});
