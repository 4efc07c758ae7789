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

// pino loads, at require time, machinery the agent never uses: node:worker_threads (for
// isMainThread, and thread-stream for pino.transport()), node:assert (sonic-boom's argument
// check; its error class touches process.stderr, which builds node's stream stack) and
// node:diagnostics_channel (a tracing channel no one subscribes to). Each such node module
// stays in a running agent's RSS (issue 14: bench/memory-options.ts). Inside the bundle, and
// only for imports from those packages, they resolve to the stand-ins in scripts/bundle-shims/,
// each saying what it replaces and why that is enough; everything else gets node's modules.
const shims = {
  worker_threads: 'main-thread.cjs',
  'thread-stream': 'no-transports.cjs',
  assert: 'assert.cjs',
  diagnostics_channel: 'diagnostics-channel.cjs',
};
const shimmedImporters = /[\\/]node_modules[\\/](pino|sonic-boom)[\\/]/;
const pinoShims = {
  name: 'pino-shims',
  setup(build) {
    build.onResolve({ filter: /^(node:)?(worker_threads|thread-stream|assert|diagnostics_channel)$/ }, (args) => {
      if (!shimmedImporters.test(args.importer)) return undefined;
      return { path: path.join(repo, 'scripts/bundle-shims', shims[args.path.replace(/^node:/, '')]) };
    });
  },
};

const built = await esbuild.build({
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
  absWorkingDir: repo,
  plugins: [pinoShims],
  metafile: true,
  logLevel: 'warning',
});
// The stand-ins must have replaced every such import of pino's (a pino update that moves one
// would otherwise load the node module again, silently).
for (const out of Object.keys(built.metafile.outputs).filter((f) => f.endsWith('.js'))) {
  const text = fs.readFileSync(path.resolve(repo, out), 'utf8');
  const left = /\(["'](?:node:)?(worker_threads|assert|diagnostics_channel|thread-stream)["']\)/.exec(text);
  if (left) throw new Error(`${out}: the bundle still loads ${left[1]}, which scripts/bundle-shims/ replaces`);
}
if (fs.readFileSync(entry, 'utf8').split('\n', 1)[0] !== shebang) throw new Error(`${entry}: the bundle lost the shebang`);
