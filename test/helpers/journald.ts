// Test harness: a standalone systemd-journald for the audit tests, started and stopped by PID.
//
// Where: by default a journal *namespace* instance (`systemd-journald affdtest<pid>`). It uses
// /run/systemd/journal.<ns>/socket and writes /var/log/journal/<machine-id>.<ns> (or
// /run/log/journal/… when /var/log/journal is absent); `journalctl --namespace=<ns>` reads it.
// So the tests never touch the host's own journal, may stop and start "their" journald freely,
// and cleanup removes exactly what they created. `namespace: null` uses the default socket
// /run/systemd/journal/socket as production does; a journald already serving it is reused and
// never stopped.
//
// How: like systemd-journald.socket under PID 1, the harness owns the native socket and hands
// it to journald by socket activation (LISTEN_FDS=1, LISTEN_PID, fd 3). Datagrams queued in the
// socket therefore survive a journald restart, which is what makes "no record lost across a
// restart" true on a real host: a journald that bound its own socket would take the queued
// datagrams with it when it exits. The socket is bound here (unix-dgram) and at once passed to
// a small /bin/sh "holder" that keeps it open without reading it, starts journald with the
// socket on fd 3 ("start"), and SIGTERMs it ("stop"), on command over a pipe; our own copy is
// closed in the same tick so this process never reads a datagram. Readiness is journald's
// sd_notify READY=1 on a notify socket we listen on. If the test process dies, the holder sees
// EOF on its stdin and stops journald.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { unlinkSync, existsSync, readFileSync, rmSync, statSync, mkdirSync, mkdtempSync, chmodSync, accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

export const JOURNALD_BIN = '/lib/systemd/systemd-journald';
const DEFAULT_SOCKET = '/run/systemd/journal/socket';

interface DgramSocket {
  fd: number;
  bind(path: string): void;
  send(b: Buffer, o: number, l: number, p: string, cb: (e?: Error) => void): void;
  close(): void;
  on(e: 'error', f: (err: Error) => void): void;
}
const require = createRequire(import.meta.url);
const unix = require('unix-dgram') as { createSocket(t: 'unix_dgram', onMessage?: (b: Buffer) => void): DgramSocket };

/** Why a real journald cannot be used here, or null when it can. */
export function journaldUnavailableReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to run systemd-journald';
  for (const bin of [JOURNALD_BIN, '/bin/sh']) {
    try {
      accessSync(bin, constants.X_OK);
    } catch {
      return `${bin} not installed`;
    }
  }
  if (!existsSync('/etc/machine-id') || readFileSync('/etc/machine-id', 'utf8').trim() === '') {
    return 'no /etc/machine-id (journald needs one)';
  }
  return null;
}

export interface TestJournald {
  /** Namespace name, or null for the default instance. */
  readonly namespace: string | null;
  readonly socketPath: string;
  /** True when this harness started the daemon (and so may stop it). */
  readonly owned: boolean;
  /** PID of the journald we run; null when stopped or when reusing one we did not start. */
  pid(): number | null;
  /** SIGTERM our journald and wait for it to exit; the socket stays (held by the harness). */
  stopDaemon(): Promise<void>;
  /** Start it again on the same socket and files; resolves on READY=1. */
  startDaemon(): Promise<void>;
  /** journalctl arguments selecting this instance's journal. */
  journalctlArgs(): string[];
  /** Entries matching `matches` (journalctl FIELD=value terms), parsed from -o json. */
  read(matches: string[]): Promise<Record<string, unknown>[]>;
  /** Poll read() until at least `count` entries match or `timeoutMs` passes. */
  waitFor(matches: string[], count: number, timeoutMs?: number): Promise<Record<string, unknown>[]>;
  /** Stop what we started and remove what we created. */
  cleanup(): Promise<void>;
}

function isSocket(p: string): boolean {
  try {
    return statSync(p).isSocket();
  } catch {
    return false;
  }
}

/** True when something accepts datagrams on `p` (an empty datagram, which journald ignores). */
function socketIsLive(p: string): boolean {
  if (!isSocket(p)) return false;
  const s = unix.createSocket('unix_dgram');
  s.on('error', () => {});
  let ok = false;
  s.send(Buffer.alloc(0), 0, 0, p, (err) => {
    ok = !err;
  });
  s.close();
  return ok;
}


function journalctl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('journalctl', args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`journalctl ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

// The holder: keeps fd 3 (the journal socket) open, starts/stops journald on command.
// `export LISTEN_PID=$$; exec …` gives journald the PID the socket-activation protocol expects.
const HOLDER = `
bin=$1; ns=$2; pid=
while read -r cmd; do
  case "$cmd" in
    start)
      sh -c 'export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" $1' "$bin" "$ns" &
      pid=$!
      echo "started $pid" ;;
    stop)
      if [ -n "$pid" ]; then kill -TERM "$pid"; wait "$pid"; pid=; fi
      echo stopped ;;
  esac
done
if [ -n "$pid" ]; then kill -TERM "$pid"; wait "$pid"; fi
`;

export async function startJournald(opts: { namespace?: string | null } = {}): Promise<TestJournald> {
  const ns = opts.namespace === undefined ? `affdtest${process.pid}` : opts.namespace;
  const runDir = ns === null ? '/run/systemd/journal' : `/run/systemd/journal.${ns}`;
  const socketPath = join(runDir, 'socket');
  const mid = readFileSync('/etc/machine-id', 'utf8').trim();

  // Default instance: never take over or disturb a journald that already serves the host.
  if (ns === null && socketIsLive(DEFAULT_SOCKET)) return reuse(socketPath);
  if (ns !== null && existsSync(runDir)) throw new Error(`journal namespace ${ns} in use (${runDir} exists)`);

  // Remember what does not exist yet, so cleanup removes only what we and our journald create.
  const suffix = ns === null ? '' : `.${ns}`;
  const created = [runDir, `/var/log/journal/${mid}${suffix}`, `/run/log/journal/${mid}${suffix}`, '/run/log/journal', '/run/log'].filter(
    (p) => !existsSync(p),
  );
  const work = mkdtempSync(join(tmpdir(), 'affd-journald-'));
  created.push(work);
  mkdirSync(runDir, { recursive: true });

  // READY=1 arrives here; every message is kept so a start can wait for the next one.
  let readyCount = 0;
  const notifyPath = join(work, 'notify');
  const notify = unix.createSocket('unix_dgram', (b) => {
    if (/^READY=1$/m.test(b.toString())) readyCount++;
  });
  notify.on('error', () => {});
  notify.bind(notifyPath);

  const sock = unix.createSocket('unix_dgram');
  sock.on('error', (e) => {
    throw e;
  });
  // A socket file nobody serves (a journald that died) would make bind fail with EADDRINUSE.
  if (isSocket(socketPath) && !socketIsLive(socketPath)) unlinkSync(socketPath);
  sock.bind(socketPath);
  chmodSync(socketPath, 0o666); // as systemd-journald.socket's SocketMode=
  let holder: ChildProcess;
  try {
    holder = spawn('/bin/sh', ['-c', HOLDER, 'affd-journald-holder', JOURNALD_BIN, ns ?? ''], {
      stdio: ['pipe', 'pipe', 'pipe', sock.fd],
      env: { ...process.env, NOTIFY_SOCKET: notifyPath },
    });
  } finally {
    sock.close(); // same tick as bind: this process never reads from the journal socket
  }
  let stderr = '';
  holder.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const lines = createInterface({ input: holder.stdout! });
  const replies: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  lines.on('line', (l) => {
    const w = waiting.shift();
    if (w) w(l);
    else replies.push(l);
  });
  const command = (cmd: string, timeoutMs = 10_000): Promise<string> => {
    holder.stdin!.write(`${cmd}\n`);
    return new Promise((resolve, reject) => {
      const early = replies.shift();
      if (early !== undefined) return resolve(early);
      const t = setTimeout(() => reject(new Error(`journald holder: no reply to ${cmd}: ${stderr.trim()}`)), timeoutMs);
      waiting.push((l) => {
        clearTimeout(t);
        resolve(l);
      });
    });
  };

  let pid: number | null = null;
  let holderExited = false;
  holder.once('exit', () => {
    holderExited = true;
  });

  const h: TestJournald = {
    namespace: ns,
    socketPath,
    owned: true,
    pid: () => pid,

    async startDaemon(): Promise<void> {
      if (pid !== null) return;
      const before = readyCount;
      const reply = await command('start');
      const m = /^started (\d+)$/.exec(reply);
      if (!m) throw new Error(`journald holder: unexpected reply "${reply}"`);
      pid = Number(m[1]);
      const deadline = Date.now() + 10_000;
      while (readyCount === before) {
        if (Date.now() > deadline) throw new Error(`systemd-journald (pid ${pid}) not ready within 10s: ${stderr.trim()}`);
        try {
          process.kill(pid, 0);
        } catch {
          throw new Error(`systemd-journald (pid ${pid}) exited at start: ${stderr.trim()}`);
        }
        await sleep(10);
      }
    },

    async stopDaemon(): Promise<void> {
      if (pid === null) return;
      const reply = await command('stop');
      if (reply !== 'stopped') throw new Error(`journald holder: unexpected reply "${reply}"`);
      pid = null;
    },

    journalctlArgs: () => (ns === null ? [] : [`--namespace=${ns}`]),
    read: (matches) => readEntries(h.journalctlArgs(), matches),
    waitFor: (matches, count, timeoutMs) => waitFor(h, matches, count, timeoutMs),

    async cleanup(): Promise<void> {
      try {
        if (!holderExited) {
          await h.stopDaemon().catch(() => {});
          const exited = new Promise<void>((r) => (holderExited ? r() : holder.once('exit', () => r())));
          holder.stdin!.end();
          const t = setTimeout(() => holder.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(t);
        }
      } finally {
        notify.close();
        for (const p of created) rmSync(p, { recursive: true, force: true });
      }
    },
  };

  try {
    await h.startDaemon();
  } catch (e) {
    await h.cleanup();
    throw e;
  }
  return h;
}

function reuse(socketPath: string): TestJournald {
  const refuse = (): Promise<void> => Promise.reject(new Error('not our journald: refusing to start or stop it'));
  const h: TestJournald = {
    namespace: null,
    socketPath,
    owned: false,
    pid: () => null,
    stopDaemon: refuse,
    startDaemon: refuse,
    journalctlArgs: () => [],
    read: (matches) => readEntries([], matches),
    waitFor: (matches, count, timeoutMs) => waitFor(h, matches, count, timeoutMs),
    cleanup: () => Promise.resolve(),
  };
  return h;
}

async function readEntries(sel: string[], matches: string[]): Promise<Record<string, unknown>[]> {
  const out = await journalctl([...sel, '-o', 'json', '--all', '--no-pager', '-q', ...matches]);
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function waitFor(h: TestJournald, matches: string[], count: number, timeoutMs = 5000): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await h.read(matches);
    if (got.length >= count || Date.now() > deadline) return got;
    await sleep(50);
  }
}
