// writeState where the host has no /dev/urandom (a bare chroot or container without /dev):
// the state file is still written (node:crypto stands in), never lost to ENOENT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const stateModule = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'state', 'state.js');

test('writeState without /dev (an empty tmpfs over it, in a mount namespace of its own): the state is written', (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root (unshare --mount)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-state-nodev-'));
  try {
    const file = path.join(dir, 'state.json');
    const script = `import { writeState, emptyState } from ${JSON.stringify(stateModule)}; writeState(${JSON.stringify(file)}, emptyState());`;
    const r = spawnSync('unshare', ['--mount', 'sh', '-c', 'mount -t tmpfs none /dev && [ ! -e /dev/urandom ] && exec "$0" --input-type=module -e "$1"', process.execPath, script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')).targets, {});
    assert.deepEqual(fs.readdirSync(dir), ['state.json'], 'no temporary file left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
