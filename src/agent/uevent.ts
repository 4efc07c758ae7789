// uevent — kernel uevents (NETLINK_KOBJECT_UEVENT, group 1) as AgentEvents. A pure parser for
// the kernel's datagram format, a pure mapping to AgentEvent, and the Observable source that
// wires both to the socket from netlink-adapter.
//
// Kernel datagram: "ACTION@DEVPATH\0KEY=VALUE\0KEY=VALUE\0...". udevd re-broadcasts processed
// events on group 2 with a binary "libudev\0" header; we never join that group, but a datagram
// in that format is rejected by the parser rather than misread.
//
// Trust: only datagrams whose sender port (sockaddr_nl.nl_pid) is 0 come from the kernel. Any
// root process can multicast to group 1, but the kernel stamps its real port on the datagram
// and a userspace socket can never own port 0, so the check cannot be spoofed.

import type { Observable } from 'rxjs';
import { netlinkSource$ } from './netlink-source.js';
import type { AgentEvent } from './events.js';
import { openUeventSocket, type NlHandle, type UeventHandlers } from './netlink-adapter.js';

export type UeventParse =
  | { ok: true; action: string; devpath: string; env: Record<string, string> }
  | { ok: false; error: string };

export type Uevent = Extract<UeventParse, { ok: true }>;

const LIBUDEV_MAGIC = Buffer.from('libudev\0', 'latin1');
const KEY = /^[A-Za-z0-9_]+$/;

/** Parse one datagram. Never throws: a bad datagram is a value with a one-line reason. */
export function parseUevent(buf: Buffer): UeventParse {
  if (buf.length === 0) return fail('empty datagram');
  if (buf.length >= LIBUDEV_MAGIC.length && buf.subarray(0, LIBUDEV_MAGIC.length).equals(LIBUDEV_MAGIC)) {
    return fail('udev monitor datagram ("libudev" header), not a kernel uevent');
  }
  const fields = buf.toString('utf8').split('\0');
  // The kernel NUL-terminates every field, so the split ends with one empty string.
  if (fields[fields.length - 1] === '') fields.pop();
  const header = fields[0] ?? '';
  const at = header.indexOf('@');
  if (at < 0) return fail(`header "${clip(header)}" is not ACTION@DEVPATH`);
  const action = header.slice(0, at);
  const devpath = header.slice(at + 1);
  if (!/^[a-z]+$/.test(action)) return fail(`action "${clip(action)}" in header is not a kernel action word`);
  if (!devpath.startsWith('/')) return fail(`devpath "${clip(devpath)}" in header is not absolute`);

  const entries: [string, string][] = [];
  for (let i = 1; i < fields.length; i++) {
    const f = fields[i]!;
    const eq = f.indexOf('=');
    const key = eq < 0 ? '' : f.slice(0, eq);
    if (!KEY.test(key)) return fail(`field ${i} "${clip(f)}" is not KEY=VALUE`);
    entries.push([key, f.slice(eq + 1)]);
  }
  // fromEntries defines own properties, so a key such as "__proto__" stays plain data.
  const env: Record<string, string> = Object.fromEntries(entries);
  if (env.ACTION !== undefined && env.ACTION !== action) {
    return fail(`ACTION=${clip(env.ACTION)} disagrees with header action "${action}"`);
  }
  if (env.DEVPATH !== undefined && env.DEVPATH !== devpath) {
    return fail(`DEVPATH=${clip(env.DEVPATH)} disagrees with header devpath "${clip(devpath)}"`);
  }
  return { ok: true, action, devpath, env };
}

const CPU_PATH = /^\/devices\/system\/cpu\/cpu(\d+)$/;
const QUEUE_PATH = /\/net\/([^/]+)\/queues\/([^/]+)$/;

/** The AgentEvent a uevent stands for, or null for the many kinds the agent does not use. */
export function ueventToEvent(u: Uevent): AgentEvent | null {
  const { action, devpath, env } = u;
  const subsystem = env.SUBSYSTEM;
  if (subsystem === undefined) return null;

  // bind/unbind are the moments a driver takes or releases a device's vectors; any bus may
  // send them, isRelevant decides which buses matter.
  if (action === 'bind' || action === 'unbind') {
    return { kind: 'driver', action, subsystem, device: basename(devpath), driver: env.DRIVER ?? null };
  }

  switch (subsystem) {
    case 'cpu': {
      // Only the CPU devices themselves: /devices/virtual/cpuid/cpuN (subsystem cpuid) and
      // friends also come and go on hotplug but carry no new information.
      const m = CPU_PATH.exec(devpath);
      if (!m) return null;
      if (action !== 'online' && action !== 'offline' && action !== 'add' && action !== 'remove') return null;
      return { kind: 'cpu', action, cpu: Number(m[1]) };
    }
    case 'net': {
      if (action !== 'add' && action !== 'remove' && action !== 'move' && action !== 'change') return null;
      const ifindex = env.IFINDEX !== undefined && /^\d+$/.test(env.IFINDEX) ? Number(env.IFINDEX) : null;
      const ev: Extract<AgentEvent, { kind: 'net' }> = { kind: 'net', action, ifname: env.INTERFACE ?? basename(devpath), ifindex };
      if (action === 'move' && env.DEVPATH_OLD !== undefined) ev.oldPath = env.DEVPATH_OLD;
      return ev;
    }
    case 'queues': {
      if (action !== 'add' && action !== 'remove') return null;
      const m = QUEUE_PATH.exec(devpath);
      if (!m) return null;
      return { kind: 'queues', action, ifname: m[1]!, queue: m[2]! };
    }
    case 'tty': {
      if (action !== 'add' && action !== 'remove') return null;
      return { kind: 'tty', action, name: basename(env.DEVNAME ?? devpath) };
    }
    default:
      return null;
  }
}

export interface UeventStats {
  /** Datagrams read from the socket. */
  received: number;
  /** AgentEvents emitted (resyncs not included). */
  emitted: number;
  /** Kernel uevents that map to no AgentEvent (other subsystems, other actions). */
  ignored: number;
  /** Datagrams not sent by the kernel (sender port != 0). */
  droppedSender: number;
  /** Kernel datagrams the parser rejected or the socket truncated. */
  droppedMalformed: number;
  /** ENOBUFS: the kernel dropped uevents because our receive buffer was full. */
  overruns: number;
  /** Other socket errors (each ended a subscription). */
  errors: number;
}

// Process-wide and monotonic, like kernel counters: the status command reads them without
// holding a reference to whichever subscription is current after retries.
const stats: UeventStats = {
  received: 0,
  emitted: 0,
  ignored: 0,
  droppedSender: 0,
  droppedMalformed: 0,
  overruns: 0,
  errors: 0,
};

/** A copy of the counters summed over every uevents$ subscription in this process. */
export function ueventStats(): UeventStats {
  return { ...stats };
}

export interface UeventSourceOptions {
  /** Called with a one-line reason for every dropped datagram (for logging). */
  onDropped?: (why: string) => void;
  /** Socket receive buffer in bytes (capped by net.core.rmem_max). */
  recvBufferSize?: number;
  /** Socket factory; the default opens the kernel uevent socket. Tests pass a fake. */
  open?: (h: UeventHandlers) => NlHandle;
}

/**
 * Kernel uevents as AgentEvents. An overrun (ENOBUFS) is a value — { kind: 'resync' } — since
 * the stream goes on; any other socket error errors the Observable (the caller retries with
 * backoff). The socket opens on subscribe and closes on unsubscribe.
 */
export function uevents$(opts: UeventSourceOptions = {}): Observable<AgentEvent> {
  const open = opts.open ?? ((h: UeventHandlers) => openUeventSocket(h, { recvBufferSize: opts.recvBufferSize }));
  const drop = (counter: 'droppedSender' | 'droppedMalformed', why: string): void => {
    stats[counter]++;
    opts.onDropped?.(why);
  };
  return netlinkSource$('uevent', stats, open, (next) => ({
    onMessage(buf, from) {
      stats.received++;
      if (from.port !== 0) {
        drop('droppedSender', `uevent from userspace port ${from.port} dropped: only the kernel (port 0) is trusted`);
        return;
      }
      const u = parseUevent(buf);
      if (!u.ok) {
        drop('droppedMalformed', `malformed kernel uevent dropped: ${u.error}`);
        return;
      }
      const ev = ueventToEvent(u);
      if (ev === null) {
        stats.ignored++;
        return;
      }
      stats.emitted++;
      next(ev);
    },
    onTruncated(from) {
      stats.received++;
      drop('droppedMalformed', `truncated uevent from port ${from.port} dropped`);
      // Part of an event is lost: only a full pass can tell what it was.
      if (from.port === 0) next({ kind: 'resync', reason: 'uevent truncated' });
    },
  }) satisfies Omit<UeventHandlers, 'onError'>);
}

function fail(error: string): UeventParse {
  return { ok: false, error };
}

/** Keep reasons one short line even for binary garbage. */
function clip(s: string): string {
  const printable = s.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 60 ? `${printable.slice(0, 57)}...` : printable;
}

function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? p : p.slice(i + 1);
}
