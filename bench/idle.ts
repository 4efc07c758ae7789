// bench/idle — what a running agent costs while nothing happens, and how long it takes to
// start. A benchmark, not a test: it prints figures, it does not assert them. Needs root.
//
// Both spawn the real CLI (`affinityd run`) as systemd would: NOTIFY_SOCKET names a datagram
// socket this process listens on, so READY=1 and the first STATUS= (sent at the end of the
// first full apply) are timed from just before spawn().
//
// Idle: a journald is reachable (test/helpers/journald.ts: the default socket, started here
// unless one already serves it). After READY=1 and one second (the journal client closes its
// idle socket after 200 ms), a window of `idleS` seconds: the agent's voluntary context
// switches (main thread, and all threads), CPU time (utime + stime), RSS, and, when strace is
// installed, every syscall of every thread (`strace -f -c -p`, a second run, since strace's
// own ptrace stops count as context switches). Kernel events in the window are counted by a
// listener of our own next to it: a wake-up for a kernel event is not one of the agent's own.
// Then 100 full passes (SIGHUP, a policy reload each) and RSS again: what an agent keeps once
// it has worked. Heap and RSS at the end come from the agent itself (bench/lib/memreport.ts,
// on SIGUSR2).
//
// Start-up: process start → READY=1 and → the first full apply, on this VM (policy: eth0 only,
// as bench/agent-latency) and on a generated 1024-CPU fixture tree (fixture/fixture.ts
// preset big1024, 4096 NIC queue IRQs; its snapshot alone is ≈ 160 000 files).

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Subscription, merge } from 'rxjs';
import { eth0QueueIrqNames, irqsByName, policyFile, restore, save, summarize } from './agent-latency.js';
import { buildFixture, presets, removeFixture } from '../fixture/fixture.js';
import { journaldUnavailableReason, startJournald, type TestJournald } from '../test/helpers/journald.js';
import { ueventStats, uevents$ } from '../src/agent/uevent.js';
import { isRelevant } from '../src/agent/events.js';
import { links$ } from '../src/agent/rtnetlink.js';

const here = path.dirname(fileURLToPath(import.meta.url));

import { setTimeout as sleep } from 'node:timers/promises';
import { unitLaunch } from './lib/executable.js';
import { writeMemreportPreload } from './lib/memreport.js';
import { statusField as field } from './lib/proc-status.js';
import { parseCpuList } from '../src/cpumask/cpumask.js';
const msSince = (t0: bigint) => Math.round((Number(process.hrtime.bigint() - t0) / 1e6) * 100) / 100;
const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').trim();

interface DgramSocket {
  bind(path: string): void;
  on(e: 'message', f: (b: Buffer) => void): void;
  on(e: 'error', f: (err: Error) => void): void;
  close(): void;
}
const require = createRequire(import.meta.url);
const unix = require('unix-dgram') as { createSocket(t: 'unix_dgram', onMessage?: (b: Buffer) => void): DgramSocket };

interface Spawned {
  child: ChildProcess;
  startedAt: bigint;
  /** sd_notify messages with their arrival (ms after spawn). */
  notes: { at: number; text: string }[];
  stderr: () => string;
  exited: () => string | null;
  close(): Promise<void>;
}

/** A directory holding an `nproc` that prints the CPU count of the tree at root (its `possible` list). */
function nprocShim(root: string, dir: string): string {
  const possible = parseCpuList(fs.readFileSync(path.join(root, 'sys/devices/system/cpu/possible'), 'utf8'));
  const shim = path.join(dir, 'nproc-shim');
  fs.mkdirSync(shim, { recursive: true });
  fs.writeFileSync(path.join(shim, 'nproc'), `#!/bin/sh\necho ${possible.length}\n`, { mode: 0o755 });
  return shim;
}

function spawnAgent(root: string, config: string, dir: string, env: NodeJS.ProcessEnv = {}): Spawned {
  const notifyPath = path.join(dir, `notify-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const notes: Spawned['notes'] = [];
  let startedAt = 0n;
  const sock = unix.createSocket('unix_dgram', (b) => notes.push({ at: msSince(startedAt), text: b.toString() }));
  sock.on('error', () => undefined);
  sock.bind(notifyPath);
  let err = '';
  let exited: string | null = null;
  startedAt = process.hrtime.bigint();
  // As the unit starts it (unitLaunch: its shell picks NODE_OPTIONS by CPU count, then execs
  // the executable, whose shebang carries the V8 flags). For a generated tree the shell is
  // shown that tree's CPU count (an `nproc` on PATH), as the machine it stands for would show.
  const launch = unitLaunch();
  const child = spawn(launch.command, [...launch.args, 'run', '--root', root, '--config', config], {
    env: { ...process.env, NOTIFY_SOCKET: notifyPath, ...(root === '/' ? {} : { PATH: `${nprocShim(root, dir)}:${process.env.PATH ?? ''}` }), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-20_000)));
  child.on('exit', (code, signal) => (exited = signal ?? `exit ${code}`));
  return {
    child,
    startedAt,
    notes,
    stderr: () => err,
    exited: () => exited,
    async close() {
      if (exited === null && child.pid !== undefined) {
        child.kill('SIGTERM');
        const t0 = Date.now();
        while (exited === null && Date.now() - t0 < 10_000) await sleep(20);
        if (exited === null) child.kill('SIGKILL');
      }
      sock.close();
      fs.rmSync(notifyPath, { force: true });
    },
  };
}

async function waitFor<T>(what: string, probe: () => T | undefined | null, limitMs: number, s?: Spawned): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== null) return v;
    if (s?.exited()) throw new Error(`agent ended (${s.exited()}) while waiting for ${what}: ${s.stderr().trim().slice(-500)}`);
    if (Date.now() - t0 > limitMs) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** READY=1 and the first STATUS= (end of the first full apply), ms after spawn. */
async function startTimes(s: Spawned, limitMs: number): Promise<{ firstApplyMs: number; readyMs: number }> {
  const ready = await waitFor('READY=1', () => s.notes.find((n) => n.text.split('\n').includes('READY=1')), limitMs, s);
  const status = s.notes.find((n) => n.text.startsWith('STATUS=last pass'));
  return { firstApplyMs: status?.at ?? ready.at, readyMs: ready.at };
}

// ---------------------------------------------------------------------------------------
// /proc counters

interface Counters {
  mainVoluntary: number;
  mainInvoluntary: number;
  allVoluntary: number;
  threads: number;
  cpuMs: number;
  rssKiB: number;
}

function counters(pid: number): Counters {
  const main = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  let all = 0;
  const tasks = fs.readdirSync(`/proc/${pid}/task`);
  for (const t of tasks) {
    try {
      all += field(fs.readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8'), 'voluntary_ctxt_switches');
    } catch {
      /* thread ended */
    }
  }
  // utime and stime are fields 14 and 15; the comm field (2) may hold spaces, so split after ')'.
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11]) + Number(rest[12]);
  return {
    mainVoluntary: field(main, 'voluntary_ctxt_switches'),
    mainInvoluntary: field(main, 'nonvoluntary_ctxt_switches'),
    allVoluntary: all,
    threads: tasks.length,
    cpuMs: (ticks * 1000) / 100, // USER_HZ is 100 on Linux
    rssKiB: field(main, 'VmRSS'),
  };
}

/** Kernel events in a window, from netlink listeners of our own (the agent's are the same). */
function countKernelEvents(): { stop(): { ueventDatagrams: number; relevantUevents: number; linkMessages: number; errors: string[] } } {
  const u0 = ueventStats();
  let links = 0;
  let relevant = 0;
  const errors: string[] = [];
  const sub: Subscription = merge(uevents$({ recvBufferSize: 1 << 20 }), links$({ recvBufferSize: 1 << 20 })).subscribe({
    next: (e) => (e.kind === 'link' ? links++ : isRelevant(e) && relevant++),
    error: (e: Error) => errors.push(e.message),
  });
  return {
    stop() {
      sub.unsubscribe();
      return { ueventDatagrams: ueventStats().received - u0.received, relevantUevents: relevant, linkMessages: links, errors };
    },
  };
}

/** `strace -f -c -p PID` for `ms`: syscall counts of every thread (null when strace is absent). */
async function straceWindow(pid: number, ms: number, dir: string): Promise<{ syscalls: number; summary: string } | { error: string }> {
  const out = path.join(dir, 'strace.txt');
  const st = spawn('strace', ['-f', '-c', '-o', out, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  st.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  let exited = false;
  st.on('exit', () => (exited = true));
  st.on('error', (e) => {
    err += e.message;
    exited = true;
  });
  await sleep(ms);
  if (!exited && st.pid !== undefined) st.kill('SIGINT');
  const t0 = Date.now();
  while (!exited && Date.now() - t0 < 5000) await sleep(20);
  if (!fs.existsSync(out)) return { error: `strace: ${err.trim() || 'no output'}` };
  const text = fs.readFileSync(out, 'utf8');
  // The summary's last line: "100.00 … total" with the call count in the 4th column; an
  // empty table (no syscall at all) has only the header and a zero total.
  const total = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?total$/m.exec(text);
  return { syscalls: total ? Number(total[1]) : 0, summary: text.trim().split('\n').slice(-12).join('\n') };
}

// ---------------------------------------------------------------------------------------

export interface IdleOptions {
  /** Length of the idle window (s, default 300). */
  idleS?: number;
  /** Length of the window with the shipped unit's watchdog (s, default 60; 0: none). */
  watchdogS?: number;
  /** Full passes (SIGHUP) after the idle window, before RSS is read again (default 100). */
  passes?: number;
}

/**
 * What the shipped unit's WatchdogSec=30s costs an idle agent: systemd passes WATCHDOG_USEC
 * and the agent sends WATCHDOG=1 every 15 s. A second agent, started with that environment,
 * over `seconds`: its wake-ups, CPU time and notify messages.
 */
async function watchdogWindow(dir: string, seconds: number): Promise<object> {
  const agent = spawnAgent('/', policyFile(dir), dir, { WATCHDOG_USEC: String(30_000_000) });
  try {
    await startTimes(agent, 30_000);
    const pid = agent.child.pid!;
    await sleep(1000);
    const a = counters(pid);
    const notesBefore = agent.notes.length;
    const t0 = Date.now();
    await sleep(seconds * 1000);
    const b = counters(pid);
    const pings = agent.notes.slice(notesBefore).filter((n) => n.text.split('\n').includes('WATCHDOG=1')).length;
    const windowS = (Date.now() - t0) / 1000;
    const cpuMs = b.cpuMs - a.cpuMs;
    return {
      watchdogSec: 30,
      seconds: Math.round(windowS),
      watchdogPings: pings,
      mainThreadVoluntarySwitches: b.mainVoluntary - a.mainVoluntary,
      cpuMs,
      cpuMsPerHour: Math.round((cpuMs / windowS) * 3600),
      rssKiB: b.rssKiB,
    };
  } finally {
    await agent.close();
  }
}

/** eth0's queue IRQ numbers (whose masks both benches save and restore), or why there are none. */
function eth0QueueIrqs(): number[] | string {
  const names = eth0QueueIrqNames();
  if (names.length === 0) return 'eth0 has no queue IRQ that the snapshot recognises';
  const byName = irqsByName();
  const irqs = names.map((n) => byName.get(n));
  if (irqs.some((i) => i === undefined)) return `eth0 queue IRQs ${names.join(', ')} not found`;
  return irqs as number[];
}

export async function benchIdle(opts: IdleOptions = {}): Promise<object> {
  const idleS = opts.idleS ?? 300;
  const watchdogS = opts.watchdogS ?? 60;
  if (process.getuid?.() !== 0) return { skipped: 'needs root (journald, an agent on the real kernel)' };
  const eth0 = eth0QueueIrqs();
  if (typeof eth0 === 'string') return { skipped: eth0 };
  const saved = save(eth0);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-idle-'));
  const noJournal = journaldUnavailableReason();
  let jd: TestJournald | null = null;
  let agent: Spawned | null = null;
  const result: Record<string, unknown> = { idleS, journald: noJournal ?? 'reachable (default socket)' };
  try {
    if (noJournal === null) jd = await startJournald({ namespace: null });
    agent = spawnAgent('/', policyFile(dir), dir, { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require=${writeMemreportPreload(dir)}`.trim() });
    result.start = await startTimes(agent, 30_000);
    const pid = agent.child.pid!;
    await sleep(1000);
    const events = countKernelEvents();
    const a = counters(pid);
    const notesBefore = agent.notes.length;
    const t0 = Date.now();
    await sleep(idleS * 1000);
    const b = counters(pid);
    const windowS = (Date.now() - t0) / 1000;
    const kernel = events.stop();
    result.window = {
      seconds: Math.round(windowS),
      mainThreadVoluntarySwitches: b.mainVoluntary - a.mainVoluntary,
      mainThreadInvoluntarySwitches: b.mainInvoluntary - a.mainInvoluntary,
      allThreadsVoluntarySwitches: b.allVoluntary - a.allVoluntary,
      threads: b.threads,
      cpuMs: b.cpuMs - a.cpuMs,
      rssKiB: { before: a.rssKiB, after: b.rssKiB },
      notifyMessages: agent.notes.length - notesBefore,
      kernelEventsSeenByOurListener: kernel,
    };
    // strace stops the threads it attaches to (context switches of its own): a second window.
    const straceS = Math.min(60, idleS);
    const c = counters(pid);
    const st = await straceWindow(pid, straceS * 1000, dir);
    result.strace = { seconds: straceS, ...st, cpuMs: counters(pid).cpuMs - c.cpuMs };
    // What the agent keeps once it has worked: RSS after `passes` more full passes (SIGHUP,
    // one at a time, each to its STATUS=). V8 compiles a function with TurboFan once it has
    // run enough, and the compiler's own pages of the node binary (~3.5 MB) then stay
    // resident; an agent fresh from its start has not paid that yet.
    const passes = opts.passes ?? 100;
    if (passes > 0) {
      const statusCount = () => agent!.notes.filter((n) => n.text.startsWith('STATUS=last pass')).length;
      const t1 = Date.now();
      for (let i = 0; i < passes; i++) {
        const before = statusCount();
        process.kill(pid, 'SIGHUP');
        await waitFor(`pass ${i + 1} after SIGHUP`, () => (statusCount() > before ? true : null), 10_000, agent);
      }
      await sleep(1000);
      result.afterPasses = { passes, seconds: Math.round((Date.now() - t1) / 1000), rssKiB: counters(pid).rssKiB };
    }
    process.kill(pid, 'SIGUSR2');
    const mem = await waitFor('memreport', () => /\{"memreport":(\{[^\n]*\})\}/.exec(agent!.stderr())?.[1], 5000, agent).catch(() => null);
    if (mem) {
      const m = JSON.parse(mem) as Record<string, number>;
      const mib = (x: number | undefined) => Math.round(((x ?? 0) / 2 ** 20) * 10) / 10;
      result.memoryMiB = { rss: mib(m.rss), heapUsed: mib(m.heapUsed), heapTotal: mib(m.heapTotal), external: mib(m.external), arrayBuffers: mib(m.arrayBuffers) };
    }
    result.target = {
      mainThreadWakeups: 0,
      rssMiB: 50,
      met: (result.window as { mainThreadVoluntarySwitches: number }).mainThreadVoluntarySwitches === 0 && b.rssKiB <= 50 * 1024,
    };
    await agent.close();
    agent = null;
    if (watchdogS > 0) result.withShippedWatchdog = await watchdogWindow(dir, watchdogS).catch((e: Error) => ({ error: e.message }));
  } finally {
    await agent?.close();
    await jd?.cleanup().catch(() => undefined);
    const problems = restore(saved);
    if (problems.length) result.restoreProblems = problems;
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

export interface StartupOptions {
  /** Start-ups per tree (default 3). */
  runs?: number;
}

export async function benchStartup(opts: StartupOptions = {}): Promise<object> {
  const runs = opts.runs ?? 3;
  if (process.getuid?.() !== 0) return { skipped: 'needs root (an agent on the real kernel)' };
  const eth0 = eth0QueueIrqs();
  if (typeof eth0 === 'string') return { skipped: eth0 };
  const saved = save(eth0);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-start-'));
  const out: Record<string, unknown> = { what: 'ms from just before spawn() of `affinityd run` to READY=1 and to the end of the first full apply (its STATUS=)' };
  const once = async (root: string, config: string, limitMs: number) => {
    const s = spawnAgent(root, config, dir);
    try {
      const times = await startTimes(s, limitMs);
      // The resident size the agent keeps once started: one second later the GC after its
      // first pass (src/agent/heap.ts) has run, and nothing else will until an event.
      await sleep(1000);
      return { ...times, rssKiB: counters(s.child.pid!).rssKiB };
    } finally {
      await s.close();
    }
  };
  const series = async (root: string, config: string, limitMs: number) => {
    const rs: { firstApplyMs: number; readyMs: number; rssKiB: number }[] = [];
    const errors: string[] = [];
    for (let i = 0; i < runs; i++) {
      // A fresh state file each time: every start is a first start (a "boot" pass).
      fs.rmSync(path.join(dir, 'state.json'), { force: true });
      try {
        rs.push(await once(root, config, limitMs));
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    return { runs: rs, firstApplyMs: summarize(rs.map((r) => r.firstApplyMs)), readyMs: summarize(rs.map((r) => r.readyMs)), rssKiBAfterStart: summarize(rs.map((r) => r.rssKiB)), errors };
  };
  try {
    out.thisVm = { cpus: os.cpus().length, ...(await series('/', policyFile(dir), 30_000)) };
    restore(saved);
    const t0 = Date.now();
    const root = buildFixture(presets.big1024());
    try {
      const cfg = path.join(dir, 'big.ini');
      fs.writeFileSync(cfg, `[agent]\nstate-file = ${path.join(dir, 'state.json')}\n`);
      out.fixture1024 = { tree: 'presets.big1024: 1024 CPUs, 8 nodes, 8 NICs × 512 queues', buildS: Math.round((Date.now() - t0) / 100) / 10, ...(await series(root, cfg, 120_000)) };
    } finally {
      removeFixture(root);
    }
  } finally {
    const problems = restore(saved);
    if (problems.length) out.restoreProblems = problems;
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
