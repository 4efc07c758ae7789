// The policy schema table (src/policy/schema.ts) against what is built from it: every key in
// the table is documented in etc/affinityd.ini and every key documented there is in the
// table; and every key of the table, set in a policy file, loads, shows in `check-config`
// (formatPolicy) and reads back the same — so a key added to the table but not wired into
// the loader or the formatter fails here, by name.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { formatPolicy, parsePolicy, shippedPolicyPath, validatePolicy } from '../src/policy/policy.js';
import { KEYS, SERIAL_KEYS, keySpec, sectionKind, type SectionKind } from '../src/policy/schema.js';
import type { Policy } from '../src/types.js';

const ALL_KEYS = [...KEYS, ...SERIAL_KEYS];

/** One valid value per key: what the generated policies below set it to. */
const EXAMPLE: Record<string, string> = {
  cpus: '0-1',
  'exclude-cpus': '1',
  'allow-isolated': 'true',
  'allow-nohz-full': 'true',
  'online-hotplugged': 'true',
  'match-name': 'eth1',
  'match-driver': 'ixgbe',
  'match-pci': '0000:3b:00.*',
  'match-mac': '52:54:00:*',
  'match-irq': '24',
  strategy: 'node',
  pin: '2-3',
  rps: 'on',
  xps: 'off',
  'rps-flow-cnt': '4096',
  'cross-node': 'true',
  'rps-sock-flow-entries': '32768',
  'settle-ms': '50',
  'resync-interval': '60',
  'state-file': '/run/affinityd/state.json',
  'textfile-directory': '/run/prometheus',
  listen: '127.0.0.1:9101',
  'match-path': '/dev/ttyUSB*',
  'match-by-id': 'usb-FTDI_*',
  'match-usb-id': '0403:6001',
  'match-serial': 'A1B2C3',
};

const ini = fs.readFileSync(shippedPolicyPath()!, 'utf8');

/**
 * Keys etc/affinityd.ini documents, with the section kind they are documented in: `key =`
 * lines (active or commented out) under a `[section]` or `;[section]` header, and the
 * `;   key   what it does` lists under a `; [net:<label>] —` heading.
 */
function documentedKeys(): { key: string; kind: SectionKind; line: number }[] {
  const out: { key: string; kind: SectionKind; line: number }[] = [];
  let kind: SectionKind | null = null;
  for (const [i, l] of ini.split('\n').entries()) {
    const header = /^;?\s?\[([a-z]+(?::[A-Za-z0-9_.@+<>-]*)?)\]/.exec(l);
    if (header) {
      kind = sectionKind(header[1]!.replace('<label>', 'x'));
      continue;
    }
    const key = /^;?([a-z][a-z-]*) =/.exec(l) ?? /^;   ([a-z][a-z-]+)\s{2,}\S/.exec(l);
    if (key && kind !== null) out.push({ key: key[1]!, kind, line: i + 1 });
  }
  return out;
}

test('every key of the schema is documented in etc/affinityd.ini, in a section it is valid in', () => {
  const documented = documentedKeys();
  for (const spec of ALL_KEYS) {
    for (const kind of spec.sections) {
      // [defaults] documents the keys [net:*] and [irq:*] inherit; the sections' own lists name them.
      const here = documented.some((d) => d.key === spec.key && d.kind === kind);
      const inherited = (kind === 'net:' || kind === 'irq:') && documented.some((d) => d.key === spec.key && d.kind === 'defaults');
      assert.ok(here || inherited, `key '${spec.key}' of [${kind}…] is not documented in etc/affinityd.ini`);
    }
  }
});

test('every key etc/affinityd.ini documents is in the schema, for the section it is under', () => {
  const documented = documentedKeys();
  assert.ok(documented.length >= ALL_KEYS.length, 'the documentation parser found the keys');
  for (const d of documented) {
    assert.ok(keySpec(d.kind, d.key) !== undefined, `etc/affinityd.ini:${d.line}: '${d.key}' is not a key of [${d.kind}…] in src/policy/schema.ts`);
  }
});

/** A section of `kind` that sets `key` to its example, with what the section needs besides. */
function sectionText(kind: SectionKind, key: string): string {
  const name = kind.endsWith(':') ? `${kind}t` : kind;
  const lines = [`[${name}]`];
  if (kind === 'net:' && !key.startsWith('match-')) lines.push('match-name = eth9');
  if (kind === 'irq:' && key !== 'match-irq') lines.push('match-irq = 99');
  if (kind === 'serial:' && !key.startsWith('match-')) lines.push('match-path = /dev/ttyS9');
  if (key === 'pin' && kind !== 'serial:') lines.push('strategy = pin');
  lines.push(`${key} = ${kind === 'serial:' && key === 'strategy' ? 'ignore' : EXAMPLE[key]}`);
  if (kind === 'serial:' && key !== 'pin' && key !== 'strategy') lines.push('pin = 1');
  return lines.join('\n') + '\n';
}

/** A Policy without where it came from (file names and line numbers differ after a round trip). */
const content = (p: Policy): string => JSON.stringify(p, (k, v) => (k === 'files' || k === 'file' || k === 'line' ? undefined : v));

test('every key of the table loads, shows in check-config, and reads back the same (generated over the table)', () => {
  for (const spec of ALL_KEYS) assert.ok(EXAMPLE[spec.key] !== undefined, `add an example value for the new key '${spec.key}' to EXAMPLE`);
  const base = parsePolicy('', 'empty.ini');
  for (const spec of ALL_KEYS) {
    for (const kind of spec.sections) {
      const text = sectionText(kind, spec.key);
      const what = `${spec.key} in [${kind}…]:\n${text}`;
      assert.deepEqual(validatePolicy(text, 'gen.ini'), [], what);
      const p = parsePolicy(text, 'gen.ini');
      assert.notEqual(content(p), content(base), `${what}setting it changes nothing in the loaded policy`);
      const shown = formatPolicy(p);
      assert.match(shown, new RegExp(`^${spec.key} = \\S`, 'm'), `${what}check-config does not show it`);
      assert.equal(content(parsePolicy(shown, 'check-config.ini')), content(p), `${what}check-config output reads back differently`);
    }
  }
});
