// policy/schema — every section and key affinityd understands: where it may appear, how its
// value is parsed, and its built-in default. etc/affinityd.ini documents the same table for
// people; test/policy.test.ts checks that the two agree (parse of the shipped file ==
// builtinPolicy(), and every key here appears in the file).

import { isIP } from 'node:net';
import { parseCpuList, CpuFormatError } from '../cpumask/cpumask.js';
import type { Policy, Strategy, TriState } from '../types.js';
import { compileGlob, GlobError, parseIrqNumberPattern, splitList } from './match.js';
import { clip } from '../text/printable.js';

/** Fixed sections by name; the prefixed kinds take a label: [net:wan], [irq:timers], [serial:gps]. */
export type SectionKind = 'cpus' | 'defaults' | 'net' | 'agent' | 'metrics' | 'net:' | 'irq:' | 'serial:';

export const FIXED_SECTIONS = ['cpus', 'defaults', 'net', 'agent', 'metrics'] as const;
export const LABELLED_PREFIXES = ['net', 'irq', 'serial'] as const;

/**
 * Labels are names for people and for messages, never matched against devices — interface
 * names go in match-name values. Dots are allowed ([net:eth0.100]): this loader scans
 * sections itself, so the `ini` package's nesting of dotted headers never happens.
 */
export const LABEL_RE = /^[A-Za-z0-9_.@+-]+$/;

/** Thrown by value parsers; the loader adds file, line, section and key. */
export class ValueError extends Error {}

export interface KeySpec {
  key: string;
  sections: readonly SectionKind[];
  /** Parses a non-empty value (an empty value resets the key to its default). */
  parse(value: string): unknown;
}

const STRATEGIES: readonly Strategy[] = ['spread', 'node', 'pin', 'ignore'];
const TRISTATES: readonly TriState[] = ['auto', 'on', 'off'];

// Linux caps: rps_flow_cnt above INT_MAX is EINVAL (net-sysfs.c), rps_sock_flow_entries
// above 1<<29 is EINVAL (sysctl_net_core.c). Node's setTimeout overflows above 2^31-1 ms.
const MAX_RPS_FLOW_CNT = 2 ** 31 - 1;
const MAX_SOCK_FLOW_ENTRIES = 2 ** 29;
const MAX_SETTLE_MS = 10_000;
const MAX_RESYNC_S = Math.floor((2 ** 31 - 1) / 1000);

function oneOf<T extends string>(choices: readonly T[]) {
  return (v: string): T => {
    const l = v.toLowerCase();
    const hit = choices.find((c) => c === l);
    if (hit === undefined) throw new ValueError(`expected one of ${choices.join(', ')}, got '${clip(v)}'`);
    return hit;
  };
}

export function parseBool(v: string): boolean {
  // ini would only turn "true"/"false" into booleans; people also write yes/no, on/off, 1/0.
  const l = v.toLowerCase();
  if (['true', 'yes', 'on', '1'].includes(l)) return true;
  if (['false', 'no', 'off', '0'].includes(l)) return false;
  throw new ValueError(`expected a boolean (true/false, yes/no, on/off, 1/0), got '${clip(v)}'`);
}

function intIn(min: number, max: number, unit = '') {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new ValueError(`expected a whole number${unit}, got '${clip(v)}'`);
    const n = Number(v);
    if (n < min || n > max) throw new ValueError(`${n} is out of range (${min}–${max}${unit})`);
    return n;
  };
}

function cpuList(v: string): number[] {
  try {
    return parseCpuList(v);
  } catch (e) {
    if (e instanceof CpuFormatError) throw new ValueError(e.message);
    throw e;
  }
}

function cpusOrAll(v: string): number[] | null {
  return v.toLowerCase() === 'all' ? null : cpuList(v);
}

/** Glob list parser; `check` validates each glob (after lower-casing when `lower`). */
function globList(what: string, lower: boolean, check?: (g: string) => string | null) {
  return (v: string): string[] => {
    const globs = splitList(lower ? v.toLowerCase() : v);
    for (const g of globs) {
      try {
        compileGlob(g);
      } catch (e) {
        if (e instanceof GlobError) throw new ValueError(e.message);
        throw e;
      }
      const problem = check?.(g);
      if (problem) throw new ValueError(`${what} '${clip(g)}': ${problem}`);
    }
    return globs;
  };
}

const isGlob = (g: string): boolean => /[*?[\\]/.test(g);

function checkIfname(g: string): string | null {
  // dev_valid_name(): no '/', ':' or whitespace; IFNAMSIZ 16 including the NUL.
  if (/[/:]/.test(g)) return "interface names cannot contain '/' or ':'";
  if (!isGlob(g) && g.length > 15) return 'interface names are at most 15 characters';
  return null;
}

function checkPci(g: string): string | null {
  if (!/^[0-9a-f:.*?[\]!^\\-]+$/.test(g)) return 'expected a PCI address like 0000:01:00.0 (globs allowed)';
  if (!isGlob(g) && !/^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(g)) {
    return 'expected domain:bus:device.function, e.g. 0000:01:00.0';
  }
  return null;
}

function checkMac(g: string): string | null {
  if (!/^[0-9a-f:*?[\]!^\\-]+$/.test(g)) return 'expected a MAC address like 52:54:00:12:34:56 (globs allowed)';
  if (!isGlob(g) && !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(g)) return 'expected six colon-separated hex octets';
  return null;
}

function irqPatterns(v: string): string[] {
  const pats = globList('IRQ pattern', false)(v);
  for (const p of pats) {
    const r = parseIrqNumberPattern(p);
    if (r !== null && r[1] < r[0]) throw new ValueError(`descending IRQ range '${clip(p)}'`);
  }
  return pats;
}

function absPath(v: string): string {
  if (!v.startsWith('/')) throw new ValueError(`expected an absolute path, got '${clip(v)}'`);
  return v;
}

/**
 * The state file: an absolute path to a file, written as root. `.`/`..` components are
 * refused (`/../../..` climbed out of --root through a plain path join), as are a trailing
 * '/' (no file name) and control characters.
 */
function stateFile(v: string): string {
  absPath(v);
  if (v.split('/').some((c) => c === '..' || c === '.')) throw new ValueError(`'.' and '..' are not allowed in the path, got '${clip(v)}'`);
  if (v.endsWith('/')) throw new ValueError(`expected a file name, got the directory '${clip(v)}'`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new ValueError('control characters are not allowed in the path');
  return v;
}

/** `off` or an absolute directory (an empty value already means "the default"). */
function dirOrOff(v: string): string | null {
  if (v.toLowerCase() === 'off') return null;
  if (!v.startsWith('/')) throw new ValueError(`expected an absolute directory or 'off', got '${clip(v)}'`);
  // Same rules as state-file: the agent writes here as root.
  if (v.split('/').some((c) => c === '..' || c === '.')) throw new ValueError(`'.' and '..' are not allowed in the path, got '${clip(v)}'`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new ValueError('control characters are not allowed in the path');
  return v;
}

/** Where the /metrics listener binds. */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * `off`, or HOST:PORT with an IP literal (IPv6 in brackets) or `localhost`. No other names:
 * resolving them at start-up would make the agent's start depend on DNS, before the network
 * is up (the unit runs before network-pre.target).
 */
export function parseListen(v: string): ListenAddress | null {
  if (v.toLowerCase() === 'off') return null;
  const m = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(v);
  if (!m) throw new ValueError(`expected HOST:PORT (127.0.0.1:9101, [::1]:9101) or 'off', got '${v}'`);
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new ValueError(`port ${port} is out of range (1–65535)`);
  const family = isIP(host);
  if (m[1] !== undefined && family !== 6) throw new ValueError(`'${host}' in brackets is not an IPv6 address`);
  if (m[2] !== undefined && family !== 4 && host !== 'localhost') {
    throw new ValueError(`'${host}' is not an IPv4 address (write IPv6 as [::1]:${port}; host names other than localhost are not resolved)`);
  }
  return { host, port };
}

/** Device path globs: absolute, as the port's node is written (/dev/ttyUSB*, /dev/serial/by-id/usb-FTDI*). */
function checkDevPath(g: string): string | null {
  if (!g.startsWith('/')) return "expected a device path starting with '/', e.g. /dev/ttyUSB0 (globs allowed)";
  return null;
}

const BY_ID_DIR = '/dev/serial/by-id/';

/** by-id link names; a pasted full path loses its directory (the link name is what is matched). */
function byIdGlobs(v: string): string[] {
  const globs = globList('by-id link name', false)(v).map((g) => (g.startsWith(BY_ID_DIR) ? g.slice(BY_ID_DIR.length) : g));
  for (const g of globs) {
    if (g.includes('/')) {
      throw new ValueError(`by-id link name '${clip(g)}': a link name has no '/' (the name under ${BY_ID_DIR}, e.g. usb-FTDI_FT232R_USB_UART_A1B2C3-if00-port0)`);
    }
  }
  return globs;
}

function checkUsbId(g: string): string | null {
  if (g === '*') return null;
  const halves = g.split(':');
  if (halves.length !== 2 || !halves.every((h) => /^[0-9a-f*?[\]!^\\-]+$/.test(h))) {
    return 'expected vendor:product in hex, e.g. 0403:6001 (globs allowed: 0403:*)';
  }
  if (!isGlob(g) && !/^[0-9a-f]{4}:[0-9a-f]{4}$/.test(g)) return 'expected four hex digits on each side, e.g. 0403:6001';
  return null;
}

const NET_SECTION: SectionKind[] = ['defaults', 'net:'];

export const KEYS: readonly KeySpec[] = [
  { key: 'cpus', sections: ['cpus'], parse: cpusOrAll },
  { key: 'exclude-cpus', sections: ['cpus'], parse: cpuList },
  { key: 'allow-isolated', sections: ['cpus'], parse: parseBool },
  { key: 'allow-nohz-full', sections: ['cpus'], parse: parseBool },
  { key: 'online-hotplugged', sections: ['cpus'], parse: parseBool },

  { key: 'match-name', sections: ['net:'], parse: globList('interface name', false, checkIfname) },
  { key: 'match-driver', sections: ['net:'], parse: globList('driver', false) },
  { key: 'match-pci', sections: ['net:'], parse: globList('PCI address', true, checkPci) },
  { key: 'match-mac', sections: ['net:'], parse: globList('MAC address', true, checkMac) },
  { key: 'match-irq', sections: ['irq:'], parse: irqPatterns },
  { key: 'strategy', sections: ['defaults', 'net:', 'irq:'], parse: oneOf(STRATEGIES) },
  { key: 'pin', sections: ['defaults', 'net:', 'irq:'], parse: cpuList },
  { key: 'rps', sections: NET_SECTION, parse: oneOf(TRISTATES) },
  { key: 'xps', sections: NET_SECTION, parse: oneOf(TRISTATES) },
  { key: 'rps-flow-cnt', sections: NET_SECTION, parse: intIn(0, MAX_RPS_FLOW_CNT) },
  { key: 'cross-node', sections: NET_SECTION, parse: parseBool },

  { key: 'rps-sock-flow-entries', sections: ['net'], parse: intIn(0, MAX_SOCK_FLOW_ENTRIES) },

  { key: 'settle-ms', sections: ['agent'], parse: intIn(0, MAX_SETTLE_MS, ' ms') },
  { key: 'resync-interval', sections: ['agent'], parse: intIn(0, MAX_RESYNC_S, ' s') },
  { key: 'state-file', sections: ['agent'], parse: stateFile },

  { key: 'textfile-directory', sections: ['metrics'], parse: dirOrOff },
  { key: 'listen', sections: ['metrics'], parse: parseListen },
];

export const KEY_BY_NAME: ReadonlyMap<string, KeySpec> = new Map(KEYS.map((k) => [k.key, k]));

/** Serial port strategies: a port's IRQ is pinned or left alone (spreading one IRQ means nothing). */
export const SERIAL_STRATEGIES = ['pin', 'ignore'] as const;

/**
 * [serial:<label>] keys. A table of their own because `strategy` takes fewer values here
 * than in [defaults]/[net:*]/[irq:*]; the other sections' messages stay as they were.
 */
export const SERIAL_KEYS: readonly KeySpec[] = [
  { key: 'match-path', sections: ['serial:'], parse: globList('device path', false, checkDevPath) },
  { key: 'match-by-id', sections: ['serial:'], parse: byIdGlobs },
  { key: 'match-usb-id', sections: ['serial:'], parse: globList('USB id', true, checkUsbId) },
  { key: 'match-serial', sections: ['serial:'], parse: globList('USB serial number', false) },
  { key: 'strategy', sections: ['serial:'], parse: oneOf(SERIAL_STRATEGIES) },
  { key: 'pin', sections: ['serial:'], parse: cpuList },
];

export const SERIAL_KEY_BY_NAME: ReadonlyMap<string, KeySpec> = new Map(SERIAL_KEYS.map((k) => [k.key, k]));

/** The spec of `key` in a section of `kind`, or undefined when the key is not valid there. */
export function keySpec(kind: SectionKind, key: string): KeySpec | undefined {
  const spec = kind === 'serial:' ? SERIAL_KEY_BY_NAME.get(key) : KEY_BY_NAME.get(key);
  return spec?.sections.includes(kind) ? spec : undefined;
}

/** Section kinds a key is valid in (serial-only keys included), for "it belongs in …" hints. */
export function kindsOf(key: string): SectionKind[] {
  return [...(KEY_BY_NAME.get(key)?.sections ?? SERIAL_KEY_BY_NAME.get(key)?.sections ?? [])];
}

export function keysOf(kind: SectionKind): string[] {
  return (kind === 'serial:' ? SERIAL_KEYS : KEYS).filter((k) => k.sections.includes(kind)).map((k) => k.key);
}

/** "[cpus]", "[net:<label>]" — how a section kind is written in messages. */
export function kindTitle(kind: SectionKind): string {
  return kind.endsWith(':') ? `[${kind}<label>]` : `[${kind}]`;
}

/** Section kind of a header name, or null when unknown. */
export function sectionKind(name: string): SectionKind | null {
  if ((FIXED_SECTIONS as readonly string[]).includes(name)) return name as SectionKind;
  const colon = name.indexOf(':');
  if (colon > 0) {
    const prefix = name.slice(0, colon);
    if ((LABELLED_PREFIXES as readonly string[]).includes(prefix)) return `${prefix}:` as SectionKind;
  }
  return null;
}

/**
 * The built-in policy. etc/affinityd.ini's active lines must say exactly this (tested).
 * settle-ms 20: a 64-CPU online burst and a NIC add's dozen uevents arrive within a few ms
 * of each other; 20 ms gathers them into one pass and still keeps p95 reaction under 50 ms.
 */
export function builtinPolicy(): Policy {
  return {
    files: [],
    cpus: null,
    excludeCpus: [],
    allowIsolated: false,
    allowNohzFull: false,
    onlineHotplugged: false,
    rpsSockFlowEntries: null,
    defaults: { strategy: 'spread', pin: null, rps: 'auto', xps: 'auto', rpsFlowCnt: null, crossNode: false },
    sections: [],
    agent: { settleMs: 20, resyncIntervalS: 0, stateFile: '/var/lib/affinityd/state.json' },
    // Debian's prometheus-node-exporter reads this directory by default (--collector.textfile.directory).
    metrics: { textfileDirectory: '/var/lib/prometheus/node-exporter', listen: null },
  };
}
