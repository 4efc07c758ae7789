// scripts/bundle-cli.mjs — the last build step: the `affinityd` executable becomes one esbuild
// bundle of what tsc compiled, dist/src/cli/affinityd.cjs (package.json's bin). The tests, the
// bench, the unit and `npm install -g` all run this file.
//
// Why (issue 14, measured with bench/idle.ts on this VM): the agent loaded ~280 module files
// (rxjs alone 223); as one minified, tree-shaken file it holds less code and source in the V8
// heap — 60.2 -> 55.7 MB of RSS for a running agent — and starts faster. The modules under
// dist/src stay as tsc wrote them (ES modules): the tests import them directly.
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
// The executable: package.json's bin, which the unit, the benches and the tests run.
const executable = path.join(dir, 'affinityd.cjs');
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

// createRequire() is the bundle's own require(): our sources call it with import.meta.url,
// which below is the bundle's URL, and pino's transport loader (which the agent never runs:
// no transports, see above) would call it with a transport's path. node:module itself would
// load node's ES module loader into a running agent (+0.3 MB of RSS measured), which a
// CommonJS executable otherwise never needs.
const ownRequire = {
  name: 'own-require',
  setup(build) {
    build.onResolve({ filter: /^(node:)?module$/ }, (args) => {
      if (!/[\\/]dist[\\/]src[\\/]/.test(args.importer) && !shimmedImporters.test(args.importer)) return undefined;
      return { path: path.join(repo, 'scripts/bundle-shims/own-require.cjs') };
    });
  },
};

const built = await esbuild.build({
  entryPoints: [entry],
  outfile: executable,
  bundle: true,
  // CommonJS, one file: an ES module executable makes node load its ES module loader (the
  // loader, resolver, translators, module map: +1.1 MB of RSS in a running agent, measured
  // side by side with the ESM bundle this replaces). Code splitting needs ES modules, so the
  // commands' code is all in this file; what a command does not run is parsed lazily by V8
  // and its modules are initialised only when their dynamic import() runs.
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  // The file's own URL, as each source module's import.meta.url was: version.ts and
  // policy/shipped.ts find package.json and etc/ from it, at the depth of dist/src/<stage>/.
  define: { 'import.meta.url': '__affinitydUrl' },
  banner: { js: `const __affinitydUrl = require('node:url').pathToFileURL(__filename).href;` },
  // Chains tsc's maps: AFFINITYD_DEBUG=1 node --enable-source-maps shows .ts lines.
  sourcemap: true,
  external: ['netlink', 'unix-dgram', '@serialport/bindings-cpp', 'prom-client'],
  absWorkingDir: repo,
  plugins: [pinoShims, ownRequire],
  metafile: true,
  logLevel: 'warning',
});
// The stand-ins must have replaced every such import of pino's (a pino update that moves one
// would otherwise load the node module again, silently), and nothing may load node's ES module
// machinery: no node:module, no import() left for node to run.
{
  const text = fs.readFileSync(executable, 'utf8');
  const left = /\(["'](?:node:)?(worker_threads|assert|diagnostics_channel|thread-stream|module)["']\)/.exec(text);
  if (left) throw new Error(`${executable}: the bundle still loads ${left[1]}, which scripts/bundle-shims/ replaces`);
  if (/\bimport\(/.test(text)) throw new Error(`${executable}: the bundle still has an import() (node would load its ES module loader to run it)`);
}
if (fs.readFileSync(executable, 'utf8').split('\n', 1)[0] !== shebang) throw new Error(`${executable}: the bundle lost the shebang`);
fs.chmodSync(executable, 0o755);
