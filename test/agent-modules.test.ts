// Which of node's own modules a running agent loads. Every module a process loads stays in its
// RSS (its source and code cache are pages of the node binary, its code and objects live in the
// heap), and issue 14 counts the RSS of an idle agent. These are the modules the agent once
// loaded for one call each, or that pino loads for features the agent does not use; each is
// now loaded lazily, or replaced inside the bundle (scripts/bundle-cli.mjs). What each cost is
// in the README's memory paragraph (bench/memory-options.ts).
//
// The real executable (the bundle) runs `affinityd run` on a generated copy of this VM's tree
// (writes land in the fixture; no kernel state is touched), with stdout on /dev/null: with no
// journald, audit records fall back to stdout, whose stream needs node's stream module, so
// that one is not on the list.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildFixture, presets, removeFixture } from '../fixture/fixture.js';
import { EXECUTABLE } from '../src/cli/executable.js';

const CLI = EXECUTABLE;

/** Node modules a running agent must not load, and who loaded each before. */
const UNWANTED: Record<string, string> = {
  crypto: 'state.ts: six random bytes for the temp file name',
  net: "policy/schema.ts: isIP() for [metrics] listen, a key that is usually off",
  'fs/promises': 'the `which` package, for serial enumeration',
  worker_threads: "pino's isMainThread and its transports",
  assert: "sonic-boom's argument check (pino's destination)",
  diagnostics_channel: "pino's tracing channel",
  'internal/modules/esm/loader': 'the executable as an ES module bundle (scripts/bundle-cli.mjs)',
  module: "createRequire(), in our sources and pino's transport loader",
  'internal/fs/rimraf': 'fs.rmSync() of the metrics and state temp files',
};

describe('a running agent', () => {
  it(`loads none of node's ${Object.keys(UNWANTED).join(', ')}`, async () => {
    const root = buildFixture(presets.vm2());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-modules-'));
    try {
      const state = path.join(dir, 'state.json');
      const stateInRoot = path.join(root, state); // --root holds the state file too
      const report = path.join(dir, 'modules.txt');
      const config = path.join(dir, 'affinityd.ini');
      fs.writeFileSync(config, `[agent]\nstate-file = ${state}\n\n[metrics]\ntextfile-directory = ${dir}\n`);
      // Preloaded (as the idle bench's memory report is), as CommonJS: an ES module preload
      // would load node's ES module loader itself. On SIGUSR2, the module list so far.
      const preload = path.join(dir, 'report.cjs');
      fs.writeFileSync(preload, `process.on('SIGUSR2', () => require('node:fs').writeFileSync(${JSON.stringify(report)}, process.moduleLoadList.join('\\n')));\n`);
      const child = spawn(CLI, ['run', '--root', root, '--config', config], {
        env: { ...process.env, NODE_OPTIONS: `--require=${preload}`, NOTIFY_SOCKET: '' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
      const exited = new Promise((r) => child.on('exit', r));
      try {
        // The state file is written at the end of the first full pass.
        const end = Date.now() + 20_000;
        while (!fs.existsSync(stateInRoot)) {
          assert.equal(child.exitCode, null, `the agent ended: ${err}`);
          assert.ok(Date.now() < end, `no first pass in 20 s: ${err}`);
          await sleep(20);
        }
        await sleep(200);
        child.kill('SIGUSR2');
        while (!fs.existsSync(report)) {
          assert.ok(Date.now() < end + 5000, 'no module list');
          await sleep(20);
        }
        const loaded = new Set(fs.readFileSync(report, 'utf8').split('\n').map((l) => l.replace(/^NativeModule /, '')));
        assert.ok(loaded.has('fs') && loaded.has('path'), 'the list names modules as "NativeModule fs"');
        const found = Object.keys(UNWANTED).filter((m) => loaded.has(m));
        assert.deepEqual(found.map((m) => `${m} (before: ${UNWANTED[m]})`), []);
      } finally {
        child.kill('SIGTERM');
        await exited;
      }
    } finally {
      removeFixture(root);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
