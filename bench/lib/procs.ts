// bench/lib/procs — child processes the lab starts (iperf3 server, irqbalance, affinityd
// agents). Each is registered with the Cleanup stack and stopped by its own PID, and only
// while it is still our un-reaped child, so a recycled PID can never be hit.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import type { Cleanup } from './cleanup.js';

export interface Tracked {
  pid: number;
  argv: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True until the process has exited and been reaped. */
  alive(): boolean;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export function start(cleanup: Cleanup, argv: string[], opts: { keepOutput?: boolean } = {}): Tracked {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', opts.keepOutput === false ? 'ignore' : 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`${argv.join(' ')}: could not start`);
  const pid = child.pid;
  let out = '';
  let err = '';
  // Cap what we keep: an agent's log is a few lines, a runaway process must not eat memory.
  child.stdout?.on('data', (b: Buffer) => {
    if (out.length < 4 << 20) out += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    if (err.length < 1 << 20) err += b.toString();
  });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', () => {
      done = true;
      resolve({ code: null, signal: null });
    });
    child.on('close', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  const forget = cleanup.add(`kill pid ${pid} (${argv.slice(-8).join(' ')})`, () => {
    if (!done) process.kill(pid, 'SIGKILL');
  });
  void exited.then(forget);
  return {
    pid,
    argv,
    exited,
    alive: () => !done,
    stdout: () => out,
    stderr: () => err,
    async stop(graceMs = 5000) {
      if (done) return;
      process.kill(pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      if (!done) process.kill(pid, 'SIGKILL');
      await exited;
    },
  };
}

/** True while some process has this PID (signal 0 probes without sending). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** PIDs of running processes whose command name is `comm` (read-only: for detection only). */
export function pidsNamed(comm: string, except: number[] = []): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || except.includes(Number(d))) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim() === comm) out.push(Number(d));
    } catch {
      // exited while listing
    }
  }
  return out;
}
