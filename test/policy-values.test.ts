// policy-values tests — what each key of the schema (src/policy/schema.ts) accepts and
// refuses, at the edges of its rule: the value as loaded, or the problem the loader reports
// (PolicyError.detail, after "file:line: [section] key: "). policy-schema.test.ts loads one
// valid example per key; these are the edges its examples cannot reach.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatPolicy, parsePolicy, PolicyError } from '../src/policy/policy.js';
import { KEYS, keySpec, objectOf, SERIAL_KEYS, type SectionKind } from '../src/policy/schema.js';
import type { Policy } from '../src/types.js';
import { runs } from './helpers/runs.js';

/** A section of `kind` setting `key = value`, with what the section needs besides to load. */
function sectionWith(kind: SectionKind, key: string, value: string): string {
  const lines = [`[${kind.endsWith(':') ? `${kind}t` : kind}]`];
  if (kind === 'net:' && !key.startsWith('match-')) lines.push('match-name = eth9');
  if (kind === 'irq:' && key !== 'match-irq') lines.push('match-irq = 99');
  if (kind === 'serial:' && !key.startsWith('match-')) lines.push('match-path = /dev/ttyS9');
  if (key === 'pin' && kind !== 'serial:') lines.push('strategy = pin');
  if (kind === 'serial:' && key !== 'pin' && key !== 'strategy') lines.push('pin = 1');
  lines.push(`${key} = ${value}`);
  return lines.join('\n') + '\n';
}

/** A section of `kind` setting `key = value` (and what the section needs besides), loaded. */
function loadValue(kind: SectionKind, key: string, value: string): { value: unknown } | { error: string } {
  const text = sectionWith(kind, key, value);
  try {
    const p = parsePolicy(text, 'v.ini');
    const spec = keySpec(kind, key)!;
    const o = (kind === 'net:' || kind === 'irq:' ? p.sections[0] : kind === 'serial:' ? p.serialSections![0] : objectOf(p, kind as 'cpus')) as unknown as Record<string, unknown>;
    const v = spec.match ? (o.match as Record<string, unknown>)[spec.field] : o[spec.field];
    return { value: spec.origin && v !== null ? { ...(v as object), file: undefined, line: undefined } : v };
  } catch (e) {
    assert.ok(e instanceof PolicyError, String(e));
    assert.equal(e.key, key, `${key} = ${value}: ${e.message}`);
    return { error: e.detail };
  }
}

const ok = (value: unknown) => ({ value });
const refused = (error: string) => ({ error });

const VALUES: [SectionKind, string, string, { value: unknown } | { error: string }][] = [
  // Interface names are case-sensitive; '/' and ':' are never in one; 15 characters at most, unless a glob.
  ['net:', 'match-name', 'ETH0 eth1', ok(['ETH0', 'eth1'])],
  ['net:', 'match-name', 'a'.repeat(15), ok(['a'.repeat(15)])],
  ['net:', 'match-name', 'a'.repeat(16), refused(`interface name '${'a'.repeat(16)}': interface names are at most 15 characters`)],
  ['net:', 'match-name', `${'a'.repeat(16)}*`, ok([`${'a'.repeat(16)}*`])],
  ['net:', 'match-name', 'eth0/1', refused("interface name 'eth0/1': interface names cannot contain '/' or ':'")],
  ['net:', 'match-name', 'eth0:1', refused("interface name 'eth0:1': interface names cannot contain '/' or ':'")],
  ['net:', 'match-driver', 'IXGBE', ok(['IXGBE'])],
  // PCI addresses: lower-cased; a plain address is domain:bus:device.function, a glob only uses their characters.
  ['net:', 'match-pci', '0000:3B:00.7', ok(['0000:3b:00.7'])],
  ['net:', 'match-pci', '10000:01:00.0', ok(['10000:01:00.0'])],
  ['net:', 'match-pci', '0000:01:00.8', refused("PCI address '0000:01:00.8': expected domain:bus:device.function, e.g. 0000:01:00.0")],
  ['net:', 'match-pci', ':0000:01:00.0', refused("PCI address ':0000:01:00.0': expected domain:bus:device.function, e.g. 0000:01:00.0")],
  ['net:', 'match-pci', '0000:01:00.00', refused("PCI address '0000:01:00.00': expected domain:bus:device.function, e.g. 0000:01:00.0")],
  ['net:', 'match-pci', '000:01:00.0', refused("PCI address '000:01:00.0': expected domain:bus:device.function, e.g. 0000:01:00.0")],
  ['net:', 'match-pci', '0000:3b:*g', refused("PCI address '0000:3b:*g': expected a PCI address like 0000:01:00.0 (globs allowed)")],
  ['net:', 'match-pci', 'g000:3b:*', refused("PCI address 'g000:3b:*': expected a PCI address like 0000:01:00.0 (globs allowed)")],
  ['net:', 'match-pci', '0000:[0-3]?:*', ok(['0000:[0-3]?:*'])],
  // MACs: lower-cased; six octets, or a glob of their characters.
  ['net:', 'match-mac', '52:54:00:AB:CD:EF', ok(['52:54:00:ab:cd:ef'])],
  ['net:', 'match-mac', ':52:54:00:12:34:56', refused("MAC address ':52:54:00:12:34:56': expected six colon-separated hex octets")],
  ['net:', 'match-mac', '52:54:00:12:34:56:78', refused("MAC address '52:54:00:12:34:56:78': expected six colon-separated hex octets")],
  ['net:', 'match-mac', '52:54:0:12:34:56', refused("MAC address '52:54:0:12:34:56': expected six colon-separated hex octets")],
  ['net:', 'match-mac', '52:54:*g', refused("MAC address '52:54:*g': expected a MAC address like 52:54:00:12:34:56 (globs allowed)")],
  ['net:', 'match-mac', 'g2:54:*', refused("MAC address 'g2:54:*': expected a MAC address like 52:54:00:12:34:56 (globs allowed)")],
  ['net:', 'match-mac', 'eth0', refused("MAC address 'eth0': expected a MAC address like 52:54:00:12:34:56 (globs allowed)")],
  // IRQ patterns: an ascending (or one-IRQ) range, or a name glob; a bad glob is the glob's message.
  ['irq:', 'match-irq', '30-30 ttyS*', ok(['30-30', 'ttyS*'])],
  ['irq:', 'match-irq', '31-30', refused("descending IRQ range '31-30'")],
  ['irq:', 'match-irq', 'tty[9-0]', refused(`reversed range '9-0' in glob "tty[9-0]" (write '0-9')`)],
  ['defaults', 'strategy', 'NODE', ok('node')],
  ['defaults', 'rps', 'Off', ok('off')],
  ['defaults', 'rps-flow-cnt', '2147483647', ok(2147483647)],
  ['defaults', 'rps-flow-cnt', '2147483648', refused('2147483648 is out of range (0–2147483647)')],
  ['defaults', 'pin', '1-2,5', ok([1, 2, 5])],
  ['defaults', 'pin', 'x', refused('invalid cpulist element "x" in "x"')],
  // A quoted blank is a cpulist of no CPUs: no pin at all.
  ['defaults', 'pin', '" "', refused('required when strategy = pin (a cpulist, e.g. pin = 2-3)')],
  ['serial:', 'pin', '" "', refused('required when strategy = pin (a cpulist, e.g. pin = 2-3)')],
  // An empty match list would match nothing; the message names what each key lists.
  ...([
    ['net:', 'match-name', 'interface name'],
    ['net:', 'match-driver', 'driver'],
    ['net:', 'match-pci', 'PCI address'],
    ['net:', 'match-mac', 'MAC address'],
    ['irq:', 'match-irq', 'IRQ pattern'],
    ['serial:', 'match-path', 'device path'],
    ['serial:', 'match-by-id', 'by-id link name'],
    ['serial:', 'match-usb-id', 'USB id'],
    ['serial:', 'match-serial', 'USB serial number'],
  ] as const).map(([kind, key, what]) => [kind, key, ',', refused(`expected at least one ${what}, got ','`)] as (typeof VALUES)[number]),
  ['cpus', 'cpus', 'All', ok(null)],
  ['cpus', 'cpus', '3,1', ok([1, 3])],
  ['agent', 'resync-interval', '2147483', ok(2147483)],
  ['agent', 'resync-interval', '2147484', refused('2147484 is out of range (0–2147483 s)')],
  // The state file is written as root: an absolute file path, no '.'/'..', no control characters.
  ['agent', 'state-file', '/var/lib/a..b/s.json', ok('/var/lib/a..b/s.json')],
  ['agent', 'state-file', '/var/lib/../s.json', refused("'.' and '..' are not allowed in the path, got '/var/lib/../s.json'")],
  ['agent', 'state-file', '/var/./s.json', refused("'.' and '..' are not allowed in the path, got '/var/./s.json'")],
  ['agent', 'state-file', '/var/lib/', refused("expected a file name, got the directory '/var/lib/'")],
  ['agent', 'state-file', '/var/\u0001s.json', refused('control characters are not allowed in the path')],
  ['agent', 'state-file', '/var/s.json\u007f', refused('control characters are not allowed in the path')],
  ['metrics', 'textfile-directory', 'OFF', ok(null)],
  ['metrics', 'textfile-directory', '/run/x/', ok('/run/x/')],
  ['metrics', 'textfile-directory', '/run/a..b/textfile.d', ok('/run/a..b/textfile.d')],
  ['metrics', 'textfile-directory', 'run/x', refused("expected an absolute directory or 'off', got 'run/x'")],
  ['metrics', 'textfile-directory', '/run/../x', refused("'.' and '..' are not allowed in the path, got '/run/../x'")],
  ['metrics', 'textfile-directory', '/run/./x', refused("'.' and '..' are not allowed in the path, got '/run/./x'")],
  ['metrics', 'textfile-directory', '/run/\u001fx', refused('control characters are not allowed in the path')],
  // listen: IP literals (IPv6 in brackets) or localhost, ports 1–65535.
  ['metrics', 'listen', 'Off', ok(null)],
  ['metrics', 'listen', '[::1]:1', ok({ host: '::1', port: 1, file: undefined, line: undefined })],
  ['metrics', 'listen', 'localhost:65535', ok({ host: 'localhost', port: 65535, file: undefined, line: undefined })],
  ['metrics', 'listen', '0.0.0.0:0', refused('port 0 is out of range (1–65535)')],
  ['metrics', 'listen', '0.0.0.0:65536', refused('port 65536 is out of range (1–65535)')],
  ['metrics', 'listen', '[127.0.0.1]:80', refused("'127.0.0.1' in brackets is not an IPv6 address")],
  ['metrics', 'listen', 'example.org:80', refused("'example.org' is not an IPv4 address (write IPv6 as [::1]:80; host names other than localhost are not resolved)")],
  ['metrics', 'listen', '::1:80', refused("expected HOST:PORT (127.0.0.1:9101, [::1]:9101) or 'off', got '::1:80'")],
  ['metrics', 'listen', 'x127.0.0.1:80', refused("'x127.0.0.1' is not an IPv4 address (write IPv6 as [::1]:80; host names other than localhost are not resolved)")],
  ['metrics', 'listen', '127.0.0.1:123456', refused("expected HOST:PORT (127.0.0.1:9101, [::1]:9101) or 'off', got '127.0.0.1:123456'")],
  // [serial:*]: device paths are absolute; by-id names lose a pasted directory and have no '/'.
  ['serial:', 'match-path', 'ttyUSB0', refused("device path 'ttyUSB0': expected a device path starting with '/', e.g. /dev/ttyUSB0 (globs allowed)")],
  ['serial:', 'match-by-id', '/dev/serial/by-id/usb-FTDI* usb-x', ok(['usb-FTDI*', 'usb-x'])],
  ['serial:', 'match-by-id', 'by-id/usb-x', refused("by-id link name 'by-id/usb-x': a link name has no '/' (the name under /dev/serial/by-id/, e.g. usb-FTDI_FT232R_USB_UART_A1B2C3-if00-port0)")],
  ['serial:', 'match-usb-id', '* 0403:* 0403:6001 1A86:7523', ok(['*', '0403:*', '0403:6001', '1a86:7523'])],
  ['serial:', 'match-usb-id', '0403', refused("USB id '0403': expected vendor:product in hex, e.g. 0403:6001 (globs allowed: 0403:*)")],
  ['serial:', 'match-usb-id', '0403:6001:1', refused("USB id '0403:6001:1': expected vendor:product in hex, e.g. 0403:6001 (globs allowed: 0403:*)")],
  ['serial:', 'match-usb-id', '0403:zz*', refused("USB id '0403:zz*': expected vendor:product in hex, e.g. 0403:6001 (globs allowed: 0403:*)")],
  ['serial:', 'match-usb-id', '0403:*g', refused("USB id '0403:*g': expected vendor:product in hex, e.g. 0403:6001 (globs allowed: 0403:*)")],
  ['serial:', 'match-usb-id', 'g403:*', refused("USB id 'g403:*': expected vendor:product in hex, e.g. 0403:6001 (globs allowed: 0403:*)")],
  ['serial:', 'match-usb-id', '403:6001', refused("USB id '403:6001': expected four hex digits on each side, e.g. 0403:6001")],
  ['serial:', 'match-usb-id', '00403:6001', refused("USB id '00403:6001': expected four hex digits on each side, e.g. 0403:6001")],
  ['serial:', 'match-usb-id', '0403:60010', refused("USB id '0403:60010': expected four hex digits on each side, e.g. 0403:6001")],
  ['serial:', 'match-serial', 'a1B2', ok(['a1B2'])],
  ['serial:', 'strategy', 'Ignore', ok('ignore')],
  ['serial:', 'strategy', 'spread', refused("expected one of pin, ignore, got 'spread'")],
];

test('each key accepts and refuses the values its rule says, at the edges (table)', () => {
  for (const [kind, key, value, want] of VALUES) assert.deepEqual(loadValue(kind, key, value), want, `[${kind}…] ${key} = ${value}`);
});

/** Pieces of values: separators, glob syntax, words and addresses that some key accepts. */
const PIECES = [
  ',', ' ', ';', '#', '"', "'", '\\', 'a', 'B', '*', '?', '[a-c]', '[!0]', '0', '1', '7', '-', ':', '.', '/', '/x', '..',
  'off', 'all', 'On', 'pin', 'ignore', 'node', 'true', '0000:01:00.0', '52:54:00:12:34:56', '0403:6001', '127.0.0.1:80', '[::1]:9',
];
const SETTINGS = [...KEYS, ...SERIAL_KEYS].flatMap((spec) => spec.sections.map((kind) => [kind, spec.key] as const));

/** A Policy without where it came from (file names and line numbers differ after a round trip). */
const content = (p: Policy): string => JSON.stringify(p, (k, v) => (k === 'files' || k === 'file' || k === 'line' ? undefined : v));

test('any value a key accepts reads back the same from check-config output (generated over the table)', () => {
  fc.assert(
    fc.property(fc.constantFrom(...SETTINGS), fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 5 }), ([kind, key], pieces) => {
      let p: Policy;
      try {
        p = parsePolicy(sectionWith(kind, key, pieces.join('')), 'v.ini');
      } catch (e) {
        assert.ok(e instanceof PolicyError, String(e));
        return;
      }
      const shown = formatPolicy(p);
      assert.equal(content(parsePolicy(shown, 'check-config.ini')), content(p), shown);
    }),
    { numRuns: runs(3000) },
  );
});
