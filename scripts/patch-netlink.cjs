// postinstall: fix a crash in netlink@0.3.0's native binding, then build it from source.
//
// Why: when a netlink socket overflows (ENOBUFS) while Node is idle, epoll reports an error
// and the binding builds its exception with a NULL syscall name; Napi::String::New(NULL)
// throws inside a libuv callback and the whole process aborts (SIGABRT) — an event flood
// would kill the agent. The upstream project has been quiet since 2023, so the one-line fix
// (name the syscall) is applied here. With it the socket reports an error, the agent's
// source errors, is re-opened with backoff and a full resync runs.
// Idempotent; if the toolchain is missing, the prebuilt binary stays and we say so.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

let dir;
try {
  dir = path.dirname(require.resolve('netlink/package.json'));
} catch {
  process.exit(0);
}
const src = path.join(dir, 'src', 'binding.cc');
const bad = 'ErrnoException(obj->Env(), -status, NULL, "error when polling socket")';
const good = 'ErrnoException(obj->Env(), -status, "poll", "error when polling socket")';
let text;
try {
  text = fs.readFileSync(src, 'utf8');
} catch {
  process.exit(0);
}
const built = fs.existsSync(path.join(dir, 'build', 'Release', 'netlink_binding.node'));
if (text.includes(good) && built) process.exit(0);
if (text.includes(bad)) fs.writeFileSync(src, text.replace(bad, good));
try {
  const gyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [path.dirname(process.execPath) + '/../lib/node_modules/npm/node_modules', dir] });
  // nodedir: build against the local Node headers (npm is set to; there is no network).
  const nodedir = process.env.npm_config_nodedir || '/usr';
  execFileSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  console.log('affinityd: netlink binding patched (poll error no longer aborts) and rebuilt');
} catch (e) {
  console.warn(`affinityd: warning: could not rebuild the patched netlink binding (${e.message.split('\n')[0]}); using the prebuilt one, which aborts on a netlink overrun`);
}
