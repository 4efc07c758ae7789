// scripts/bundle-cli.mjs — the last build step: the `affinityd` executable becomes one esbuild
// bundle of what tsc compiled, written over dist/src/cli/main.js, with the agent, the audit
// reader and the metrics listener split into chunks next to it (each still loaded only when
// its command needs it). The tests, the bench, the unit and `npm install -g` all run this file.
//
// Why (issue 14, measured with bench/idle.ts on this VM): the agent loaded ~280 module files
// (rxjs alone 223); as one minified, tree-shaken file it holds less code and source in the V8
// heap — 60.2 -> 55.7 MB of RSS for a running agent — and starts faster. The other modules
// under dist/src stay as tsc wrote them: the tests import them directly.
//
// Not bundled: packages with native code (netlink, unix-dgram, @serialport/bindings-cpp: their
// .node files load from node_modules) and prom-client, which metrics.ts requires file by file.

import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(repo, 'dist/src/cli');
const entry = path.join(dir, 'main.js');
// The shebang (with the agent's V8 flags) must survive: esbuild keeps an entry's hashbang.
const shebang = fs.readFileSync(entry, 'utf8').split('\n', 1)[0];
if (!shebang.startsWith('#!')) throw new Error(`${entry}: no shebang on the first line`);

await esbuild.build({
  entryPoints: [entry],
  outdir: dir,
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  // Chunks next to main.js: version.ts and policy/shipped.ts find package.json and etc/ from
  // their own directory, at the depth of dist/src/<stage>/.
  chunkNames: '[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  // Chains tsc's maps: AFFINITYD_DEBUG=1 node --enable-source-maps shows .ts lines.
  sourcemap: true,
  external: ['netlink', 'unix-dgram', '@serialport/bindings-cpp', 'prom-client'],
  // The CommonJS packages in the bundle (pino, ini, which) call require() for Node's modules.
  banner: { js: `import { createRequire as __affinitydRequire } from 'node:module';\nconst require = __affinitydRequire(import.meta.url);` },
  logLevel: 'warning',
});
if (fs.readFileSync(entry, 'utf8').split('\n', 1)[0] !== shebang) throw new Error(`${entry}: the bundle lost the shebang`);
