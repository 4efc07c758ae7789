// netlink-adapter — raw socket layer. The only module that imports the `netlink` package
// (v0.3.0, quiet since 2023): it opens the two sockets the agent listens on and hands back
// plain callbacks with plain data, so that replacing the package (or its native binding)
// touches this file alone.
//
// Known defect of netlink 0.3.0: when a receive-buffer overrun is pending while the event
// loop is idle, epoll reports EPOLLERR, libuv hands the binding's poll callback a status
// error, and the binding built its error with a NULL syscall name (Napi::String::New(NULL)
// throws) — std::terminate, SIGABRT. scripts/patch-netlink.cjs (postinstall) fixes that one
// line and rebuilds the binding; the poll error then arrives here with syscall "poll", after
// the binding has CLOSED the socket — so it is reported as fatal and the source re-opens.
// An overrun seen mid-drain arrives as recvmsg ENOBUFS and the socket stays usable.

// Only the raw socket layer: the package's index also builds its rtnetlink, nl80211 and
// WireGuard struct tables at load time (≈ 12 MB of RSS measured, for three fields of one
// message type we decode below).
// Loaded with require(), not import: an ES import of a CommonJS file makes node load its
// CommonJS export lexer to find the names (issue 14: every module loaded stays in the RSS).
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
const { RawNetlinkSocket } = createRequire(import.meta.url)('netlink/dist/raw.js') as typeof import('netlink/dist/raw.js');

/** Netlink protocol numbers (linux/netlink.h). */
const NETLINK_ROUTE = 0;
const NETLINK_KOBJECT_UEVENT = 15;
/** rtnetlink multicast group of link changes (RTNLGRP_LINK). */
const RTNLGRP_LINK = 1;

/** Who sent a datagram, from recvmsg's sockaddr_nl: port 0 is the kernel. */
export interface NlSender {
  port: number;
  groups: number;
}

/** A socket error as the binding reports it (code "ENOBUFS" on overrun). */
export interface NlSocketError {
  code: string;
  errno: number;
  message: string;
  /** The binding closed the socket (poll error): the caller must re-open it. */
  fatal: boolean;
}

export interface NlHandle {
  /** Idempotent; no callback fires after it returns. */
  close(): void;
}

/** Kernel uevent multicast group (udev's monitor re-broadcasts on group 2 — not ours). */
export const UEVENT_KERNEL_GROUP = 1;

/**
 * Ask for a big receive buffer: a NIC with 64 channels emits ~130 queue uevents in one burst.
 * The kernel caps SO_RCVBUF at net.core.rmem_max (then doubles it); SO_RCVBUFFORCE, which
 * udev uses to go past that, is not exposed by the package.
 */
const DEFAULT_RCVBUF = 4 * 1024 * 1024;

export interface UeventHandlers {
  onMessage(buf: Buffer, from: NlSender): void;
  /** Datagram cut short by the buffer (cannot happen with the package's message peeking). */
  onTruncated(from: NlSender): void;
  onError(err: NlSocketError): void;
}

export function openUeventSocket(h: UeventHandlers, opts: { recvBufferSize?: number } = {}): NlHandle {
  const sock = new RawNetlinkSocket(NETLINK_KOBJECT_UEVENT, {
    recvBufferSize: opts.recvBufferSize ?? DEFAULT_RCVBUF,
    sendBufferSize: 0,
  });
  let open = true;
  // The 'error' listener goes on first and stays after close: an EventEmitter 'error' with no
  // listener throws from inside the binding's callback.
  sock.on('error', (err) => {
    if (open) h.onError(toError(err));
  });
  sock.on('message', (buf, rinfo) => {
    if (open) h.onMessage(buf, { port: rinfo.port, groups: rinfo.groups });
  });
  sock.on('truncatedMessage', (_buf, rinfo) => {
    if (open) h.onTruncated({ port: rinfo.port, groups: rinfo.groups });
  });
  try {
    sock.addMembership(UEVENT_KERNEL_GROUP);
  } catch (e) {
    sock.close();
    throw e;
  }
  return {
    close() {
      if (!open) return;
      open = false;
      sock.close();
    },
  };
}

/** RTM_NEWLINK / RTM_DELLINK reduced to what a trigger needs. */
export interface LinkNotification {
  type: 'new' | 'del';
  ifindex: number;
  ifname: string | null;
  up: boolean;
  running: boolean;
}

export interface LinkHandlers {
  onLink(n: LinkNotification, from: NlSender): void;
  /** A datagram the codec could not decode (one line, for counting/logging). */
  onInvalid(why: string, from: NlSender): void;
  onError(err: NlSocketError): void;
}

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;

/**
 * The slice of an rtnetlink socket we use (the package's NetlinkSocket has this shape too);
 * tests pass one around a fake raw socket.
 */
export interface RtnlLike {
  socket: {
    socket: { on(event: 'message', l: (buf: Buffer, rinfo: { port: number; groups: number }) => void): unknown };
    on(event: 'error', l: (err: Error) => void): unknown;
    close(): void;
  };
  addMembership(group: 'LINK'): void;
}

/**
 * Decode one datagram and report each link message in it with THAT datagram's sender.
 * Why not the package's 'message' event: its multipart grouping keeps NLM_F_MULTI messages
 * across datagrams and flushes them with the sender of whichever datagram arrives next, so a
 * userspace datagram could be reported with the kernel's port 0 and pass the sender check.
 */
export function handleLinkDatagram(buf: Buffer, from: NlSender, h: Pick<LinkHandlers, 'onLink' | 'onInvalid'>, isOpen: () => boolean = () => true): void {
  let msgs: { type: number; data: Buffer }[];
  try {
    msgs = parseNlMessages(buf);
  } catch (e) {
    h.onInvalid(`undecodable rtnetlink datagram: ${errText(e)}`, from);
    return;
  }
  for (const m of msgs) {
    if (m.type !== RTM_NEWLINK && m.type !== RTM_DELLINK) continue;
    let parsed: Omit<LinkNotification, 'type'>;
    try {
      parsed = parseIfinfo(m.data);
    } catch (e) {
      h.onInvalid(`undecodable link message (type ${m.type}): ${errText(e)}`, from);
      continue;
    }
    h.onLink({ type: m.type === RTM_NEWLINK ? 'new' : 'del', ...parsed }, from);
    if (!isOpen()) return;
  }
}

// Netlink is in host byte order.
const LE = endianness() === 'LE';
const u16 = (b: Buffer, o: number) => (LE ? b.readUInt16LE(o) : b.readUInt16BE(o));
const u32 = (b: Buffer, o: number) => (LE ? b.readUInt32LE(o) : b.readUInt32BE(o));
const i32 = (b: Buffer, o: number) => (LE ? b.readInt32LE(o) : b.readInt32BE(o));
const align4 = (n: number) => (n + 3) & ~3;

/** nlmsghdr-framed messages of one datagram (throws on a length that does not fit). */
export function parseNlMessages(buf: Buffer): { type: number; data: Buffer }[] {
  const out: { type: number; data: Buffer }[] = [];
  for (let off = 0; off < buf.length; ) {
    if (buf.length - off < 16) throw new Error(`${buf.length - off} trailing bytes, shorter than a message header`);
    const len = u32(buf, off);
    if (len < 16 || len > buf.length - off) throw new Error(`message length ${len} at offset ${off} does not fit the ${buf.length}-byte datagram`);
    out.push({ type: u16(buf, off + 4), data: buf.subarray(off + 16, off + len) });
    off += align4(len);
  }
  return out;
}

const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;
const IFLA_IFNAME = 3;

/** struct ifinfomsg (16 bytes) and its IFLA_IFNAME attribute. */
export function parseIfinfo(data: Buffer): Omit<LinkNotification, 'type'> {
  if (data.length < 16) throw new Error(`ifinfomsg of ${data.length} bytes, expected 16`);
  const ifindex = i32(data, 4);
  const flags = u32(data, 8);
  let ifname: string | null = null;
  for (let off = 16; off + 4 <= data.length; ) {
    const len = u16(data, off);
    if (len < 4 || len > data.length - off) throw new Error(`attribute length ${len} at offset ${off} does not fit`);
    // The top two bits are NLA_F_NESTED and NLA_F_NET_BYTEORDER.
    if ((u16(data, off + 2) & 0x3fff) === IFLA_IFNAME) {
      const v = data.subarray(off + 4, off + len);
      const nul = v.indexOf(0);
      ifname = v.subarray(0, nul < 0 ? v.length : nul).toString('utf8');
    }
    off += align4(len);
  }
  return { ifindex, ifname, up: (flags & IFF_UP) !== 0, running: (flags & IFF_RUNNING) !== 0 };
}

export function openLinkSocket(h: LinkHandlers, opts: { recvBufferSize?: number; create?: () => RtnlLike } = {}): NlHandle {
  // ref: the package unrefs notification-only sockets by default; a listener must keep the
  // process alive on its own.
  const rtnl: RtnlLike = opts.create?.() ?? routeSocket(opts.recvBufferSize ?? DEFAULT_RCVBUF);
  const nls = rtnl.socket;
  let open = true;
  nls.on('error', (err) => {
    if (open) h.onError(toError(err as { code?: unknown }));
  });
  // The raw socket's datagrams, one at a time with their own sender (see handleLinkDatagram).
  nls.socket.on('message', (buf, rinfo) => {
    if (open) handleLinkDatagram(buf, sender(rinfo), h, () => open);
  });
  try {
    rtnl.addMembership('LINK');
  } catch (e) {
    nls.close();
    throw e;
  }
  return {
    close() {
      if (!open) return;
      open = false;
      nls.close();
    },
  };
}

/** A raw NETLINK_ROUTE socket in the RtnlLike shape (a raw socket is referenced: it keeps the process alive). */
function routeSocket(recvBufferSize: number): RtnlLike {
  const raw = new RawNetlinkSocket(NETLINK_ROUTE, { recvBufferSize, sendBufferSize: 0 });
  return {
    socket: {
      socket: raw,
      on: (event, l) => raw.on(event, l),
      close: () => raw.close(),
    },
    addMembership: () => raw.addMembership(RTNLGRP_LINK),
  };
}

function sender(rinfo: { port: number; groups: number }): NlSender {
  return { port: rinfo.port, groups: rinfo.groups };
}

function toError(err: { code?: unknown; errno?: unknown; message?: unknown; syscall?: unknown }): NlSocketError {
  return {
    code: typeof err.code === 'string' ? err.code : 'EUNKNOWN',
    errno: typeof err.errno === 'number' ? err.errno : 0,
    message: typeof err.message === 'string' ? err.message : String(err),
    fatal: err.syscall === 'poll',
  };
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
