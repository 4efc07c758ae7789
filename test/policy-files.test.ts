// Policy files the loader cannot read, read in-process (the hostile suite checks the same
// through the CLI's exit code 78): each one a PolicyError naming the file and why, never the
// built-in defaults as if nothing were there; and problems of several files in file order.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadPolicy, MAX_POLICY_BYTES, parsePolicy, PolicyError } from '../src/policy/policy.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-policy-files-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;

/** A root with etc/affinityd set up by `make`, and the message loadPolicy throws for it. */
function failure(make: (etc: string) => void): string {
  const root = path.join(tmp, String(n++));
  const etc = path.join(root, 'etc/affinityd');
  fs.mkdirSync(path.dirname(etc), { recursive: true });
  make(etc);
  try {
    loadPolicy({ root });
  } catch (e) {
    assert.ok(e instanceof PolicyError, String(e));
    return e.message;
  }
  assert.fail('loaded');
}

const inEtc = (etc: string): void => fs.mkdirSync(etc);

test('unreadable policy files and drop-in directories: one message each, naming the file', () => {
  assert.match(failure((etc) => (inEtc(etc), fs.writeFileSync(path.join(etc, 'affinityd.d'), 'x'))), /affinityd\.d: cannot read the drop-in directory: a path component is not a directory$/);
  assert.match(failure((etc) => (inEtc(etc), fs.mkdirSync(path.join(etc, 'affinityd.ini')))), /affinityd\.ini: cannot read policy file: is a directory$/);
  assert.match(failure((etc) => (inEtc(etc), fs.symlinkSync('gone.ini', path.join(etc, 'affinityd.ini')))), /affinityd\.ini: cannot read policy file: dangling symbolic link$/);
  assert.match(
    failure((etc) => (inEtc(etc), fs.symlinkSync('b.ini', path.join(etc, 'affinityd.ini')), fs.symlinkSync('affinityd.ini', path.join(etc, 'b.ini')))),
    /affinityd\.ini: cannot read policy file: too many levels of symbolic links \(a link loop\)$/,
  );
  assert.match(failure((etc) => fs.writeFileSync(etc, 'not a directory')), /affinityd\.ini: cannot read policy file: a path component is not a directory$/);
  assert.match(failure((etc) => (inEtc(etc), execFileSync('mkfifo', [path.join(etc, 'affinityd.ini')]))), /affinityd\.ini: cannot read policy file: not a regular file$/);
  assert.match(failure((etc) => (inEtc(etc), fs.writeFileSync(path.join(etc, 'affinityd.ini'), ' '.repeat(MAX_POLICY_BYTES + 1)))), /^[^:]*affinityd\.ini: cannot read policy file: /);
});

test('a policy text larger than any policy is refused with its size', () => {
  assert.throws(() => parsePolicy(' '.repeat(MAX_POLICY_BYTES + 1), 'big.ini'), (e: Error) => e instanceof PolicyError && e.message === `big.ini: ${MAX_POLICY_BYTES + 1} characters, larger than any policy (max ${MAX_POLICY_BYTES}): refused`);
  assert.deepEqual(parsePolicy(' '.repeat(MAX_POLICY_BYTES), 'limit.ini').files, ['limit.ini'], 'the limit itself is read');
});

test('problems of several files come in file order, then line order', () => {
  const root = path.join(tmp, 'order');
  const etc = path.join(root, 'etc/affinityd');
  fs.mkdirSync(path.join(etc, 'affinityd.d'), { recursive: true });
  fs.writeFileSync(path.join(etc, 'affinityd.ini'), '[cpus]\n\n\nnope = 1\n[agent]\nsettle-ms = x\n');
  fs.writeFileSync(path.join(etc, 'affinityd.d', '10-a.ini'), '[bogus]\n');
  try {
    loadPolicy({ root });
    assert.fail('loaded');
  } catch (e) {
    assert.ok(e instanceof PolicyError);
    assert.deepEqual(
      e.errors.map((x) => [path.basename(x.file), x.line]),
      [['affinityd.ini', 4], ['affinityd.ini', 6], ['10-a.ini', 1]],
    );
  }
});

test('the shipped etc/affinityd.ini is found from the compiled and the source layout, never as a directory', async () => {
  // shipped.js finds the file relative to itself: a copy of it placed in a package tree
  // behaves as the installed module would there (.mjs: an ES module without package.json).
  const js = fs.readFileSync(fileURLToPath(new URL('../src/policy/shipped.js', import.meta.url)), 'utf8');
  const t = path.join(tmp, 'layouts');
  const pkg = path.join(t, 'pkg');
  fs.mkdirSync(path.join(pkg, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(pkg, 'etc/affinityd.ini'), '[cpus]\n');
  // What the source layout's first guess (three levels up) meets: a directory of that name.
  fs.mkdirSync(path.join(t, 'etc/affinityd.ini'), { recursive: true });
  const found = async (dir: string): Promise<string | null> => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'shipped.mjs'), js);
    const m = (await import(pathToFileURL(path.join(dir, 'shipped.mjs')).href)) as { shippedPolicyPath(): string | null };
    return m.shippedPolicyPath();
  };
  assert.equal(await found(path.join(pkg, 'dist/src/policy')), path.join(pkg, 'etc/affinityd.ini'));
  assert.equal(await found(path.join(pkg, 'src/policy')), path.join(pkg, 'etc/affinityd.ini'));
  assert.equal(await found(path.join(t, 'bare/src/policy')), null);
});
