// scripts/build-stamp.mjs — what dist/ was built from.
//
//   node scripts/build-stamp.mjs write   (the last step of `npm run build`)
//   node scripts/build-stamp.mjs check   (exit 0 when dist/ is the build of these exact inputs)
//
// Why: `prepare` builds dist/ on `npm install`, and npm also runs it whenever npx runs this
// package's own bin: npm 11 links the checkout into its npx cache and prepares it first. So
// `npx affinityd plan` rebuilt dist/ on every first call in a home directory (4 s here),
// under the feet of anything running from dist/, and failed for a user who may read the
// checkout but not write it (`rm -rf dist`: EACCES) — the README's plan-as-any-user command.
// `prepare` now builds only when the inputs changed since the last build.
//
// The inputs: every file tsc compiles or the bundle step reads (tsconfig.json's include,
// scripts/bundle-*), package.json and the lockfile (they decide the bundled packages), and
// the node major version the bundle step ran under.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const STAMP = path.join(repo, 'dist', '.build-inputs');
const DIRS = ['src', 'lab', 'test', 'bench', 'fixture', 'scripts'];
const FILES = ['package.json', 'package-lock.json', 'tsconfig.json'];
// Written by benchmarks, never read by the build.
const SKIP = new Set([path.join('bench', 'results'), path.join('bench', 'out')]);

function files(dir) {
  const full = path.join(repo, dir);
  if (!fs.existsSync(full)) return [];
  return fs
    .readdirSync(full, { withFileTypes: true })
    .flatMap((e) => {
      const rel = path.join(dir, e.name);
      if (SKIP.has(rel)) return [];
      return e.isDirectory() ? files(rel) : e.isFile() ? [rel] : [];
    });
}

function inputsHash() {
  const h = crypto.createHash('sha256');
  h.update(`node ${process.versions.node.split('.')[0]}\n`);
  for (const rel of [...DIRS.flatMap(files), ...FILES.filter((f) => fs.existsSync(path.join(repo, f)))].sort()) {
    h.update(`${rel}\0`);
    h.update(fs.readFileSync(path.join(repo, rel)));
    h.update('\0');
  }
  return h.digest('hex');
}

const mode = process.argv[2];
if (mode === 'write') {
  fs.writeFileSync(STAMP, `${inputsHash()}\n`);
} else if (mode === 'check') {
  let stamp = null;
  try {
    stamp = fs.readFileSync(STAMP, 'utf8').trim();
  } catch {
    // never built here
  }
  const executable = path.join(repo, 'dist', 'src', 'cli', 'affinityd.cjs');
  if (stamp === inputsHash() && fs.existsSync(executable)) {
    console.error('affinityd: dist/ is already the build of these sources');
    process.exit(0);
  }
  process.exit(1);
} else {
  console.error('usage: node scripts/build-stamp.mjs write|check');
  process.exit(2);
}
