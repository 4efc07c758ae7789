// policy tests — loader, layering, every error class with its exact message, matching, and
// the promise that the shipped etc/affinityd.ini *is* the built-in default policy.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ini from 'ini';
import {
  defaultPolicy,
  formatPolicy,
  loadPolicy,
  matchIrqSection,
  matchNicSection,
  parsePolicy,
  PolicyError,
  policyFiles,
  shippedPolicyPath,
  validatePolicy,
} from '../src/policy/policy.js';
import { builtinPolicy, KEYS } from '../src/policy/schema.js';
import { globMatch, splitList } from '../src/policy/match.js';
import type { Policy } from '../src/types.js';
import { runs } from './helpers/runs.js';

const F = '/etc/affinityd/affinityd.ini';

/** The PolicyError thrown by parsing `text`; fails the test when nothing is thrown. */
function errorOf(text: string, file = F, base?: Policy): PolicyError {
  try {
    parsePolicy(text, file, base);
  } catch (e) {
    assert.ok(e instanceof PolicyError, `expected PolicyError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `message must be one line: ${JSON.stringify(e.message)}`);
    return e;
  }
  assert.fail(`expected a PolicyError for:\n${text}`);
}

const messageOf = (text: string): string => errorOf(text).message;

const nic = (name: string, driver: string | null = null, pci: string | null = null, mac: string | null = null) => ({
  name,
  driver,
  pci,
  mac,
});

const tmpRoots: string[] = [];
function tmpRoot(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'affinityd-policy-'));
  tmpRoots.push(root);
  for (const [rel, text] of Object.entries(files)) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  }
  return root;
}
after(() => {
  for (const r of tmpRoots) fs.rmSync(r, { recursive: true, force: true });
});

/** Policies compared without provenance (files, and each section's file:line). */
function stripSources(p: Policy): unknown {
  return { ...p, files: [], sections: p.sections.map((s) => ({ ...s, file: '', line: 0 })) };
}

// ---------------------------------------------------------------------------------------

describe('shipped etc/affinityd.ini', () => {
  const shipped = shippedPolicyPath();

  test('is found relative to the compiled module', () => {
    assert.ok(shipped !== null);
    assert.equal(path.basename(shipped), 'affinityd.ini');
    assert.equal(path.basename(path.dirname(shipped)), 'etc');
  });

  test('parses to exactly the built-in defaults, and defaultPolicy() is that parse', () => {
    const text = fs.readFileSync(shipped!, 'utf8');
    assert.deepEqual(parsePolicy(text, shipped!), { ...builtinPolicy(), files: [shipped] });
    assert.deepEqual(defaultPolicy(), { ...builtinPolicy(), files: [shipped] });
    assert.deepEqual(validatePolicy(text, shipped!), []);
  });

  test('documents every key and section the schema knows', () => {
    const text = fs.readFileSync(shipped!, 'utf8');
    for (const k of KEYS) {
      assert.match(text, new RegExp(`^;?${k.key} =`, 'm'), `key '${k.key}' is not documented in ${shipped}`);
    }
    for (const s of ['[cpus]', '[defaults]', '[net]', '[agent]', '[net:<label>]', '[irq:<label>]']) {
      assert.ok(text.includes(s), `section ${s} is not documented`);
    }
  });

  test('every commented example in it is itself valid', () => {
    // Uncomment the example lines (";key = v" and ";[section]") and parse: the docs must
    // not teach syntax the loader rejects.
    const out: string[] = [];
    const active = new Map<string, number>(); // key → index in `out`, per section
    for (const l of fs.readFileSync(shipped!, 'utf8').split('\n')) {
      const header = /^;?(\[[a-z:.-]+\])\s*$/.exec(l);
      const key = /^;?([a-z-]+) =/.exec(l);
      if (header) {
        active.clear();
        out.push(header[1]!);
      } else if (key) {
        // An uncommented example replaces the active default of the same key.
        const prev = active.get(key[1]!);
        if (prev !== undefined) out[prev] = '';
        active.set(key[1]!, out.length);
        out.push(l.replace(/^;/, ''));
      } else out.push(l);
    }
    // The [defaults] pin example goes with strategy = pin, as its comment says.
    const p = parsePolicy(out.join('\n').replace('strategy = spread', 'strategy = pin'), 'examples.ini');
    assert.deepEqual(p.sections.map((s) => s.name), ['net:virtio', 'net:storage', 'net:wan', 'irq:serial']);
    assert.deepEqual(p.excludeCpus, [2, 3]);
  });

  test('ships in the npm package', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(shipped!), '..', 'package.json'), 'utf8'));
    assert.ok((pkg.files as string[]).includes('etc'));
  });
});

describe('values', () => {
  test('a full policy', () => {
    const p = parsePolicy(
      [
        '[cpus]',
        'cpus = 0-7',
        'exclude-cpus = 2,3',
        'allow-isolated = yes',
        'allow-nohz-full = 1',
        'online-hotplugged = yes',
        '[defaults]',
        'strategy = pin',
        'pin = 4-5',
        'rps = on',
        'xps = off',
        'rps-flow-cnt = 0',
        'cross-node = on',
        '[net]',
        'rps-sock-flow-entries = 32768',
        '[agent]',
        'settle-ms = 5',
        'resync-interval = 300',
        'state-file = /run/affinityd/state.json',
      ].join('\n'),
      F,
    );
    assert.deepEqual(p, {
      files: [F],
      cpus: [0, 1, 2, 3, 4, 5, 6, 7],
      excludeCpus: [2, 3],
      allowIsolated: true,
      allowNohzFull: true,
      onlineHotplugged: true,
      rpsSockFlowEntries: 32768,
      defaults: { strategy: 'pin', pin: [4, 5], rps: 'on', xps: 'off', rpsFlowCnt: 0, crossNode: true },
      sections: [],
      agent: { settleMs: 5, resyncIntervalS: 300, stateFile: '/run/affinityd/state.json' },
      metrics: { textfileDirectory: '/var/lib/prometheus/node-exporter', listen: null },
    });
  });

  test('booleans: true/false yes/no on/off 1/0 in any case', () => {
    for (const [v, want] of [
      ['true', true], ['TRUE', true], ['yes', true], ['On', true], ['1', true],
      ['false', false], ['no', false], ['off', false], ['0', false], ['False', false],
    ] as const) {
      assert.equal(parsePolicy(`[cpus]\nallow-isolated = ${v}`, F).allowIsolated, want, v);
    }
  });

  test('integers: decimal only, ranges enforced', () => {
    assert.equal(parsePolicy('[agent]\nsettle-ms = 0', F).agent.settleMs, 0);
    assert.equal(parsePolicy('[agent]\nsettle-ms = 10000', F).agent.settleMs, 10000);
    assert.equal(parsePolicy('[net]\nrps-sock-flow-entries = 536870912', F).rpsSockFlowEntries, 2 ** 29);
    assert.equal(messageOf('[agent]\nsettle-ms = 10001'), `${F}:2: [agent] settle-ms: 10001 is out of range (0–10000 ms)`);
    assert.equal(messageOf('[agent]\nsettle-ms = -1'), `${F}:2: [agent] settle-ms: expected a whole number ms, got '-1'`);
    assert.equal(messageOf('[agent]\nresync-interval = 1e3'), `${F}:2: [agent] resync-interval: expected a whole number s, got '1e3'`);
    assert.equal(messageOf('[defaults]\nrps-flow-cnt = lots'), `${F}:2: [defaults] rps-flow-cnt: expected a whole number, got 'lots'`);
    assert.equal(
      messageOf('[net]\nrps-sock-flow-entries = 536870913'),
      `${F}:2: [net] rps-sock-flow-entries: 536870913 is out of range (0–536870912)`,
    );
  });

  test('cpus = all means every online CPU (null); an empty value resets to the default', () => {
    assert.equal(parsePolicy('[cpus]\ncpus = ALL', F).cpus, null);
    assert.equal(parsePolicy('[cpus]\ncpus =', F).cpus, null);
    assert.deepEqual(parsePolicy('[cpus]\ncpus = 0-3:2/4', F).cpus, [0, 1]);
  });

  test('enums are case-insensitive and suggest the valid choices', () => {
    assert.equal(parsePolicy('[defaults]\nstrategy = Node', F).defaults.strategy, 'node');
    assert.equal(messageOf('[defaults]\nstrategy = spreed'), `${F}:2: [defaults] strategy: expected one of spread, node, pin, ignore, got 'spreed'`);
    assert.equal(messageOf('[defaults]\nrps = maybe'), `${F}:2: [defaults] rps: expected one of auto, on, off, got 'maybe'`);
  });

  test('comments with ; and #, inline comments, escapes, quotes', () => {
    const p = parsePolicy(
      [
        '; a comment',
        '# another',
        '   ; indented comment',
        '[agent] ; trailing comment on a header',
        'settle-ms = 30 ; inline',
        'resync-interval = 60 # inline too',
        'state-file = /var/lib/a\\;b\\#c.json',
        '[net:q]',
        'match-name = "eth0 ; not a comment"',
        "match-driver = 'ixgbe'",
      ].join('\n'),
      F,
    );
    assert.equal(p.agent.settleMs, 30);
    assert.equal(p.agent.resyncIntervalS, 60);
    assert.equal(p.agent.stateFile, '/var/lib/a;b#c.json');
    assert.deepEqual(p.sections[0]!.match, { name: ['eth0', ';', 'not', 'a', 'comment'], driver: ['ixgbe'] });
  });

  test('CRLF, lone CR and a BOM parse like LF, with the same line numbers', () => {
    const lines = ['[cpus]', 'exclude-cpus = 1', '', '[agent]', 'settle-ms = 7'];
    const lf = parsePolicy(lines.join('\n'), F);
    assert.deepEqual(parsePolicy(lines.join('\r\n'), F), lf);
    assert.deepEqual(parsePolicy('\uFEFF' + lines.join('\r\n') + '\r\n', F), lf);
    assert.deepEqual(parsePolicy(lines.join('\r'), F), lf);
    assert.equal(lf.agent.settleMs, 7);
    const bad = ['[cpus]', 'exclude-cpus = 1', '', '[agent]', 'settle-ms = x'].join('\r\n');
    assert.equal(messageOf(bad), `${F}:5: [agent] settle-ms: expected a whole number ms, got 'x'`);
  });
});

describe('errors: one line each, file:line, section, key, hint', () => {
  test('malformed lines', () => {
    assert.equal(
      messageOf('[cpus]\nthis is not ini'),
      `${F}:2: [cpus]: malformed line 'this is not ini': expected 'key = value', '[section]' or a comment`,
    );
    assert.equal(messageOf('[cpus\ncpus = all'), `${F}:1: malformed section header '[cpus': expected '[name]'`);
    assert.equal(messageOf('[agent]\n = 5'), `${F}:2: [agent]: malformed line '= 5': missing key before '='`);
  });

  test('bare key (ini would silently make it `true`)', () => {
    assert.equal(messageOf('[cpus]\nallow-isolated'), `${F}:2: [cpus] allow-isolated: missing '= value' (write 'allow-isolated = true')`);
    assert.equal(messageOf('[defaults]\nstrategy'), `${F}:2: [defaults] strategy: missing '= value' (write 'strategy = <value>')`);
  });

  test('unknown sections, with a suggestion when one is close', () => {
    assert.equal(messageOf('[default]\nstrategy = node'), `${F}:1: [default]: unknown section (did you mean '[defaults]'?)`);
    assert.equal(messageOf('[nic:wan]\nmatch-name = eth1'), `${F}:1: [nic:wan]: unknown section (did you mean '[net:wan]'?)`);
    assert.equal(
      messageOf('[global]\nfoo = 1'),
      `${F}:1: [global]: unknown section; known sections: [cpus], [defaults], [net], [agent], [metrics], [net:<label>], [irq:<label>], [serial:<label>]`,
    );
    // One error for the section, none for the keys under it.
    assert.equal(errorOf('[global]\nfoo = 1\nbar = 2').errors.length, 1);
  });

  test('unknown keys suggest the closest known key', () => {
    assert.equal(messageOf('[cpus]\nexclud-cpus = 1'), `${F}:2: [cpus] exclud-cpus: unknown key (did you mean 'exclude-cpus'?)`);
    assert.equal(messageOf('[cpus]\nexclude_cpus = 1'), `${F}:2: [cpus] exclude_cpus: unknown key (did you mean 'exclude-cpus'?)`);
    assert.equal(messageOf('[defaults]\nStrategy = pin\npin = 1'), `${F}:2: [defaults] Strategy: unknown key (did you mean 'strategy'?)`);
    assert.equal(messageOf('[defaults]\nrps-flow-count = 1'), `${F}:2: [defaults] rps-flow-count: unknown key (did you mean 'rps-flow-cnt'?)`);
    assert.equal(messageOf('[agent]\nsettle = 1'), `${F}:2: [agent] settle: unknown key (did you mean 'settle-ms'?)`);
    assert.equal(
      messageOf('[agent]\nzzz = 1'),
      `${F}:2: [agent] zzz: unknown key; valid here: settle-ms, resync-interval, state-file`,
    );
  });

  test('a known key in the wrong section says where it belongs', () => {
    assert.equal(messageOf('[agent]\nrps = on'), `${F}:2: [agent] rps: not valid in [agent] sections (it belongs in [defaults] or [net:<label>])`);
    assert.equal(
      messageOf('[irq:x]\nmatch-irq = 5\nrps = on'),
      `${F}:3: [irq:x] rps: not valid in [irq:<label>] sections (it belongs in [defaults] or [net:<label>])`,
    );
    assert.equal(messageOf('[defaults]\nmatch-name = eth0'), `${F}:2: [defaults] match-name: not valid in [defaults] sections (it belongs in [net:<label>])`);
    assert.equal(messageOf('strategy = pin\n[defaults]'), `${F}:1: strategy: key outside any [section] (it belongs in [defaults] or [net:<label>] or [irq:<label>])`);
  });

  test('out-of-range and malformed CPU lists (cpumask limits)', () => {
    assert.equal(
      messageOf('[cpus]\nexclude-cpus = 0-8192'),
      `${F}:2: [cpus] exclude-cpus: CPU 8192 out of range (max 8191) in cpulist "0-8192"`,
    );
    assert.deepEqual(parsePolicy('[cpus]\nexclude-cpus = 8191', F).excludeCpus, [8191]);
    assert.equal(messageOf('[cpus]\ncpus = 3-1'), `${F}:2: [cpus] cpus: descending range "3-1" in cpulist "3-1"`);
    assert.equal(messageOf('[cpus]\nexclude-cpus = all'), `${F}:2: [cpus] exclude-cpus: invalid cpulist element "all" in "all"`);
    assert.equal(
      messageOf('[defaults]\nstrategy = pin\npin = 9000'),
      `${F}:3: [defaults] pin: CPU 9000 out of range (max 8191) in cpulist "9000"`,
    );
  });

  test('pin needs strategy = pin, and strategy = pin needs pin', () => {
    assert.equal(
      messageOf('[defaults]\npin = 1'),
      `${F}:2: [defaults] pin: only used with strategy = pin, but strategy is 'spread' (remove pin or set strategy = pin)`,
    );
    assert.equal(messageOf('[defaults]\nstrategy = pin'), `${F}:2: [defaults] pin: required when strategy = pin (a cpulist, e.g. pin = 2-3)`);
    assert.equal(
      messageOf('[net:wan]\nmatch-name = eth1\nstrategy = pin'),
      `${F}:3: [net:wan] pin: required when strategy = pin (a cpulist, e.g. pin = 2-3)`,
    );
    assert.equal(
      messageOf('[irq:serial]\nmatch-irq = ttyS0\nstrategy = node\npin = 0'),
      `${F}:4: [irq:serial] pin: only used with strategy = pin, but strategy is 'node' (remove pin or set strategy = pin)`,
    );
    // Inherited: [defaults] strategy = pin reaches a section that names no strategy; the
    // section may bring its own pin or inherit the default one.
    // …and a section does not repeat the [defaults] error when it inherits the broken pair.
    assert.equal(errorOf('[defaults]\nstrategy = pin\n[net:a]\nmatch-name = a\n[irq:b]\nmatch-irq = 1').errors.length, 1);
    const p = parsePolicy('[defaults]\nstrategy = pin\npin = 0\n[net:a]\nmatch-name = a\npin = 5\n[net:b]\nmatch-name = b', F);
    assert.deepEqual(p.sections.map((s) => [s.strategy, s.pin]), [['pin', [5]], ['pin', [0]]]);
  });

  test('duplicate keys and duplicate sections', () => {
    assert.equal(messageOf('[agent]\nsettle-ms = 5\n\nsettle-ms = 6'), `${F}:4: [agent] settle-ms: duplicate key (first set at line 2)`);
    assert.equal(
      messageOf('[net:wan]\nmatch-name = eth1\n[cpus]\n[net:wan]\nrps = on'),
      `${F}:4: [net:wan]: duplicate section (first at line 1); merge the two`,
    );
  });

  test('sections must match something', () => {
    assert.equal(
      messageOf('[net:wan]\nstrategy = node'),
      `${F}:1: [net:wan]: no match-name, match-driver, match-pci, match-mac key: the section would match nothing`,
    );
    assert.equal(messageOf('[irq:x]\nstrategy = ignore'), `${F}:1: [irq:x]: no match-irq key: the section would match nothing`);
  });

  test('bad match values', () => {
    assert.equal(messageOf('[net:x]\nmatch-name = eth[0-'), `${F}:2: [net:x] match-name: unterminated '[' in glob "eth[0-"`);
    assert.equal(
      messageOf('[net:x]\nmatch-name = averyveryverylongname'),
      `${F}:2: [net:x] match-name: interface name 'averyveryverylongname': interface names are at most 15 characters`,
    );
    assert.equal(
      messageOf('[net:x]\nmatch-mac = 52:54:00:12:34'),
      `${F}:2: [net:x] match-mac: MAC address '52:54:00:12:34': expected six colon-separated hex octets`,
    );
    assert.equal(
      messageOf('[net:x]\nmatch-pci = 01:00.0'),
      `${F}:2: [net:x] match-pci: PCI address '01:00.0': expected domain:bus:device.function, e.g. 0000:01:00.0`,
    );
    assert.equal(messageOf('[irq:x]\nmatch-irq = 40-30'), `${F}:2: [irq:x] match-irq: descending IRQ range '40-30'`);
    assert.equal(messageOf('[agent]\nstate-file = state.json'), `${F}:2: [agent] state-file: expected an absolute path, got 'state.json'`);
  });

  test('all errors are collected in line order; the message is the first one', () => {
    const e = errorOf(['[cpus]', 'exclud-cpus = 1', '[agent]', 'settle-ms = x', 'settle-ms = 1', '[defaults]', 'pin = 3'].join('\n'));
    assert.deepEqual(
      e.errors.map((x) => [x.line, x.section, x.key]),
      [[2, 'cpus', 'exclud-cpus'], [4, 'agent', 'settle-ms'], [5, 'agent', 'settle-ms'], [7, 'defaults', 'pin']],
    );
    assert.equal(e.message, e.errors[0]!.message);
    assert.equal(e.file, F);
    assert.equal(e.line, 2);
    assert.equal(e.key, 'exclud-cpus');
    assert.equal(validatePolicy('[cpus]\nexclud-cpus = 1\nexclud-cpus = 2', F).length, 2);
    assert.deepEqual(validatePolicy('[cpus]\nexclude-cpus = 1', F), []);
  });

  test('a bad value does not cause follow-up errors about the same section', () => {
    // strategy failed to parse, so "pin only with strategy = pin" would only echo it.
    const e = errorOf('[defaults]\nstrategy = pinn\npin = 1');
    assert.equal(e.errors.length, 1);
    assert.equal(e.key, 'strategy');
  });
});

describe('dotted interface names ([net:x] + match-name)', () => {
  test('the ini package would nest a dotted header — why this loader scans sections itself', () => {
    const decoded = ini.decode('[net:eth0.100]\nrps = on');
    assert.equal(decoded['net:eth0.100'], undefined);
    assert.deepEqual({ ...decoded['net:eth0']?.['100'] }, { rps: 'on' });
  });

  test('match-name = eth0.100 matches exactly that VLAN interface', () => {
    const p = parsePolicy('[net:vlan]\nmatch-name = eth0.100\nrps = on', F);
    assert.equal(matchNicSection(p, nic('eth0.100'))?.name, 'net:vlan');
    assert.equal(matchNicSection(p, nic('eth0')), null);
    assert.equal(matchNicSection(p, nic('eth0x100')), null, 'a dot in a glob is literal');
    assert.equal(matchNicSection(p, nic('eth0.1000')), null);
  });

  test('a dotted section header stays one section (labels may contain dots)', () => {
    const p = parsePolicy('[net:eth0.100]\nmatch-name = eth0.100\nstrategy = node', F);
    assert.deepEqual(p.sections.map((s) => [s.name, s.strategy]), [['net:eth0.100', 'node']]);
    assert.equal(matchNicSection(p, nic('eth0.100'))?.name, 'net:eth0.100');
  });

  test('a header label with characters that cannot be a label is rejected clearly', () => {
    assert.equal(
      messageOf('[net:eth0 100]\nmatch-name = x'),
      `${F}:1: [net:eth0 100]: label 'eth0 100' may only contain letters, digits and . _ - @ + (put interface names in match-name, not in the header)`,
    );
    assert.equal(messageOf('[net:]\nmatch-name = x'), `${F}:1: [net:]: empty label: write [net:<label>], e.g. [net:wan]`);
  });
});

describe('matching', () => {
  test('globs', () => {
    assert.ok(globMatch('enp*s0', 'enp59s0'));
    assert.ok(!globMatch('enp*s0', 'enp59s0f1'));
    assert.ok(globMatch('eth?', 'eth1'));
    assert.ok(!globMatch('eth?', 'eth10'));
    assert.ok(globMatch('eth[0-2]', 'eth2'));
    assert.ok(!globMatch('eth[0-2]', 'eth3'));
    assert.ok(globMatch('eth[!0]', 'eth1'));
    assert.ok(!globMatch('eth[!0]', 'eth0'));
    assert.ok(globMatch('eth0*', 'eth0.100'));
    assert.ok(globMatch('a\\*', 'a*'));
    assert.ok(!globMatch('a\\*', 'ab'));
    assert.ok(globMatch('virtio1-req.*', 'virtio1-req.0'));
    assert.deepEqual(splitList('eth0, eth1  eth[0,2]'), ['eth0', 'eth1', 'eth[0,2]']);
  });

  const policy = parsePolicy(
    [
      '[net:all-virtio]',
      'match-driver = virtio_net',
      'rps = on',
      '[net:wan]',
      'match-name = eth1 eth1.*',
      'strategy = node',
      '[net:nic-by-pci]',
      'match-pci = 0000:3B:00.*',
      'match-driver = ixgbe, i40e',
      'strategy = ignore',
      '[net:by-mac]',
      'match-mac = 52:54:00:AB:*',
      'xps = off',
      '[irq:serial]',
      'match-irq = ttyS*',
      'strategy = pin',
      'pin = 0',
      '[irq:block]',
      'match-irq = nvme0q* 40-47 99',
      'strategy = node',
    ].join('\n'),
    F,
  );

  test('NIC sections: AND across keys, OR inside a list, last match wins', () => {
    assert.equal(matchNicSection(policy, nic('eth2', 'virtio_net'))?.name, 'net:all-virtio');
    // eth1 is virtio too, but [net:wan] comes later in the file.
    assert.equal(matchNicSection(policy, nic('eth1', 'virtio_net'))?.name, 'net:wan');
    assert.equal(matchNicSection(policy, nic('eth1.7', null))?.name, 'net:wan');
    // match-pci AND match-driver; PCI globs are case-insensitive.
    assert.equal(matchNicSection(policy, nic('ens1', 'i40e', '0000:3b:00.1'))?.name, 'net:nic-by-pci');
    assert.equal(matchNicSection(policy, nic('ens1', 'mlx5_core', '0000:3b:00.1')), null);
    assert.equal(matchNicSection(policy, nic('ens1', 'i40e', null)), null, 'a virtual NIC has no PCI address');
    assert.equal(matchNicSection(policy, nic('x', null, null, '52:54:00:ab:00:01'))?.name, 'net:by-mac');
    assert.equal(matchNicSection(policy, nic('x', null, null, '52:54:00:AB:00:01'))?.name, 'net:by-mac');
    assert.equal(matchNicSection(policy, nic('x', null, null, null)), null);
    assert.equal(matchNicSection(policy, nic('lo')), null);
  });

  test('IRQ sections: action-name globs, numbers, ranges, shared lines', () => {
    assert.equal(matchIrqSection(policy, 'ttyS0', 4)?.name, 'irq:serial');
    assert.equal(matchIrqSection(policy, 'nvme0q3', 130)?.name, 'irq:block');
    assert.equal(matchIrqSection(policy, 'whatever', 44)?.name, 'irq:block');
    assert.equal(matchIrqSection(policy, 'whatever', 99)?.name, 'irq:block');
    assert.equal(matchIrqSection(policy, 'whatever', 48), null);
    assert.equal(matchIrqSection(policy, 'i8042, ttyS1', 12)?.name, 'irq:serial');
    assert.equal(matchIrqSection(policy, '', 3), null);
    // NIC sections never answer for IRQs and vice versa.
    assert.equal(matchNicSection(policy, nic('ttyS0')), null);
  });

  test('sections inherit what they do not set from [defaults]', () => {
    const p = parsePolicy('[defaults]\nrps = off\ncross-node = true\n[net:a]\nmatch-name = a\nxps = on\n[irq:b]\nmatch-irq = 1', F);
    const a = p.sections[0]!;
    assert.deepEqual([a.strategy, a.rps, a.xps, a.crossNode, a.rpsFlowCnt], ['spread', 'off', 'on', true, null]);
    assert.equal(p.sections[1]!.kind, 'irq');
    assert.equal(p.sections[1]!.line, 7);
    assert.equal(p.sections[1]!.file, F);
  });
});

describe('loading files', () => {
  test('no file at all → defaultPolicy()', () => {
    const root = tmpRoot({ 'etc/other.txt': '' });
    assert.deepEqual(policyFiles({ root }), []);
    assert.deepEqual(loadPolicy({ root }), defaultPolicy());
    assert.match(formatPolicy(defaultPolicy()), /^; source: .*affinityd\.ini \(the shipped defaults: no policy file was found\)$/m);
  });

  test('main file then drop-ins in byte order; later wins key by key', () => {
    const root = tmpRoot({
      'etc/affinityd/affinityd.ini': [
        '[cpus]',
        'exclude-cpus = 0',
        '[defaults]',
        'strategy = pin',
        '[net:wan]',
        'match-name = eth1',
        'rps = on',
        '[net:lan]',
        'match-name = eth*',
      ].join('\n'),
      // 10-pin completes the main file's strategy = pin (only the merged result is checked).
      'etc/affinityd/affinityd.d/10-pin.ini': '[defaults]\npin = 2-3\n',
      'etc/affinityd/affinityd.d/20-wan.ini': '[net:wan]\nxps = off\n[cpus]\nexclude-cpus = 1\n',
      'etc/affinityd/affinityd.d/Z-upper.ini': '[agent]\nsettle-ms = 1\n',
      'etc/affinityd/affinityd.d/a-lower.ini': '[agent]\nsettle-ms = 2\n',
      'etc/affinityd/affinityd.d/notes.txt': 'not ini at all',
      'etc/affinityd/affinityd.d/.hidden.ini': 'garbage',
    });
    const d = path.join(root, 'etc/affinityd/affinityd.d');
    const files = [
      path.join(root, 'etc/affinityd/affinityd.ini'),
      path.join(d, '10-pin.ini'),
      path.join(d, '20-wan.ini'),
      path.join(d, 'Z-upper.ini'),
      path.join(d, 'a-lower.ini'),
    ];
    assert.deepEqual(policyFiles({ root }), files);
    const p = loadPolicy({ root });
    assert.deepEqual(p.files, files);
    assert.deepEqual(p.excludeCpus, [1]);
    assert.equal(p.agent.settleMs, 2);
    assert.deepEqual(p.defaults.pin, [2, 3]);
    // [net:wan] merged key by key, re-declared in a drop-in → now after [net:lan], so it wins for eth1.
    assert.deepEqual(p.sections.map((s) => s.name), ['net:lan', 'net:wan']);
    const wan = p.sections[1]!;
    assert.deepEqual([wan.rps, wan.xps, wan.strategy, wan.pin, wan.file, wan.line], ['on', 'off', 'pin', [2, 3], files[2], 1]);
    assert.equal(matchNicSection(p, nic('eth1'))?.name, 'net:wan');
    assert.equal(matchNicSection(p, nic('eth0'))?.name, 'net:lan');
  });

  test('a drop-in [defaults] reaches sections that did not set the key; empty value resets', () => {
    const root = tmpRoot({
      'etc/affinityd/affinityd.ini': '[net:a]\nmatch-name = a\n[net:b]\nmatch-name = b\nstrategy = spread\n[cpus]\ncpus = 0-3\n',
      'etc/affinityd/affinityd.d/50.ini': '[defaults]\nstrategy = node\n[cpus]\ncpus =\n',
    });
    const p = loadPolicy({ root });
    assert.deepEqual(p.sections.map((s) => s.strategy), ['node', 'spread']);
    assert.equal(p.cpus, null);
  });

  test('a drop-in that moves strategy away from pin drops the earlier pin', () => {
    const root = tmpRoot({
      'etc/affinityd/affinityd.ini': '[defaults]\nstrategy = pin\npin = 1\n',
      'etc/affinityd/affinityd.d/x.ini': '[defaults]\nstrategy = spread\n',
    });
    const p = loadPolicy({ root });
    assert.deepEqual([p.defaults.strategy, p.defaults.pin], ['spread', null]);
  });

  test('only drop-ins, no main file: layered on the built-in defaults', () => {
    const root = tmpRoot({ 'etc/affinityd/affinityd.d/1.ini': '[agent]\nresync-interval = 60\n' });
    const p = loadPolicy({ root });
    assert.deepEqual(p, { ...builtinPolicy(), files: [path.join(root, 'etc/affinityd/affinityd.d/1.ini')], agent: { ...builtinPolicy().agent, resyncIntervalS: 60 } });
  });

  test('errors from every file are collected, in file order, with each file name', () => {
    const root = tmpRoot({
      'etc/affinityd/affinityd.ini': '[cpus]\ncpu = 1\n',
      'etc/affinityd/affinityd.d/10.ini': '\n[agent]\nsettle-ms = soon\n',
    });
    assert.throws(
      () => loadPolicy({ root }),
      (e: unknown) => {
        assert.ok(e instanceof PolicyError);
        assert.equal(e.message, `${path.join(root, 'etc/affinityd/affinityd.ini')}:2: [cpus] cpu: unknown key (did you mean 'cpus'?)`);
        assert.deepEqual(
          e.errors.map((x) => `${path.basename(x.file)}:${x.line}`),
          ['affinityd.ini:2', '10.ini:3'],
        );
        return true;
      },
    );
  });

  test('--config reads only that file', () => {
    const root = tmpRoot({
      'etc/affinityd/affinityd.ini': '[agent]\nsettle-ms = 1\n',
      'etc/affinityd/affinityd.d/x.ini': '[agent]\nresync-interval = 9\n',
      'alt.ini': '[cpus]\nexclude-cpus = 5\n',
    });
    const alt = path.join(root, 'alt.ini');
    const p = loadPolicy({ root, configFile: alt });
    assert.deepEqual(p, { ...builtinPolicy(), files: [alt], excludeCpus: [5] });
    assert.deepEqual(policyFiles({ root, configFile: alt }), [alt]);
  });

  test('--config naming a missing file is a one-line error, not a stack trace', () => {
    const missing = path.join(tmpRoot({}), 'nope.ini');
    assert.throws(() => loadPolicy({ configFile: missing }), (e: unknown) => {
      assert.ok(e instanceof PolicyError);
      assert.equal(e.message, `${missing}: cannot read policy file: no such file`);
      assert.equal(e.line, null);
      return true;
    });
  });

  test('parsePolicy(text, file, base) layers like a drop-in, also on a hand-built policy', () => {
    const base = parsePolicy('[net:a]\nmatch-name = a\nrps = on', 'main.ini');
    const p = parsePolicy('[defaults]\nrps = off\n[net:b]\nmatch-name = b', 'drop.ini', base);
    assert.deepEqual(p.files, ['main.ini', 'drop.ini']);
    assert.deepEqual(p.sections.map((s) => [s.name, s.rps]), [['net:a', 'on'], ['net:b', 'off']]);
    // The base object is not changed by layering on it.
    assert.deepEqual(base.files, ['main.ini']);
    assert.equal(base.sections.length, 1);

    const hand: Policy = JSON.parse(JSON.stringify(p));
    const q = parsePolicy('[net:a]\nxps = off', 'more.ini', hand);
    assert.deepEqual(q.sections.map((s) => [s.name, s.rps, s.xps]), [['net:b', 'off', 'auto'], ['net:a', 'on', 'off']]);
  });
});

describe('formatPolicy', () => {
  test('output parses back to the same policy', () => {
    const src = [
      '[cpus]',
      'cpus = 0-15',
      'exclude-cpus = 0,8',
      'allow-nohz-full = true',
      '[defaults]',
      'strategy = pin',
      'pin = 1-2',
      'rps-flow-cnt = 4096',
      '[net]',
      'rps-sock-flow-entries = 65536',
      '[agent]',
      'state-file = /var/lib/x;y#z.json',
      '[net:vlan.100]',
      'match-name = eth0.100 [ab]*',
      'match-mac = 52:54:00:*',
      'strategy = node',
      '[irq:serial]',
      'match-irq = ttyS* 4',
      'strategy = pin',
      'pin = 0',
      '[irq:x]',
      'match-irq = 7',
    ].join('\n').replace(';', '\\;').replace('#', '\\#');
    const p = parsePolicy(src, F);
    assert.equal(p.agent.stateFile, '/var/lib/x;y#z.json');
    const text = formatPolicy(p);
    assert.deepEqual(stripSources(parsePolicy(text, 'formatted.ini')), stripSources(p));
    assert.match(text, /^; source: \/etc\/affinityd\/affinityd\.ini$/m);
    assert.match(text, /^; from \/etc\/affinityd\/affinityd\.ini:13\n\[net:vlan\.100\]$/m);
  });

  test('defaults format and reparse to the defaults', () => {
    const text = formatPolicy(builtinPolicy());
    assert.match(text, /built-in defaults/);
    assert.deepEqual(parsePolicy(text, 'x.ini'), { ...builtinPolicy(), files: ['x.ini'] });
  });
});

describe('robustness', () => {
  test('any text either parses or throws one one-line PolicyError (never a crash)', async () => {
    const fc = await import('fast-check');
    const pieces = [
      '[cpus]', '[defaults]', '[net]', '[agent]', '[net:a]', '[irq:b]', '[net:a.b]', '[x', '[]',
      'cpus = ', 'cpus = all', 'exclude-cpus = 1-3', 'pin = 2', 'strategy = pin', 'strategy = x',
      'match-name = eth0.100', 'match-irq = 4', 'rps', '= x', 'rps = on ; c', 'settle-ms = 99999',
      '"quoted" = 1', "state-file = '/x'", '# c', '; c', '', '  ', '\t',
    ];
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 20 })), { maxLength: 12 }),
        fc.constantFrom('\n', '\r\n'),
        (lines, eol) => {
          try {
            const p = parsePolicy(lines.join(eol), F);
            // A valid policy formats and reparses to itself.
            assert.deepEqual(stripSources(parsePolicy(formatPolicy(p), 'f.ini')), stripSources(p));
          } catch (e) {
            if (!(e instanceof PolicyError)) throw e;
            for (const x of e.errors) assert.ok(!/[\r\n]/.test(x.message), x.message);
            assert.ok(e.errors.length >= 1);
          }
        },
      ),
      { numRuns: runs(3000) },
    );
  });
});
