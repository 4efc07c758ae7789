// policy-format tests — `affinityd check-config` output (formatPolicy) as text: the header,
// where the policy came from, every key of the fixed sections (unset ones as commented-out
// keys that say what leaving them unset means), and each labelled section after the line it
// came from. policy.test.ts and policy-schema.test.ts check that the output reads back to
// the same policy; this checks what an operator reads.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPolicy, formatPolicy, parsePolicy, shippedPolicyPath } from '../src/policy/policy.js';
import { builtinPolicy } from '../src/policy/schema.js';

const FIXED_DEFAULTS = `
[cpus]
cpus = all
exclude-cpus =
allow-isolated = false
allow-nohz-full = false
online-hotplugged = false

[defaults]
strategy = spread
rps = auto
xps = auto
;rps-flow-cnt =   ; unset: leave each queue's rps_flow_cnt alone
cross-node = false

[net]
;rps-sock-flow-entries =   ; unset: leave net.core.rps_sock_flow_entries alone

[agent]
settle-ms = 20
resync-interval = 0
state-file = /var/lib/affinityd/state.json
`;

test('the built-in defaults, every key written out', () => {
  assert.equal(
    formatPolicy(builtinPolicy()),
    `; affinityd effective policy
; source: built-in defaults (no policy file found)
${FIXED_DEFAULTS}
[metrics]
textfile-directory = /var/lib/prometheus/node-exporter
listen = off
`,
  );
});

test('two files, labelled sections of each kind after the line they came from, values quoted or escaped for ini', () => {
  const main = parsePolicy(
    [
      '[cpus]',
      'exclude-cpus = 0',
      '[net:wan]',
      'match-name = eth1 eth2',
      'match-pci = 0000:01:00.*',
      'strategy = pin',
      'pin = 2-3',
      'rps-flow-cnt = 0',
      '[irq:t]',
      'match-irq = 5 timer*',
      '[serial:gps]',
      'match-by-id = usb-u-blox*',
      'match-usb-id = 1546:*',
      'strategy = ignore',
      '[metrics]',
      'textfile-directory = off',
      'listen = [::1]:9101',
    ].join('\n'),
    '/etc/affinityd/affinityd.ini',
  );
  const p = parsePolicy('[agent]\nstate-file = /x/a\\;b.json', '/etc/affinityd/affinityd.d/10.ini', main);
  assert.equal(
    formatPolicy(p),
    `; affinityd effective policy
; source: /etc/affinityd/affinityd.ini
; source: /etc/affinityd/affinityd.d/10.ini
${FIXED_DEFAULTS.replace('exclude-cpus =', 'exclude-cpus = 0').replace('state-file = /var/lib/affinityd/state.json', 'state-file = /x/a\\;b.json')}
[metrics]
textfile-directory = off
listen = "[::1]:9101"

; from /etc/affinityd/affinityd.ini:3
[net:wan]
match-name = eth1 eth2
match-pci = 0000:01:00.*
strategy = pin
pin = 2-3
rps = auto
xps = auto
rps-flow-cnt = 0
cross-node = false

; from /etc/affinityd/affinityd.ini:9
[irq:t]
match-irq = 5 timer*
strategy = spread

; from /etc/affinityd/affinityd.ini:11
[serial:gps]
match-by-id = usb-u-blox*
match-usb-id = 1546:*
strategy = ignore
`,
  );
});

test('one file that is not the shipped one is named as it is', () => {
  const text = formatPolicy(parsePolicy('', '/etc/affinityd/affinityd.ini'));
  assert.equal(text.split('\n').slice(0, 3).join('\n'), '; affinityd effective policy\n; source: /etc/affinityd/affinityd.ini\n');
});

test('the shipped file with a file layered on it: both named, no "no policy file was found"', () => {
  const text = formatPolicy(parsePolicy('[agent]\nsettle-ms = 5', '/etc/affinityd/affinityd.d/10.ini', defaultPolicy()));
  assert.equal(
    text.split('\n').slice(0, 4).join('\n'),
    `; affinityd effective policy\n; source: ${shippedPolicyPath()}\n; source: /etc/affinityd/affinityd.d/10.ini\n`,
  );
});

test('text that ini.safe() alone would not read back is written as JSON: a lone quote, \\; \\# \\\\', () => {
  // ini.unsafe() reads a lone ' as an empty quoted value and takes a backslash before ; # or \
  // as an escape, so these values only survive the round trip in JSON quotes.
  for (const text of ["'", '/srv/a\\;b', '/srv/a\\#b', '/srv/a\\\\b']) {
    const key = text.startsWith('/') ? 'state-file' : 'match-driver';
    const ini = key === 'state-file' ? `[agent]\nstate-file = ${JSON.stringify(text)}` : `[net:x]\nmatch-driver = ${JSON.stringify(text)}`;
    const p = parsePolicy(ini, '/etc/affinityd/affinityd.ini');
    const shown = formatPolicy(p);
    assert.ok(shown.split('\n').includes(`${key} = ${JSON.stringify(text)}`), shown);
    const back = parsePolicy(shown, 'check-config.ini');
    assert.deepEqual(key === 'state-file' ? back.agent.stateFile : back.sections[0]!.match.driver, key === 'state-file' ? text : [text]);
  }
});
