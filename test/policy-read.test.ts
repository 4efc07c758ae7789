// policy-read tests — a policy file or drop-in directory that is there but cannot be read:
// one message naming the path and why (exit 78 in the CLI), for --config and for the files
// under <root>/etc/affinityd. policy-files.test.ts covers links, directories and FIFOs in
// /etc/affinityd; this covers --config and permissions.
//
// Permissions: root reads anything, so as root the test drops its effective uid to nobody
// around each read (seteuid is reversible while the saved uid is 0) — synchronous calls only,
// so nothing else in this process runs meanwhile. As any other user mode 000 alone refuses.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { loadPolicy, MAX_POLICY_BYTES, PolicyError, type LoadOptions } from '../src/policy/policy.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-policy-read-'));
fs.chmodSync(tmp, 0o755);
const locked: string[] = [];
after(() => {
  for (const d of locked) fs.chmodSync(d, 0o755);
  fs.rmSync(tmp, { recursive: true, force: true });
});
/** chmod 000: refused to anyone but root (and root reads as nobody here). */
function lock(p: string): void {
  fs.chmodSync(p, 0);
  if (fs.statSync(p).isDirectory()) locked.push(p);
}

/** The message loadPolicy(opts) throws, read as an unprivileged user when `unprivileged`. */
function failure(opts: LoadOptions, unprivileged = false): string {
  const asNobody = unprivileged && process.geteuid!() === 0;
  if (asNobody) process.seteuid!(65534);
  try {
    loadPolicy(opts);
  } catch (e) {
    assert.ok(e instanceof PolicyError, String(e));
    return e.message;
  } finally {
    if (asNobody) process.seteuid!(0);
  }
  assert.fail('loaded');
}

test('--config naming something that is not a readable regular file', () => {
  const dir = path.join(tmp, 'a-dir.ini');
  fs.mkdirSync(dir);
  assert.equal(failure({ configFile: dir }), `${dir}: cannot read policy file: a directory, not a regular file: refused`);
  const fifo = path.join(tmp, 'fifo.ini');
  execFileSync('mkfifo', [fifo]);
  assert.equal(failure({ configFile: fifo }), `${fifo}: cannot read policy file: a FIFO, not a regular file: refused`);
  const big = path.join(tmp, 'big.ini');
  fs.writeFileSync(big, ' '.repeat(MAX_POLICY_BYTES + 1));
  assert.equal(failure({ configFile: big }), `${big}: cannot read policy file: ${MAX_POLICY_BYTES + 1} bytes, larger than the ${MAX_POLICY_BYTES}-byte limit: refused`);
  const long = path.join(tmp, `${'x'.repeat(300)}.ini`);
  assert.equal(failure({ configFile: long }), `${long}: cannot read policy file: ENAMETOOLONG`);
});

test('permission denied: the file, a directory on the way, the drop-in directory', () => {
  const secret = path.join(tmp, 'secret.ini');
  fs.writeFileSync(secret, '[agent]\nsettle-ms = 1\n');
  lock(secret);
  assert.equal(failure({ configFile: secret }, true), `${secret}: cannot read policy file: permission denied`);

  const closed = path.join(tmp, 'closed');
  fs.mkdirSync(path.join(closed, 'etc/affinityd'), { recursive: true });
  fs.writeFileSync(path.join(closed, 'etc/affinityd/affinityd.ini'), '');
  lock(path.join(closed, 'etc/affinityd'));
  assert.equal(failure({ root: closed }, true), `${path.join(closed, 'etc/affinityd/affinityd.ini')}: cannot read policy file: permission denied`);

  const drop = path.join(tmp, 'drop');
  fs.mkdirSync(path.join(drop, 'etc/affinityd/affinityd.d'), { recursive: true });
  lock(path.join(drop, 'etc/affinityd/affinityd.d'));
  assert.equal(failure({ root: drop }, true), `${path.join(drop, 'etc/affinityd/affinityd.d')}: cannot read the drop-in directory: permission denied`);
});
