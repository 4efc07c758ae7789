// postinstall: fix a crash in netlink@0.3.0's native binding, then build it from source.
//
// Why: when a netlink socket overflows (ENOBUFS) while Node is idle, epoll reports an error
// and the binding builds its exception with a NULL syscall name; Napi::String::New(NULL)
// throws inside a libuv callback and the whole process aborts (SIGABRT) — an event flood
// would kill the agent. The upstream project has been quiet since 2023, so the one-line fix
// (name the syscall) is applied here. With it the socket reports an error, the agent's
// source errors, is re-opened with backoff and a full resync runs.
//
// Why not patch-package: it patches sources but does not rebuild a native addon, and it
// would have to be a runtime dependency of every install; the fix is one line, checked by
// text. What matters is that a failure is never silent: the script exits non-zero (failing
// `npm install`) when the source is not the one it knows or the rebuild fails, unless
// AFFINITYD_ALLOW_UNPATCHED_NETLINK=1 says to go on with the crashing prebuilt binary.
// A marker beside the built binary records which source it was built from, so a rebuild
// that failed once is retried on the next install rather than taken for done.
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');

function fail(why) {
  const allowed = process.env.AFFINITYD_ALLOW_UNPATCHED_NETLINK === '1';
  const lines = [
    `affinityd: ${allowed ? 'WARNING' : 'ERROR'}: the netlink binding is not patched: ${why}`,
    'affinityd: without the patch the agent aborts (SIGABRT) on a netlink overrun (ENOBUFS).',
    'affinityd: needs a C++ toolchain (make, g++) and Node headers (npm_config_nodedir, default /usr).',
    allowed ? 'affinityd: going on anyway (AFFINITYD_ALLOW_UNPATCHED_NETLINK=1).' : 'affinityd: set AFFINITYD_ALLOW_UNPATCHED_NETLINK=1 to install anyway.',
  ];
  console.error(lines.join('\n'));
  process.exit(allowed ? 0 : 1);
}

let dir;
try {
  dir = path.dirname(require.resolve('netlink/package.json'));
} catch {
  process.exit(0); // not installed (e.g. a production install without it): nothing to patch
}
const src = path.join(dir, 'src', 'binding.cc');
const bad = 'ErrnoException(obj->Env(), -status, NULL, "error when polling socket")';
const good = 'ErrnoException(obj->Env(), -status, "poll", "error when polling socket")';
let text;
try {
  text = fs.readFileSync(src, 'utf8');
} catch (e) {
  fail(`cannot read ${src} (${e.code ?? e.message})`);
}
if (text.includes(bad)) text = text.replace(bad, good);
if (!text.includes(good)) fail(`${src} is not the source this fix knows (netlink ${require(path.join(dir, 'package.json')).version}); check the fix still applies`);
fs.writeFileSync(src, text);

const digest = crypto.createHash('sha256').update(text).digest('hex');
const binary = path.join(dir, 'build', 'Release', 'netlink_binding.node');
const marker = path.join(dir, 'build', 'Release', '.affinityd-patched');
const builtFrom = fs.existsSync(binary) && fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8').trim() : null;
if (builtFrom === digest) process.exit(0);
try {
  const gyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [path.dirname(process.execPath) + '/../lib/node_modules/npm/node_modules', dir] });
  // nodedir: build against the local Node headers (npm is set to; there is no network).
  const nodedir = process.env.npm_config_nodedir || '/usr';
  execFileSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  fs.writeFileSync(marker, `${digest}\n`);
  console.log('affinityd: netlink binding patched (poll error no longer aborts) and rebuilt');
} catch (e) {
  fail(`the rebuild failed: ${String(e.stderr || e.message).trim().split('\n').slice(-3).join(' | ')}`);
}
