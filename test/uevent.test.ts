// Pure tests for the agent's event layer: the uevent parser and mapping with literal kernel
// datagrams (shapes copied from what a 6.x kernel sends), the sources' sender/overrun/error
// handling through fake sockets, the link de-duplication operator, and the event text.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Subject, toArray, firstValueFrom, take } from 'rxjs';
import { parseUevent, ueventToEvent, uevents$, ueventStats, type UeventParse } from '../src/agent/uevent.js';
import { links$, distinctLinkState, linkStats } from '../src/agent/rtnetlink.js';
import { describeEvent, isRelevant, type AgentEvent } from '../src/agent/events.js';
import { signals$, termination$ } from '../src/agent/signals.js';
import type { LinkHandlers, UeventHandlers } from '../src/agent/netlink-adapter.js';

/** A kernel datagram: every field NUL-terminated. */
function ue(...fields: string[]): Buffer {
  return Buffer.from(fields.map((f) => `${f}\0`).join(''), 'utf8');
}

/** A kernel uevent for ACTION@DEVPATH with the usual ACTION/DEVPATH/SUBSYSTEM/SEQNUM fields. */
function kernel(action: string, devpath: string, subsystem: string, extra: string[] = []): Buffer {
  return ue(`${action}@${devpath}`, `ACTION=${action}`, `DEVPATH=${devpath}`, `SUBSYSTEM=${subsystem}`, ...extra, 'SEQNUM=4242');
}

function mapped(buf: Buffer): AgentEvent | null {
  const u = parseUevent(buf);
  assert.ok(u.ok, `expected a parse, got ${JSON.stringify(u)}`);
  return ueventToEvent(u);
}

function failed(u: UeventParse): string {
  assert.equal(u.ok, false, `expected a rejection, got ${JSON.stringify(u)}`);
  return (u as { error: string }).error;
}

describe('parseUevent', () => {
  it('splits header and KEY=VALUE fields', () => {
    const u = parseUevent(kernel('online', '/devices/system/cpu/cpu1', 'cpu', ['MODALIAS=cpu:type:x86,ven0002']));
    assert.deepEqual(u, {
      ok: true,
      action: 'online',
      devpath: '/devices/system/cpu/cpu1',
      env: {
        ACTION: 'online',
        DEVPATH: '/devices/system/cpu/cpu1',
        SUBSYSTEM: 'cpu',
        MODALIAS: 'cpu:type:x86,ven0002',
        SEQNUM: '4242',
      },
    });
  });

  it('keeps "=" inside values and accepts a datagram without a final NUL', () => {
    const u = parseUevent(Buffer.from('change@/devices/x\0SUBSYSTEM=foo\0OPTS=a=b,c=d', 'utf8'));
    assert.ok(u.ok);
    assert.equal(u.env.OPTS, 'a=b,c=d');
  });

  it('keeps a "__proto__" key as plain data', () => {
    const u = parseUevent(ue('add@/devices/x', '__proto__=1'));
    assert.ok(u.ok);
    assert.equal(Object.getPrototypeOf(u.env), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(u.env, '__proto__')?.value, '1');
  });

  it("rejects udev's libudev monitor format", () => {
    const hdr = Buffer.alloc(40);
    hdr.write('libudev\0', 0, 'latin1');
    hdr.writeUInt32BE(0xfeedcafe, 8);
    const err = failed(parseUevent(Buffer.concat([hdr, ue('ACTION=add', 'DEVPATH=/devices/x', 'SUBSYSTEM=net')])));
    assert.match(err, /libudev/);
  });

  it('rejects garbage with a one-line reason and never throws', () => {
    const cases: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x02]),
      Buffer.from('no at sign here\0', 'utf8'),
      Buffer.from('@/devices/x\0', 'utf8'),
      Buffer.from('ADD@/devices/x\0', 'utf8'),
      Buffer.from('add@relative/path\0', 'utf8'),
      Buffer.from('add@/devices/x\0NOEQUALS\0', 'utf8'),
      Buffer.from('add@/devices/x\0=value\0', 'utf8'),
      Buffer.from('add@/devices/x\0ACTION=remove\0', 'utf8'),
      Buffer.from('add@/devices/x\0DEVPATH=/devices/y\0', 'utf8'),
      Buffer.from('\0\0\0\0', 'utf8'),
    ];
    for (const buf of cases) {
      const err = failed(parseUevent(buf));
      assert.ok(err.length > 0 && !err.includes('\n'), `reason must be one line: ${JSON.stringify(err)}`);
    }
    // Random bytes: the parser must only ever return a value.
    let seed = 12345;
    for (let n = 0; n < 500; n++) {
      const len = n % 97;
      const b = Buffer.alloc(len);
      for (let i = 0; i < len; i++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        b[i] = seed & 0xff;
      }
      const u = parseUevent(b);
      if (u.ok) ueventToEvent(u);
    }
  });
});

describe('ueventToEvent', () => {
  it('maps CPU online/offline/add/remove of /devices/system/cpu/cpuN', () => {
    assert.deepEqual(mapped(kernel('offline', '/devices/system/cpu/cpu1', 'cpu')), { kind: 'cpu', action: 'offline', cpu: 1 });
    assert.deepEqual(mapped(kernel('online', '/devices/system/cpu/cpu1', 'cpu')), { kind: 'cpu', action: 'online', cpu: 1 });
    assert.deepEqual(mapped(kernel('add', '/devices/system/cpu/cpu12', 'cpu')), { kind: 'cpu', action: 'add', cpu: 12 });
    assert.deepEqual(mapped(kernel('remove', '/devices/system/cpu/cpu12', 'cpu')), { kind: 'cpu', action: 'remove', cpu: 12 });
  });

  it('ignores the cpuid/msr/cache companions of a hotplug and other cpu actions', () => {
    assert.equal(mapped(kernel('remove', '/devices/virtual/cpuid/cpu1', 'cpuid', ['MAJOR=203', 'MINOR=1'])), null);
    assert.equal(mapped(kernel('add', '/devices/system/cpu/cpu1/cache/index0', 'cpu')), null);
    assert.equal(mapped(kernel('change', '/devices/system/cpu/cpu1', 'cpu')), null);
    assert.equal(mapped(kernel('add', '/devices/system/cpu/cpufreq', 'cpu')), null);
  });

  it('maps net add/remove with INTERFACE and IFINDEX', () => {
    const dp = '/devices/pci0000:00/0000:00:04.0/virtio2/net/eth2';
    assert.deepEqual(mapped(kernel('add', dp, 'net', ['INTERFACE=eth2', 'IFINDEX=7'])), {
      kind: 'net',
      action: 'add',
      ifname: 'eth2',
      ifindex: 7,
    });
    assert.deepEqual(mapped(kernel('remove', '/devices/virtual/net/veth0', 'net', ['INTERFACE=veth0', 'IFINDEX=9'])), {
      kind: 'net',
      action: 'remove',
      ifname: 'veth0',
      ifindex: 9,
    });
  });

  it('maps a rename (move) with DEVPATH_OLD', () => {
    const ev = mapped(
      kernel('move', '/devices/virtual/net/lan0', 'net', ['DEVPATH_OLD=/devices/virtual/net/veth0', 'INTERFACE=lan0', 'IFINDEX=9']),
    );
    assert.deepEqual(ev, { kind: 'net', action: 'move', ifname: 'lan0', ifindex: 9, oldPath: '/devices/virtual/net/veth0' });
    assert.equal(describeEvent(ev!), 'lan0 move (was veth0)');
  });

  it('falls back to the devpath for a missing INTERFACE and to null for a bad IFINDEX', () => {
    assert.deepEqual(mapped(kernel('change', '/devices/virtual/net/br0', 'net', ['IFINDEX=x'])), {
      kind: 'net',
      action: 'change',
      ifname: 'br0',
      ifindex: null,
    });
  });

  it('maps queue add/remove under a netdev', () => {
    assert.deepEqual(mapped(kernel('add', '/devices/virtual/net/veth0/queues/rx-0', 'queues')), {
      kind: 'queues',
      action: 'add',
      ifname: 'veth0',
      queue: 'rx-0',
    });
    assert.deepEqual(mapped(kernel('remove', '/devices/pci0000:00/0000:00:04.0/virtio2/net/eth2/queues/tx-3', 'queues')), {
      kind: 'queues',
      action: 'remove',
      ifname: 'eth2',
      queue: 'tx-3',
    });
  });

  it('maps bind (with DRIVER) and unbind (without) on virtio', () => {
    const dp = '/devices/pci0000:00/0000:00:05.0/virtio4';
    const bind = mapped(kernel('bind', dp, 'virtio', ['DRIVER=virtio_rng', 'MODALIAS=virtio:d00000004v00001AF4']));
    assert.deepEqual(bind, { kind: 'driver', action: 'bind', subsystem: 'virtio', device: 'virtio4', driver: 'virtio_rng' });
    const unbind = mapped(kernel('unbind', dp, 'virtio'));
    assert.deepEqual(unbind, { kind: 'driver', action: 'unbind', subsystem: 'virtio', device: 'virtio4', driver: null });
    assert.equal(describeEvent(bind!), 'virtio:virtio4 bind virtio_rng');
    assert.equal(describeEvent(unbind!), 'virtio:virtio4 unbind');
  });

  it('maps tty add/remove by DEVNAME', () => {
    assert.deepEqual(mapped(kernel('add', '/devices/pnp0/00:04/tty/ttyS0', 'tty', ['MAJOR=4', 'MINOR=64', 'DEVNAME=ttyS0'])), {
      kind: 'tty',
      action: 'add',
      name: 'ttyS0',
    });
  });

  it('returns null for subsystems and actions it does not use', () => {
    assert.equal(mapped(kernel('add', '/devices/virtual/block/loop0', 'block')), null);
    assert.equal(mapped(kernel('change', '/devices/virtual/net/veth0/queues/rx-0', 'queues')), null);
    assert.equal(mapped(ue('add@/devices/virtual/misc/x')), null);
  });
});

describe('describeEvent / isRelevant', () => {
  it('names events in one short line', () => {
    assert.equal(describeEvent({ kind: 'cpu', action: 'online', cpu: 1 }), 'cpu1 online');
    assert.equal(describeEvent({ kind: 'net', action: 'add', ifname: 'eth2', ifindex: 4 }), 'eth2 add');
    assert.equal(describeEvent({ kind: 'link', type: 'new', ifindex: 5, ifname: 'veth0', up: true, running: false }), 'veth0 up');
    assert.equal(describeEvent({ kind: 'link', type: 'new', ifindex: 5, ifname: null, up: false, running: false }), 'ifindex 5 down');
    assert.equal(describeEvent({ kind: 'link', type: 'del', ifindex: 5, ifname: 'veth0', up: false, running: false }), 'veth0 removed');
    assert.equal(describeEvent({ kind: 'queues', action: 'add', ifname: 'veth0', queue: 'rx-0' }), 'veth0 rx-0 add');
    assert.equal(describeEvent({ kind: 'resync', reason: 'uevent overrun' }), 'resync (uevent overrun)');
    assert.equal(describeEvent({ kind: 'reload', reason: 'SIGHUP' }), 'reload (SIGHUP)');
  });

  it('keeps what can move IRQs, queues or CPUs and drops the rest', () => {
    assert.equal(isRelevant({ kind: 'cpu', action: 'offline', cpu: 3 }), true);
    assert.equal(isRelevant({ kind: 'net', action: 'move', ifname: 'a', ifindex: 1 }), true);
    assert.equal(isRelevant({ kind: 'net', action: 'change', ifname: 'a', ifindex: 1 }), false);
    assert.equal(isRelevant({ kind: 'queues', action: 'remove', ifname: 'a', queue: 'tx-1' }), true);
    assert.equal(isRelevant({ kind: 'driver', action: 'bind', subsystem: 'pci', device: '0000:00:03.0', driver: 'ixgbe' }), true);
    assert.equal(isRelevant({ kind: 'driver', action: 'bind', subsystem: 'usb', device: '1-1', driver: 'usbhid' }), false);
    assert.equal(isRelevant({ kind: 'tty', action: 'add', name: 'ttyS1' }), true);
    assert.equal(isRelevant({ kind: 'tty', action: 'add', name: 'tty7' }), false);
    assert.equal(isRelevant({ kind: 'link', type: 'new', ifindex: 2, ifname: 'x', up: true, running: true }), true);
    assert.equal(isRelevant({ kind: 'resync', reason: 'start' }), true);
    assert.equal(isRelevant({ kind: 'reload', reason: 'SIGHUP' }), true);
  });
});

/** A fake socket layer: captures the handlers and counts closes. */
function fakeSocket<H>() {
  const s = { handlers: null as H | null, closed: 0 };
  const open = (h: H) => {
    s.handlers = h;
    return { close: () => void s.closed++ };
  };
  return { s, open };
}

const KERNEL = { port: 0, groups: 1 };

describe('uevents$ source', () => {
  it('emits kernel events, drops and counts userspace senders and malformed datagrams', () => {
    const { s, open } = fakeSocket<UeventHandlers>();
    const dropped: string[] = [];
    const got: AgentEvent[] = [];
    const before = ueventStats();
    const sub = uevents$({ open, onDropped: (w) => dropped.push(w) }).subscribe((e) => got.push(e));
    const h = s.handlers!;
    h.onMessage(kernel('offline', '/devices/system/cpu/cpu1', 'cpu'), KERNEL);
    h.onMessage(kernel('online', '/devices/system/cpu/cpu7', 'cpu'), { port: 3464, groups: 1 });
    h.onMessage(Buffer.from('garbage'), KERNEL);
    h.onMessage(kernel('add', '/devices/virtual/block/loop0', 'block'), KERNEL);
    sub.unsubscribe();
    assert.deepEqual(got, [{ kind: 'cpu', action: 'offline', cpu: 1 }]);
    assert.equal(dropped.length, 2);
    assert.match(dropped[0]!, /port 3464/);
    assert.match(dropped[1]!, /malformed/);
    const after = ueventStats();
    assert.equal(after.received - before.received, 4);
    assert.equal(after.emitted - before.emitted, 1);
    assert.equal(after.droppedSender - before.droppedSender, 1);
    assert.equal(after.droppedMalformed - before.droppedMalformed, 1);
    assert.equal(after.ignored - before.ignored, 1);
    assert.equal(s.closed, 1, 'unsubscribe closes the socket');
  });

  it('turns ENOBUFS into a resync and keeps going; other errors error the stream', () => {
    const { s, open } = fakeSocket<UeventHandlers>();
    const got: AgentEvent[] = [];
    // A holder, not a `let`: TypeScript does not see assignments made inside callbacks.
    const seen: { error: unknown } = { error: null };
    const error = (): unknown => seen.error;
    uevents$({ open }).subscribe({ next: (e) => got.push(e), error: (e) => (seen.error = e) });
    const h = s.handlers!;
    const overruns = ueventStats().overruns;
    h.onError({ code: 'ENOBUFS', errno: 105, message: 'Error when receiving Netlink message: no buffer space available' , fatal: false });
    h.onMessage(kernel('online', '/devices/system/cpu/cpu1', 'cpu'), KERNEL);
    assert.deepEqual(got, [
      { kind: 'resync', reason: 'uevent overrun' },
      { kind: 'cpu', action: 'online', cpu: 1 },
    ]);
    assert.equal(ueventStats().overruns - overruns, 1);
    assert.equal(error(), null);
    assert.equal(s.closed, 0);
    h.onError({ code: 'EBADF', errno: 9, message: 'bad file descriptor', fatal: false });
    const err = error();
    assert.ok(err instanceof Error);
    assert.match(err.message, /^uevent socket: bad file descriptor \(EBADF\)$/);
    assert.equal(s.closed, 1, 'an error tears the socket down');
  });

  it('reports a socket that cannot be opened as a stream error', async () => {
    const src = uevents$({
      open: () => {
        throw new Error("Couldn't create netlink socket: operation not permitted");
      },
    });
    await assert.rejects(firstValueFrom(src), /^Error: cannot open uevent socket: Couldn't create netlink socket/);
  });
});

describe('links$ source', () => {
  it('emits kernel link messages, resyncs on undecodable ones and on overrun', () => {
    const { s, open } = fakeSocket<LinkHandlers>();
    const got: AgentEvent[] = [];
    const dropped: string[] = [];
    const before = linkStats();
    const sub = links$({ open, onDropped: (w) => dropped.push(w) }).subscribe((e) => got.push(e));
    const h = s.handlers!;
    h.onLink({ type: 'new', ifindex: 5, ifname: 'veth0', up: true, running: false }, KERNEL);
    h.onLink({ type: 'del', ifindex: 5, ifname: 'veth0', up: false, running: false }, { port: 99, groups: 1 });
    h.onInvalid('undecodable link message (type 16): bad attr', KERNEL);
    h.onError({ code: 'ENOBUFS', errno: 105, message: 'no buffer space available' , fatal: false });
    sub.unsubscribe();
    assert.deepEqual(got, [
      { kind: 'link', type: 'new', ifindex: 5, ifname: 'veth0', up: true, running: false },
      { kind: 'resync', reason: 'undecodable rtnetlink message' },
      { kind: 'resync', reason: 'rtnetlink overrun' },
    ]);
    assert.equal(dropped.length, 2);
    const after = linkStats();
    assert.equal(after.droppedSender - before.droppedSender, 1);
    assert.equal(after.droppedInvalid - before.droppedInvalid, 1);
    assert.equal(after.overruns - before.overruns, 1);
    assert.equal(s.closed, 1);
  });
});

describe('distinctLinkState', () => {
  it('passes changes of name/up/running only, per ifindex, and forgets deleted links', async () => {
    const src = new Subject<AgentEvent>();
    const out = firstValueFrom(src.pipe(distinctLinkState(), toArray()));
    const link = (ifindex: number, ifname: string, up: boolean, running = false, type: 'new' | 'del' = 'new'): AgentEvent => ({
      kind: 'link',
      type,
      ifindex,
      ifname,
      up,
      running,
    });
    const seq = [
      link(5, 'a', false),
      link(5, 'a', false), // MTU change: dropped
      link(6, 'b', false),
      link(5, 'a', true),
      { kind: 'cpu', action: 'online', cpu: 1 } as AgentEvent,
      link(5, 'a', true, true),
      link(5, 'c', true, true),
      link(5, 'c', true, true, 'del'),
      link(5, 'c', true, true), // ifindex reused after delete: passes
    ];
    for (const e of seq) src.next(e);
    src.complete();
    const got = await out;
    assert.deepEqual(got, [seq[0], seq[2], seq[3], seq[4], seq[5], seq[6], seq[7], seq[8]]);
  });
});

describe('signals$ / termination$ (fake process)', () => {
  it('maps SIGHUP to reload and SIGTERM/SIGINT to their names, and removes listeners', async () => {
    const proc = new EventEmitter();
    const reload = firstValueFrom(signals$(proc).pipe(take(1)));
    const term = firstValueFrom(termination$(proc).pipe(take(2), toArray()));
    assert.equal(proc.listenerCount('SIGHUP'), 1);
    proc.emit('SIGHUP', 'SIGHUP');
    proc.emit('SIGINT', 'SIGINT');
    proc.emit('SIGTERM', 'SIGTERM');
    assert.deepEqual(await reload, { kind: 'reload', reason: 'SIGHUP' });
    assert.deepEqual(await term, ['SIGINT', 'SIGTERM']);
    assert.equal(proc.listenerCount('SIGHUP') + proc.listenerCount('SIGINT') + proc.listenerCount('SIGTERM'), 0);
  });
});
