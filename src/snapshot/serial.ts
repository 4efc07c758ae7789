// snapshot/serial — which hardware serial ports exist, what they are (USB ids, serial
// number, /dev/serial/by-id names) and which IRQs serve them.
//
// Two sources:
//   sysfs     /sys/class/tty + /dev/serial/by-id under a root dir. Synchronous, works on
//             fixture trees and in containers, and sees a port the instant the kernel
//             announces it (the agent listens to kernel uevents, which arrive before udev
//             has processed the device). takeSnapshot() uses this alone.
//   bindings  @serialport/bindings-cpp's list(), i.e. udev's database via `udevadm info -e`:
//             what `serialport` users see. Only on the live system (root '/'), loaded
//             lazily as an optional dependency, and only ever *added* to the sysfs view —
//             sysfs decides which ports are real and which IRQs serve them.
// When the bindings cannot be used (not built, udevadm absent, udevadm failing) the result
// says so once in `notes` and the sysfs view is returned; enumeration never fails.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import type { SerialPortInfo } from '../types.js';
import { FsRoot } from './fsroot.js';
import { resolveSerialIrqs } from './serial-irq.js';

const TTY = '/sys/class/tty';
const BY_ID = '/dev/serial/by-id';

export interface SerialEnumeration {
  ports: SerialPortInfo[];
  /** 'bindings' when udev's list (through @serialport/bindings-cpp) was merged in. */
  source: 'bindings' | 'sysfs';
  /** Why the bindings were not used, once per call (or once per `seen` set); empty otherwise. */
  notes: string[];
}

/** A port as @serialport/bindings-cpp lists it (PortInfo of @serialport/bindings-interface). */
export interface BindingPort {
  path: string;
  manufacturer?: string | undefined;
  serialNumber?: string | undefined;
  pnpId?: string | undefined;
  vendorId?: string | undefined;
  productId?: string | undefined;
}

export interface EnumerateOptions {
  /** Root of the filesystem to read; default '/'. Any other root uses sysfs only (unless `list` stands in for udev). */
  root?: string;
  /**
   * Notes already reported by this caller: a note in the set is not returned again, so a
   * long-running agent logs "udevadm not found" once, not on every pass.
   */
  seen?: Set<string>;
  /** Give up on the bindings after this long (udevadm on a machine with thousands of devices). */
  timeoutMs?: number;
  /** Replace the bindings' list() (tests): udev's view, on any root (a fixture tree has no udev of its own). */
  list?: () => Promise<BindingPort[]>;
}

// ---------------------------------------------------------------------------------------
// sysfs

/** by-id link names per tty name: { ttyUSB0: ['usb-FTDI_…-if00-port0'] }. */
export function readByIdLinks(root: FsRoot): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const link of root.list(BY_ID)) {
    const target = root.readlink(`${BY_ID}/${link}`);
    if (target === null) continue;
    const tty = path.posix.basename(target);
    out.set(tty, [...(out.get(tty) ?? []), link]);
  }
  return out;
}

interface UsbIds {
  vendorId: string;
  productId: string;
  serialNumber: string | null;
  manufacturer: string | null;
}

/** The USB device a port hangs off: the nearest ancestor of its device with an idVendor file. */
function usbAncestor(root: FsRoot, device: string): UsbIds | null {
  const parts = device.split('/');
  // Stop at /sys/devices: the walk only ever climbs inside the device tree.
  for (let i = parts.length; i > 3; i--) {
    const dir = parts.slice(0, i).join('/');
    const vendor = root.readTrim(`${dir}/idVendor`);
    if (vendor === null) continue;
    return {
      vendorId: vendor.toLowerCase(),
      productId: (root.readTrim(`${dir}/idProduct`) ?? '').toLowerCase(),
      serialNumber: root.readTrim(`${dir}/serial`),
      manufacturer: root.readTrim(`${dir}/manufacturer`),
    };
  }
  return null;
}

/**
 * Hardware serial ports from /sys/class/tty. A port is real when it has a `device` link
 * (virtual consoles, ptys and the console alias have none) and, for serial_core ports,
 * when a UART was found behind it: the 8250 driver registers nr_uarts ports (often 4 or
 * 32) and leaves `type` at 0 (PORT_UNKNOWN) for the ones with nothing there.
 * `activeIrqs`: IRQs that have a handler (from /proc/interrupts); a controller's
 * allocated-but-unused MSI vectors are left out.
 */
export function readSysfsPorts(root: FsRoot, activeIrqs?: ReadonlySet<number>): SerialPortInfo[] {
  const byId = readByIdLinks(root);
  const ports: SerialPortInfo[] = [];
  for (const name of root.list(TTY)) {
    const dir = `${TTY}/${name}`;
    if (root.readlink(`${dir}/device`) === null) continue;
    const type = root.readInt(`${dir}/type`);
    if (type === 0) continue;
    const device = root.resolve(`${dir}/device`);
    const devname = /^DEVNAME=(.+)$/m.exec(root.read(`${dir}/uevent`) ?? '')?.[1]?.trim() ?? name;
    const usb = device === null ? null : usbAncestor(root, device);
    const irq = resolveSerialIrqs(root, name, activeIrqs);
    ports.push({
      path: `/dev/${devname}`,
      name,
      bus: root.exists(`${dir}/irq`) ? 'uart' : usb !== null ? 'usb' : 'other',
      device,
      byId: [...(byId.get(name) ?? [])].sort(),
      vendorId: usb?.vendorId ?? null,
      productId: usb?.productId || null,
      serialNumber: usb?.serialNumber ?? null,
      manufacturer: usb?.manufacturer ?? null,
      pci: irq.pci,
      irqs: irq.irqs,
      irqSource: irq.source,
    });
  }
  return ports.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** IRQ numbers that currently have a handler, from <root>/proc/interrupts (sysfs fallback users). */
export function activeIrqsOf(root: FsRoot): Set<number> | undefined {
  const text = root.read('/proc/interrupts');
  if (text === null) return undefined;
  const out = new Set<number>();
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+):/.exec(line);
    if (m) out.add(Number(m[1]));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// @serialport/bindings-cpp

/** Whether `cmd` is an executable on `envPath` (the `which` package: npm's own lookup). */
export function onPath(cmd: string, envPath = process.env.PATH ?? ''): boolean {
  // Required on first use: `which` loads node:fs/promises, which the agent otherwise never
  // needs (issue 14: every module a running agent loads stays in its RSS).
  const which = createRequire(import.meta.url)('which') as typeof import('which');
  return which.sync(cmd, { nothrow: true, path: envPath }) !== null;
}

interface BindingsModule {
  autoDetect(): { list(): Promise<BindingPort[]> };
}

/**
 * The bindings' list(), or a one-line reason it cannot be used. The package is an optional
 * dependency whose native part may not have built on this host, so it is required on first
 * use, and a failure to load it is a reason, not an error.
 */
async function bindingsList(timeoutMs: number): Promise<BindingPort[] | string> {
  // bindings-cpp spawns `udevadm info -e`: absent on minimal hosts and in most containers.
  // Checked first because a failed spawn can race the empty output and "succeed" with [].
  if (!onPath('udevadm')) return 'udevadm not found on PATH';
  let mod: BindingsModule;
  try {
    // require(), not import(): the executable is CommonJS, and an import() would load node's
    // ES module loader into the agent for good (scripts/bundle-cli.mjs).
    const m = createRequire(import.meta.url)('@serialport/bindings-cpp') as Partial<BindingsModule> & { default?: Partial<BindingsModule> };
    const autoDetect = m.autoDetect ?? m.default?.autoDetect;
    if (typeof autoDetect !== 'function') return '@serialport/bindings-cpp has no autoDetect()';
    mod = { autoDetect };
  } catch (e) {
    return `@serialport/bindings-cpp not available (${oneLine(e)})`;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`udevadm gave no answer within ${timeoutMs} ms`), timeoutMs);
      timer.unref();
    });
    return await Promise.race([mod.autoDetect().list(), timeout]);
  } catch (e) {
    return `listing through @serialport/bindings-cpp failed (${oneLine(e)})`;
  } finally {
    clearTimeout(timer);
  }
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

/** Fill what sysfs did not give from udev's view; sysfs keeps the last word on existence and IRQs. */
export function mergeBindings(ports: SerialPortInfo[], listed: BindingPort[]): SerialPortInfo[] {
  const byPath = new Map(listed.map((p) => [p.path, p]));
  return ports.map((p) => {
    const b = byPath.get(p.path);
    if (!b) return p;
    const byId = b.pnpId && !p.byId.includes(b.pnpId) ? [...p.byId, b.pnpId].sort() : p.byId;
    return {
      ...p,
      byId,
      vendorId: p.vendorId ?? b.vendorId?.toLowerCase() ?? null,
      productId: p.productId ?? b.productId?.toLowerCase() ?? null,
      serialNumber: p.serialNumber ?? b.serialNumber ?? null,
      manufacturer: p.manufacturer ?? b.manufacturer ?? null,
    };
  });
}

/**
 * Every hardware serial port under `root`: udev's list through @serialport/bindings-cpp on
 * the live system, completed and checked against sysfs; sysfs alone elsewhere or when the
 * bindings cannot run (with a note saying why). Never rejects.
 */
export async function enumerateSerialPorts(opts: EnumerateOptions = {}): Promise<SerialEnumeration> {
  const root = new FsRoot(opts.root ?? '/');
  const ports = readSysfsPorts(root, activeIrqsOf(root));
  // A fixture tree's ports are in its sysfs; udev only knows the host's (a test's list stands in).
  if (root.root !== '/' && opts.list === undefined) return { ports, source: 'sysfs', notes: [] };
  const listed = opts.list ? await opts.list().catch((e: unknown) => `listing failed (${oneLine(e)})`) : await bindingsList(opts.timeoutMs ?? 5000);
  if (typeof listed !== 'string') return { ports: mergeBindings(ports, listed), source: 'bindings', notes: [] };
  const note = `serial ports: ${listed}; reading /sys/class/tty instead`;
  const notes = opts.seen?.has(note) ? [] : [note];
  opts.seen?.add(note);
  return { ports, source: 'sysfs', notes };
}

