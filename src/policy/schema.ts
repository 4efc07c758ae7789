// policy/schema — every section and key affinityd understands: where it may appear, how its
// value is parsed, where it lives in a Policy, its built-in default and how check-config
// writes it. The loader (policy.ts), the built-in policy and the formatter (format.ts) are
// walks over this one table, so a new key is one line here plus its documentation in
// etc/affinityd.ini. test/policy-schema.test.ts checks the table against that file in both
// directions, and that every key of the table loads, shows in check-config and reads back.

import { createRequire } from 'node:module';
import { formatCpuList, parseCpuList, CpuFormatError } from '../cpumask/cpumask.js';
import type { Policy, Strategy, TriState } from '../types.js';
import { compileGlob, GlobError, parseIrqNumberPattern, splitList } from './match.js';
import { clip } from '../text/printable.js';

// node:net (for isIP) loads node's socket and stream stack (+2.2 MB of RSS in a bare node,
// issue 14), for a key that is usually off. Required on first use instead.
const require = createRequire(import.meta.url);
const isIP = (host: string): number => (require('node:net') as typeof import('node:net')).isIP(host);

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
  /**
   * Field that holds the value in the section's object (objectOf: the Policy itself for
   * [cpus] and [net], Policy.defaults, .agent, .metrics, a PolicySection, a SerialSection);
   * for `match` keys, the field of the section's `match`.
   */
  field: string;
  match?: true;
  /** Built-in value in [defaults] and the fixed sections; null is "unset" (or `off`, per format). */
  default?: unknown;
  /** The value as check-config writes it (parses back to the same); null: not written. */
  format(value: never): string | null;
  /** For a null value: what leaving the key unset means, written as a commented-out key. */
  unset?: string;
  /** The loaded value carries the file and line that set it (listen: "address in use" names its line). */
  origin?: true;
}

const STRATEGIES: readonly Strategy[] = ['spread', 'node', 'pin', 'ignore'];
const TRISTATES: readonly TriState[] = ['auto', 'on', 'off'];

// Linux caps: rps_flow_cnt above INT_MAX is EINVAL (net-sysfs.c), rps_sock_flow_entries
// above 1<<29 is EINVAL (sysctl_net_core.c). Node's setTimeout overflows above INT_MAX ms.
const INT_MAX = 2 ** 31 - 1;
const MAX_RPS_FLOW_CNT = INT_MAX;
const MAX_SOCK_FLOW_ENTRIES = 2 ** 29;
const MAX_SETTLE_MS = 10_000;
const MAX_RESYNC_S = Math.floor(INT_MAX / 1000);

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

/** A whole number from 0 to `max` (digits only, so never below 0). */
function wholeUpTo(max: number, unit = '') {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new ValueError(`expected a whole number${unit}, got '${clip(v)}'`);
    const n = Number(v);
    if (n > max) throw new ValueError(`${n} is out of range (0–${max}${unit})`);
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
    // `match-name = ,` would load as a section that matches nothing, and check-config would
    // write it as `match-name =`, which unsets the key instead.
    if (globs.length === 0) throw new ValueError(`expected at least one ${what}, got '${clip(v)}'`);
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

const list = (v: string[]): string => v.join(' ');
const cpus = (v: number[] | null): string | null => (v === null ? null : formatCpuList(v));
const str = (v: string | number | boolean): string => String(v);

function formatListen(l: ListenAddress | null): string {
  return l === null ? 'off' : l.host.includes(':') ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`;
}

export const KEYS: readonly KeySpec[] = [
  { key: 'cpus', sections: ['cpus'], parse: cpusOrAll, field: 'cpus', default: null, format: (v: number[] | null) => (v === null ? 'all' : formatCpuList(v)) },
  { key: 'exclude-cpus', sections: ['cpus'], parse: cpuList, field: 'excludeCpus', default: [], format: formatCpuList },
  { key: 'allow-isolated', sections: ['cpus'], parse: parseBool, field: 'allowIsolated', default: false, format: str },
  { key: 'allow-nohz-full', sections: ['cpus'], parse: parseBool, field: 'allowNohzFull', default: false, format: str },
  { key: 'online-hotplugged', sections: ['cpus'], parse: parseBool, field: 'onlineHotplugged', default: false, format: str },

  { key: 'match-name', sections: ['net:'], parse: globList('interface name', false, checkIfname), field: 'name', match: true, format: list },
  { key: 'match-driver', sections: ['net:'], parse: globList('driver', false), field: 'driver', match: true, format: list },
  { key: 'match-pci', sections: ['net:'], parse: globList('PCI address', true, checkPci), field: 'pci', match: true, format: list },
  { key: 'match-mac', sections: ['net:'], parse: globList('MAC address', true, checkMac), field: 'mac', match: true, format: list },
  { key: 'match-irq', sections: ['irq:'], parse: irqPatterns, field: 'irq', match: true, format: list },
  { key: 'strategy', sections: ['defaults', 'net:', 'irq:'], parse: oneOf(STRATEGIES), field: 'strategy', default: 'spread', format: str },
  { key: 'pin', sections: ['defaults', 'net:', 'irq:'], parse: cpuList, field: 'pin', default: null, format: cpus },
  { key: 'rps', sections: NET_SECTION, parse: oneOf(TRISTATES), field: 'rps', default: 'auto', format: str },
  { key: 'xps', sections: NET_SECTION, parse: oneOf(TRISTATES), field: 'xps', default: 'auto', format: str },
  { key: 'rps-flow-cnt', sections: NET_SECTION, parse: wholeUpTo(MAX_RPS_FLOW_CNT), field: 'rpsFlowCnt', default: null, format: str, unset: "leave each queue's rps_flow_cnt alone" },
  { key: 'cross-node', sections: NET_SECTION, parse: parseBool, field: 'crossNode', default: false, format: str },

  { key: 'rps-sock-flow-entries', sections: ['net'], parse: wholeUpTo(MAX_SOCK_FLOW_ENTRIES), field: 'rpsSockFlowEntries', default: null, format: str, unset: 'leave net.core.rps_sock_flow_entries alone' },

  // settle-ms 20: a 64-CPU online burst and a NIC add's dozen uevents arrive within a few ms
  // of each other; 20 ms gathers them into one pass and still keeps p95 reaction under 50 ms.
  { key: 'settle-ms', sections: ['agent'], parse: wholeUpTo(MAX_SETTLE_MS, ' ms'), field: 'settleMs', default: 20, format: str },
  { key: 'resync-interval', sections: ['agent'], parse: wholeUpTo(MAX_RESYNC_S, ' s'), field: 'resyncIntervalS', default: 0, format: str },
  { key: 'state-file', sections: ['agent'], parse: stateFile, field: 'stateFile', default: '/var/lib/affinityd/state.json', format: str },

  // Debian's prometheus-node-exporter reads this directory by default (--collector.textfile.directory).
  { key: 'textfile-directory', sections: ['metrics'], parse: dirOrOff, field: 'textfileDirectory', default: '/var/lib/prometheus/node-exporter', format: (v: string | null) => v ?? 'off' },
  { key: 'listen', sections: ['metrics'], parse: parseListen, field: 'listen', default: null, format: formatListen, origin: true },
];

export const KEY_BY_NAME: ReadonlyMap<string, KeySpec> = new Map(KEYS.map((k) => [k.key, k]));

/** Serial port strategies: a port's IRQ is pinned or left alone (spreading one IRQ means nothing). */
export const SERIAL_STRATEGIES = ['pin', 'ignore'] as const;

/**
 * [serial:<label>] keys. A table of their own because `strategy` takes fewer values here
 * than in [defaults]/[net:*]/[irq:*]; the other sections' messages stay as they were.
 */
export const SERIAL_KEYS: readonly KeySpec[] = [
  { key: 'match-path', sections: ['serial:'], parse: globList('device path', false, checkDevPath), field: 'path', match: true, format: list },
  { key: 'match-by-id', sections: ['serial:'], parse: byIdGlobs, field: 'byId', match: true, format: list },
  { key: 'match-usb-id', sections: ['serial:'], parse: globList('USB id', true, checkUsbId), field: 'usbId', match: true, format: list },
  { key: 'match-serial', sections: ['serial:'], parse: globList('USB serial number', false), field: 'serial', match: true, format: list },
  // pin by default: pinning is what a [serial:*] section is for.
  { key: 'strategy', sections: ['serial:'], parse: oneOf(SERIAL_STRATEGIES), field: 'strategy', default: 'pin', format: str },
  { key: 'pin', sections: ['serial:'], parse: cpuList, field: 'pin', format: cpus },
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

/** The keys of a section kind, in table order (the order check-config writes them in). */
export function specsOf(kind: SectionKind): KeySpec[] {
  return (kind === 'serial:' ? SERIAL_KEYS : KEYS).filter((k) => k.sections.includes(kind));
}

export function keysOf(kind: SectionKind): string[] {
  return specsOf(kind).map((k) => k.key);
}

/** The match-* keys of a labelled section kind. */
export function matchSpecsOf(kind: SectionKind): KeySpec[] {
  return specsOf(kind).filter((k) => k.match);
}

type FixedSection = (typeof FIXED_SECTIONS)[number];

/**
 * The object that holds a fixed section's keys in a Policy. Fields are addressed by name
 * (KeySpec.field), so the object is seen as a record here; the table's test proves every
 * field lands where the Policy type says.
 */
export function objectOf(p: Policy, kind: FixedSection): Record<string, unknown> {
  const o = kind === 'cpus' || kind === 'net' ? p : kind === 'defaults' ? p.defaults : kind === 'agent' ? p.agent : p.metrics;
  return o as unknown as Record<string, unknown>;
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
 * The built-in policy: every fixed-section key at its table default. etc/affinityd.ini's
 * active lines must say exactly this (tested).
 */
export function builtinPolicy(): Policy {
  // Built in the order `check-config --json` has always shown: top-level keys first.
  const p = { files: [] } as unknown as Policy;
  const fill = (kind: FixedSection): void => {
    for (const spec of specsOf(kind)) objectOf(p, kind)[spec.field] = structuredClone(spec.default);
  };
  fill('cpus');
  fill('net');
  p.defaults = {} as Policy['defaults'];
  fill('defaults');
  p.sections = [];
  p.agent = {} as Policy['agent'];
  fill('agent');
  p.metrics = {} as Policy['metrics'];
  fill('metrics');
  return p;
}
