// The agent's own rtnetlink link-message decoder (src/agent/netlink-adapter.ts), which
// replaced the netlink package's rt codec to keep its struct tables out of memory: generated
// datagrams decode exactly, and arbitrary bytes either decode or fail with a plain Error.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { handleLinkDatagram, parseIfinfo, parseNlMessages, type LinkNotification } from '../src/agent/netlink-adapter.js';

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;

function attr(type: number, value: Buffer): Buffer {
  const a = Buffer.alloc((4 + value.length + 3) & ~3);
  a.writeUInt16LE(4 + value.length, 0);
  a.writeUInt16LE(type, 2);
  value.copy(a, 4);
  return a;
}

function message(type: number, ifindex: number, flags: number, name: string | null, extra: Buffer[]): Buffer {
  const ifi = Buffer.alloc(16);
  ifi.writeInt32LE(ifindex, 4);
  ifi.writeUInt32LE(flags, 8);
  const attrs = [...extra, ...(name === null ? [] : [attr(3, Buffer.from(`${name}\0`))])];
  const body = Buffer.concat([ifi, ...attrs]);
  const hdr = Buffer.alloc(16);
  hdr.writeUInt32LE(16 + body.length, 0);
  hdr.writeUInt16LE(type, 4);
  return Buffer.concat([hdr, body]);
}

describe('rtnetlink link codec', () => {
  it('property: generated RTM_NEWLINK/RTM_DELLINK datagrams decode exactly, other types are skipped', () => {
    const msg = fc.record({
      type: fc.constantFrom(RTM_NEWLINK, RTM_DELLINK, 20 /* RTM_NEWADDR */),
      ifindex: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      flags: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      name: fc.option(fc.stringMatching(/^[a-z0-9.@_-]{1,15}$/), { nil: null }),
      extra: fc.array(fc.tuple(fc.integer({ min: 4, max: 60 }), fc.uint8Array({ maxLength: 20 })), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.array(msg, { minLength: 1, maxLength: 5 }), (ms) => {
        const buf = Buffer.concat(ms.map((m) => message(m.type, m.ifindex, m.flags, m.name, m.extra.map(([t, v]) => attr(t, Buffer.from(v))))));
        const seen: LinkNotification[] = [];
        handleLinkDatagram(buf, { port: 0, groups: 1 }, { onLink: (n) => seen.push(n), onInvalid: (why) => assert.fail(why) });
        const want = ms
          .filter((m) => m.type !== 20)
          .map((m) => ({ type: m.type === RTM_NEWLINK ? 'new' : 'del', ifindex: m.ifindex, ifname: m.name, up: (m.flags & 1) !== 0, running: (m.flags & 0x40) !== 0 }));
        assert.deepEqual(seen, want);
      }),
      { numRuns: 300 },
    );
  });

  it('property: arbitrary bytes decode or fail with a plain Error, and invalid datagrams are reported, never thrown', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const buf = Buffer.from(bytes);
        for (const f of [() => parseNlMessages(buf), () => parseIfinfo(buf)]) {
          try {
            f();
          } catch (e) {
            assert.ok(e instanceof Error && !(e instanceof RangeError), String(e));
          }
        }
        handleLinkDatagram(buf, { port: 0, groups: 1 }, { onLink: () => {}, onInvalid: () => {} });
      }),
      { numRuns: 1000 },
    );
  });
});
