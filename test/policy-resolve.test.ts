// policy-resolve tests — how the loader reports problems across sections and layers: one
// error per mistake (never a follow-up that only echoes it), each under the section it is in,
// and in the order of the layers they came from (src/policy/policy.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadPolicy, MAX_POLICY_BYTES, parsePolicy, PolicyError, validatePolicy } from '../src/policy/policy.js';
import { builtinPolicy } from '../src/policy/schema.js';
import type { Policy } from '../src/types.js';

const F = '/etc/affinityd/affinityd.ini';

/** Every problem of `text` (layered on `base`) as "line [section] key: detail". */
function problems(text: string, base?: Policy): string[] {
  return validatePolicy(text, F, base).map((e) => `${e.line ?? '-'} [${e.section ?? ''}] ${e.key ?? ''}: ${e.detail}`);
}

test('lines outside any section, and keys under a repeated section', () => {
  assert.deepEqual(problems('x y\nfoo = 1\n[net:w]\nmatch-name = a\n[cpus]\n[net:w]\nrps = maybe'), [
    "1 [] : malformed line 'x y': expected 'key = value', '[section]' or a comment",
    '2 [] foo: key outside any [section]',
    '6 [net:w] : duplicate section (first at line 3); merge the two',
    "7 [net:w] rps: expected one of auto, on, off, got 'maybe'",
  ]);
});

test('a broken value is the only error of its section, also when a later file layers on it', () => {
  // A bare key breaks the section like a bad value: no "pin only with strategy = pin" after it.
  assert.deepEqual(problems('[defaults]\nstrategy\npin = 1'), ["2 [defaults] strategy: missing '= value' (write 'strategy = <value>')"]);
  // A section whose only match key is broken does not also "match nothing".
  assert.deepEqual(problems('[net:x]\nmatch-name = a/b\nstrategy = pin'), ["2 [net:x] match-name: interface name 'a/b': interface names cannot contain '/' or ':'"]);
  assert.deepEqual(problems('[serial:x]\nmatch-path = tty\nstrategy = pin'), [
    "2 [serial:x] match-path: device path 'tty': expected a device path starting with '/', e.g. /dev/ttyUSB0 (globs allowed)",
  ]);
  // The main file's broken [defaults] stays broken under a drop-in that adds a key to it.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-policy-resolve-'));
  try {
    fs.mkdirSync(path.join(root, 'etc/affinityd/affinityd.d'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/affinityd/affinityd.ini'), '[defaults]\nstrategy = pinn\npin = 1\n');
    fs.writeFileSync(path.join(root, 'etc/affinityd/affinityd.d/1.ini'), '[defaults]\nrps = on\n');
    assert.throws(
      () => loadPolicy({ root }),
      (e: unknown) => e instanceof PolicyError && e.errors.length === 1 && e.key === 'strategy',
    );
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a drop-in that keeps strategy = pin keeps the earlier pin; one that names its own pin uses it', () => {
  const main = parsePolicy('[defaults]\nstrategy = pin\npin = 1', F);
  assert.deepEqual(parsePolicy('[defaults]\nstrategy = pin', 'drop.ini', main).defaults.pin, [1]);
  assert.deepEqual(parsePolicy('[defaults]\nstrategy = pin\npin = 2', 'drop.ini', main).defaults.pin, [2]);
  assert.deepEqual(parsePolicy('[defaults]\nstrategy = node', 'drop.ini', main).defaults, { ...builtinPolicy().defaults, strategy: 'node' });
});

test('sections that inherit strategy = pin without a pin repeat no error; those that say it themselves get their own', () => {
  const text = ['[defaults]', 'strategy = pin', '[net:a]', 'match-name = a', '[net:b]', 'match-name = b', 'strategy = pin', '[net:c]', 'match-name = c', 'pin = 3'];
  assert.deepEqual(problems(text.join('\n')), [
    '2 [defaults] pin: required when strategy = pin (a cpulist, e.g. pin = 2-3)',
    '7 [net:b] pin: required when strategy = pin (a cpulist, e.g. pin = 2-3)',
  ]);
  const serial = ['[serial:a]', 'match-path = /dev/ttyS1', '[serial:b]', 'match-path = /dev/ttyS2', 'strategy = pin'];
  assert.deepEqual(problems(serial.join('\n')), [
    "1 [serial:a] pin: required: the CPUs for the port's IRQ (a cpulist, e.g. pin = 1), or strategy = ignore",
    '5 [serial:b] pin: required when strategy = pin (a cpulist, e.g. pin = 2-3)',
  ]);
});

test('problems come in layer order: a hand-built base first, then the file, each by line', () => {
  // A base that is not a loaded policy is taken as if every field had been written out, in a
  // file it does not name; its problems come before those of the file layered on it.
  const base: Policy = { ...builtinPolicy(), files: [], defaults: { ...builtinPolicy().defaults, strategy: 'pin', pin: null } };
  assert.deepEqual(
    validatePolicy('[cpus]\nbogus = 1\n[net:x]\nrps = on', 'drop.ini', base).map((e) => `${e.file}:${e.line}`),
    ['<policy>:null', 'drop.ini:2', 'drop.ini:3'],
  );
  // The same when the base names its file: the base's problem is found after the file's (it
  // comes from resolving), and is still listed first.
  assert.deepEqual(
    validatePolicy('[cpus]\nbogus = 1\n[net:x]\nrps = on', 'drop.ini', { ...base, files: [F] }).map((e) => `${e.file}:${e.line}`),
    [`${F}:null`, 'drop.ini:2', 'drop.ini:3'],
  );
});

test('a loaded policy used as a base keeps what its sections inherited; a hand-built one set every key', () => {
  const main = parsePolicy('[net:a]\nmatch-name = a', F);
  const drop = '[defaults]\nrps = off';
  assert.equal(parsePolicy(drop, 'drop.ini', main).sections[0]!.rps, 'off');
  // A copy is not the loader's own result: taken as written out, [net:a] says rps = auto itself.
  assert.equal(parsePolicy(drop, 'drop.ini', JSON.parse(JSON.stringify(main)) as Policy).sections[0]!.rps, 'auto');
});

test('a hand-built base: a null that is a value of its own stays, a pin without strategy = pin is dropped', () => {
  const b = builtinPolicy();
  // textfile-directory = off is null, and null is not its default: it is a setting to keep.
  const off: Policy = { ...b, files: [], metrics: { ...b.metrics, textfileDirectory: null } };
  assert.equal(parsePolicy('', 'drop.ini', off).metrics.textfileDirectory, null);
  // The loader never keeps a pin under another strategy; a hand-built one is not written out.
  const net = { name: 'net:n', kind: 'net', match: { name: ['n'] }, strategy: 'node', pin: [2], rps: 'auto', xps: 'auto', rpsFlowCnt: null, crossNode: false, file: F, line: 1 } as const;
  const pins: Policy = { ...b, files: [F], defaults: { ...b.defaults, strategy: 'spread', pin: [1] }, sections: [{ ...net, match: { name: ['n'] }, pin: [2] }] };
  assert.deepEqual(validatePolicy('', 'drop.ini', pins), []);
  const p = parsePolicy('', 'drop.ini', pins);
  assert.deepEqual([p.defaults.pin, p.sections[0]!.pin], [null, null]);
});

test('a policy text over the size limit is placed after a hand-built base\'s problems', () => {
  const base: Policy = { ...builtinPolicy(), files: [], defaults: { ...builtinPolicy().defaults, strategy: 'pin', pin: null } };
  assert.deepEqual(
    validatePolicy(' '.repeat(MAX_POLICY_BYTES + 1), 'big.ini', base).map((e) => `${e.file}:${e.line}`),
    ['<policy>:null', 'big.ini:null'],
  );
});

test('a key outside any section says where it belongs, serial-only keys included', () => {
  assert.deepEqual(problems('match-path = /dev/ttyS0\n[cpus]'), ['1 [] match-path: key outside any [section] (it belongs in [serial:<label>])']);
  assert.deepEqual(problems('bogus = 1\n[cpus]'), ['1 [] bogus: key outside any [section]']);
});

test('listen remembers the file and line that set it, through layers and a hand-built base', () => {
  const main = parsePolicy('[cpus]\n[metrics]\nlisten = 127.0.0.1:9101', F);
  assert.deepEqual(main.metrics.listen, { host: '127.0.0.1', port: 9101, file: F, line: 3 });
  const layered = parsePolicy('[metrics]\ntextfile-directory = off', 'drop.ini', main);
  assert.deepEqual(layered.metrics, { textfileDirectory: null, listen: { host: '127.0.0.1', port: 9101, file: F, line: 3 } });
  const hand: Policy = JSON.parse(JSON.stringify(main));
  assert.deepEqual(parsePolicy('[agent]\nsettle-ms = 1', 'drop.ini', hand).metrics.listen, { host: '127.0.0.1', port: 9101, file: F, line: 3 });
  assert.equal(parsePolicy('[metrics]\nlisten = off', 'drop.ini', hand).metrics.listen, null);
});

test('messages of a bad boolean, an empty match list, and a fixed section name with a suffix', () => {
  assert.deepEqual(problems('[cpus]\nallow-isolated = maybe'), ["2 [cpus] allow-isolated: expected a boolean (true/false, yes/no, on/off, 1/0), got 'maybe'"]);
  assert.deepEqual(problems('[net:x]\nmatch-name = ,'), ["2 [net:x] match-name: expected at least one interface name, got ','"]);
  assert.deepEqual(problems('[nets]\nrps = on'), ["1 [nets] : unknown section (did you mean '[net]'?)"]);
});

test('an empty value unsets the key: it does not count as setting strategy', () => {
  // [net:a] resets strategy, so it inherits strategy = pin without a pin: the [defaults] error only.
  assert.deepEqual(problems('[defaults]\nstrategy = pin\n[net:a]\nmatch-name = a\nstrategy ='), ['2 [defaults] pin: required when strategy = pin (a cpulist, e.g. pin = 2-3)']);
});

test('a hand-built base: its files, its [irq:*] sections, its labelled sections checked like any other', () => {
  const loaded = parsePolicy('[irq:t]\nmatch-irq = 5\nstrategy = node\n[net:n]\nmatch-name = n', F);
  const hand: Policy = JSON.parse(JSON.stringify(loaded));
  const p = parsePolicy('[agent]\nsettle-ms = 1', 'drop.ini', hand);
  assert.deepEqual(p.files, [F, 'drop.ini']);
  assert.deepEqual(p.sections.map((s) => [s.name, s.kind, s.strategy]), [['irq:t', 'irq', 'node'], ['net:n', 'net', 'spread']]);
  // A hand-built section that cannot stand is reported against the file the base names last.
  const bad: Policy = { ...hand, files: ['a.ini', 'b.ini'], sections: [{ ...hand.sections[1]!, strategy: 'pin', pin: null, file: 'b.ini', line: 7 }] };
  assert.deepEqual(validatePolicy('', 'drop.ini', bad).map((e) => `${e.file}:${e.line} [${e.section}] ${e.key}`), ['b.ini:7 [net:n] pin']);
  const badDefaults: Policy = { ...hand, files: ['a.ini', 'b.ini', 'c.ini'], defaults: { ...hand.defaults, strategy: 'pin', pin: null } };
  assert.deepEqual(validatePolicy('', 'drop.ini', badDefaults).map((e) => `${e.file}:${e.line} [${e.section}] ${e.key}`), ['c.ini:null [defaults] pin']);
});
