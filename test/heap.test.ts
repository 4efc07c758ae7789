// agent/heap: the full GC after a pass runs where node exposes gc() (the executable's shebang
// asks for it) and is skipped, without an error, where it does not (in-process agents).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXECUTABLE } from '../src/cli/executable.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const heapModule = path.resolve(here, '../src/agent/heap.js');
const cli = EXECUTABLE;

describe('compactHeap', () => {
  it('runs a GC when node exposes gc() and gives the garbage back', () => {
    // 40 MB of garbage, then compactHeap(): the heap must shrink by most of it.
    const script = `
      const { compactHeap } = await import(${JSON.stringify(heapModule)});
      let keep = [];
      for (let i = 0; i < 400; i++) keep.push(new Array(12_500).fill(i)); // ~40 MB
      const before = process.memoryUsage().heapUsed;
      keep = null;
      const ran = compactHeap();
      const after = process.memoryUsage().heapUsed;
      console.log(JSON.stringify({ ran, before, after }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' })) as { ran: boolean; before: number; after: number };
    assert.equal(out.ran, true);
    assert.ok(out.before - out.after > 30e6, `heapUsed ${out.before} -> ${out.after}`);
  });

  it('is a no-op without --expose-gc', async () => {
    const { compactHeap } = await import(heapModule);
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'the test runner itself runs without --expose-gc');
    assert.equal(compactHeap(), false);
  });

  it('the executable asks node for gc()', () => {
    const shebang = fs.readFileSync(cli, 'utf8').split('\n', 1)[0]!;
    assert.match(shebang, /^#!\/usr\/bin\/env -S node .*--expose-gc/);
  });
});
