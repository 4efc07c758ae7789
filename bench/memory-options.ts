// bench/memory-options — what each runtime setting (node/V8 flags, glibc malloc and libuv
// environment) does to an idle agent's RSS, and what it costs the 1024-CPU plan. Issue 14's
// RSS target (≤ 50 MB); the README's memory paragraph quotes this bench's table. A benchmark,
// not a test: it prints figures, it does not assert them.
//
// RSS: the real executable (dist/src/cli/affinityd.cjs) run as `node <flags> affinityd.cjs run` on a
// generated copy of this VM's tree (fixture preset vm2: writes land in the fixture, never in
// the host's /proc or /sys, so no kernel lock is needed), with the shipped policy (state file
// and metrics textfile in a temporary directory). READY=1 arrives on a notify socket of ours;
// one second later (the GC after the first pass has run, src/agent/heap.ts) VmRSS, RssAnon and
// RssFile are read from /proc/PID/status. On this shared, noisy VM the variants take turns,
// round after round, and the table gives medians.
//
// Plan: each variant's flags run a child process (this file, `--plan-child ROOT`) on the
// generated 1024-CPU tree (preset big1024): a cold snapshot + plan + diff as at an agent's
// start, then the plan of a warmed-up process (median of 20), as bench/plan measures it.
//
//   node dist/bench/memory-options.js [--rounds N] [--only a,b] [--no-plan] [--passes N]
//
// --passes N: after the start figure, N more full passes (SIGHUP, one at a time), then RSS
// again: what an agent that has worked for a while keeps (V8 tiers hot code up over passes).

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { buildFixture, presets, removeFixture } from '../fixture/fixture.js';
import { EXECUTABLE as MAIN, shebangFlags } from './lib/executable.js';
import { statusField as kib } from './lib/proc-status.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SHIPPED_POLICY = path.resolve(here, '../../etc/affinityd.ini');
const SELF = fileURLToPath(import.meta.url);

export interface Variant {
  name: string;
  /** Flags for node, in place of the shebang's. */
  flags: string[];
  env?: Record<string, string>;
}

function variants(shipped: string[]): Variant[] {
  const plus = (name: string, ...more: string[]): Variant => ({ name, flags: [...shipped, ...more] });
  const env = (name: string, e: Record<string, string>): Variant => ({ name, flags: shipped, env: e });
  return [
    { name: 'shipped', flags: shipped },
    env('MALLOC_ARENA_MAX=1', { MALLOC_ARENA_MAX: '1' }),
    env('MALLOC_ARENA_MAX=2', { MALLOC_ARENA_MAX: '2' }),
    env('trim_threshold=64K', { GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=65536' }),
    env('mmap_threshold=64K', { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=65536' }),
    env('arena_max=1:trim=64K:mmap=64K', { GLIBC_TUNABLES: 'glibc.malloc.arena_max=1:glibc.malloc.trim_threshold=65536:glibc.malloc.mmap_threshold=65536' }),
    env('UV_THREADPOOL_SIZE=1', { UV_THREADPOOL_SIZE: '1' }),
    plus('--v8-pool-size=0', '--v8-pool-size=0'),
    plus('--v8-pool-size=1', '--v8-pool-size=1'),
    plus('--single-threaded', '--single-threaded'),
    plus('--min-semi-space-size=1', '--min-semi-space-size=1'),
    plus('--initial-heap-size=4', '--initial-heap-size=4'),
    plus('--max-old-space-size=64', '--max-old-space-size=64'),
    plus('--no-expose-wasm', '--no-expose-wasm'),
    plus('--disable-wasm-trap-handler', '--disable-wasm-trap-handler'),
    plus('--max-lazy', '--max-lazy'),
    plus('--no-opt', '--no-opt'),
    // Maglev is off in node 20 (V8 11.3): tier 2 and below is Sparkplug's baseline code.
    plus('--max-opt=2 (no TurboFan)', '--max-opt=2'),
    plus('--jitless', '--jitless'),
    // V8's tier-up budget (bytecode executed before a function is considered for optimization,
    // default 67584 = 66 KiB): a start on a small machine then never wakes TurboFan.
    ...[4, 8, 16, 64, 256].map((x) => plus(`--interrupt-budget=${67584 * x} (${x}x)`, `--interrupt-budget=${67584 * x}`)),
  ];
}

interface DgramSocket {
  bind(path: string): void;
  on(e: 'error', f: (err: Error) => void): void;
  close(): void;
}
const require = createRequire(import.meta.url);
const unix = require('unix-dgram') as { createSocket(t: 'unix_dgram', onMessage?: (b: Buffer) => void): DgramSocket };


interface RssSample {
  rssKiB: number;
  /** VmRSS after `passes` more full passes (SIGHUP each), or null. */
  afterPassesKiB: number | null;
  anonKiB: number;
  fileKiB: number;
  readyMs: number;
}

/** One agent start: RSS one second after READY=1. */
async function agentRss(v: Variant, root: string, config: string, dir: string, passes: number): Promise<RssSample> {
  const notify = path.join(dir, `notify-${process.pid}-${Date.now()}`);
  let ready = false;
  let statuses = 0;
  const sock = unix.createSocket('unix_dgram', (b) => {
    const lines = b.toString().split('\n');
    if (lines.includes('READY=1')) ready = true;
    if (lines.some((l) => l.startsWith('STATUS=last pass'))) statuses++;
  });
  sock.on('error', () => undefined);
  sock.bind(notify);
  // A fresh state (it lives under --root): every start is a first start, a "boot" pass.
  fs.rmSync(path.join(root, dir, 'state.json'), { force: true });
  const t0 = performance.now();
  const child = spawn(process.execPath, [...v.flags, MAIN, 'run', '--root', root, '--config', config], {
    env: { ...process.env, NOTIFY_SOCKET: notify, ...v.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  let exited: string | null = null;
  child.on('exit', (code, signal) => (exited = signal ?? `exit ${code}`));
  try {
    while (!ready) {
      if (exited) throw new Error(`${v.name}: agent ended (${exited}): ${err.trim().slice(-300)}`);
      if (performance.now() - t0 > 30_000) throw new Error(`${v.name}: no READY=1 in 30 s`);
      await sleep(5);
    }
    const readyMs = Math.round(performance.now() - t0);
    await sleep(1000);
    const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
    let afterPassesKiB: number | null = null;
    if (passes > 0) {
      // SIGHUP: re-read the policy and run a full pass (as a reload does); one at a time.
      for (let i = 0; i < passes; i++) {
        const before = statuses;
        child.kill('SIGHUP');
        const t = performance.now();
        while (statuses === before) {
          if (exited) throw new Error(`${v.name}: agent ended (${exited}) during pass ${i + 1}: ${err.trim().slice(-300)}`);
          if (performance.now() - t > 10_000) throw new Error(`${v.name}: pass ${i + 1} gave no STATUS= in 10 s`);
          await sleep(2);
        }
      }
      await sleep(1000);
      afterPassesKiB = kib(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'), 'VmRSS');
    }
    return { rssKiB: kib(status, 'VmRSS'), afterPassesKiB, anonKiB: kib(status, 'RssAnon'), fileKiB: kib(status, 'RssFile'), readyMs };
  } finally {
    if (!exited) {
      child.kill('SIGTERM');
      const t = Date.now();
      while (!exited && Date.now() - t < 10_000) await sleep(10);
      if (!exited) child.kill('SIGKILL');
    }
    sock.close();
    fs.rmSync(notify, { force: true });
  }
}

interface PlanSample {
  /** The first snapshot of the tree (file reads, mostly). */
  snapshotMs: number;
  /** The first plan + diff in a fresh process, as at an agent's start. */
  coldMs: number;
  warmPlanMs: number;
  hwmKiB: number;
}

function planRun(v: Variant, bigRoot: string): PlanSample {
  const r = spawnSync(process.execPath, [...v.flags, SELF, '--plan-child', bigRoot], { env: { ...process.env, ...v.env }, encoding: 'utf8', timeout: 300_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as PlanSample;
  } catch {
    throw new Error(`${v.name}: plan child failed (${r.status ?? r.signal}): ${r.stderr.trim().slice(-300)}`);
  }
}

/** In the child: cold snapshot + plan + diff, then warm plans; one JSON line. */
async function planChild(root: string): Promise<void> {
  const { takeSnapshot } = await import('../src/snapshot/snapshot.js');
  const { plan } = await import('../src/planner/planner.js');
  const { defaultPolicy } = await import('../src/policy/policy.js');
  const { diffPlan } = await import('../src/applier/diff.js');
  const policy = defaultPolicy();
  const t0 = performance.now();
  const snap = takeSnapshot(root);
  const t1 = performance.now();
  diffPlan(plan(snap, policy), snap.topology.nrCpuIds);
  const coldMs = performance.now() - t1;
  const snapshotMs = t1 - t0;
  for (let i = 0; i < 5; i++) plan(snap, policy);
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    plan(snap, policy);
    times.push(performance.now() - t);
  }
  const hwmKiB = kib(fs.readFileSync('/proc/self/status', 'utf8'), 'VmHWM');
  process.stdout.write(`${JSON.stringify({ snapshotMs: Math.round(snapshotMs), coldMs: Math.round(coldMs), warmPlanMs: Math.round(median(times) * 10) / 10, hwmKiB })}\n`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const childRoot = arg('plan-child');
  if (childRoot) return planChild(childRoot);
  const rounds = Number(arg('rounds') ?? 3);
  const only = arg('only')?.split(',');
  const withPlan = !process.argv.includes('--no-plan');
  const passes = Number(arg('passes') ?? 0);
  const shipped = shebangFlags();
  const all = variants(shipped).filter((v) => v.name === 'shipped' || !only || only.some((o) => v.name.includes(o)));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-memopt-'));
  const vm = buildFixture(presets.vm2());
  const big = withPlan ? buildFixture(presets.big1024()) : null;
  const config = path.join(dir, 'affinityd.ini');
  const policy = fs.readFileSync(SHIPPED_POLICY, 'utf8').replace(/^state-file = .*$/m, `state-file = ${path.join(dir, 'state.json')}`).replace(/^textfile-directory = .*$/m, `textfile-directory = ${dir}`);
  fs.writeFileSync(config, `${policy}\n[net:others]\nmatch-name = *\nstrategy = ignore\n\n[net:eth0]\nmatch-name = eth0\nstrategy = spread\n`);
  const rss = new Map<string, RssSample[]>(all.map((v) => [v.name, []]));
  const plans = new Map<string, PlanSample[]>(all.map((v) => [v.name, []]));
  const errors: string[] = [];
  const loadBefore = fs.readFileSync('/proc/loadavg', 'utf8').trim();
  try {
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round: no variant always runs first (or right after another).
      const order = all.map((_, i) => all[(i + r) % all.length]!);
      for (const v of order) {
        try {
          rss.get(v.name)!.push(await agentRss(v, vm, config, dir, passes));
          if (big) plans.get(v.name)!.push(planRun(v, big));
        } catch (e) {
          errors.push((e as Error).message);
        }
        process.stderr.write('.');
      }
    }
  } finally {
    process.stderr.write('\n');
    removeFixture(vm);
    if (big) removeFixture(big);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const mb = (k: number) => Math.round((k / 1024) * 10) / 10;
  const table = all.map((v) => {
    const s = rss.get(v.name)!;
    const p = plans.get(v.name)!;
    return {
      variant: v.name,
      flags: v.flags.join(' '),
      env: v.env ?? {},
      samples: s.length,
      rssMB: mb(median(s.map((x) => x.rssKiB))),
      anonMB: mb(median(s.map((x) => x.anonKiB))),
      fileMB: mb(median(s.map((x) => x.fileKiB))),
      rssAllMB: s.map((x) => mb(x.rssKiB)),
      readyMs: median(s.map((x) => x.readyMs)),
      ...(passes > 0 ? { passes, rssAfterPassesMB: mb(median(s.map((x) => x.afterPassesKiB ?? NaN))) } : {}),
      ...(p.length ? { snapshotMs: median(p.map((x) => x.snapshotMs)), coldPlanMs: median(p.map((x) => x.coldMs)), warmPlanMs: median(p.map((x) => x.warmPlanMs)), planHwmMB: mb(median(p.map((x) => x.hwmKiB))) } : {}),
    };
  });
  const out = { date: new Date().toISOString(), node: process.version, rounds, loadavg: { before: loadBefore, after: fs.readFileSync('/proc/loadavg', 'utf8').trim() }, table, errors };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  for (const t of table) {
    process.stderr.write(`${t.variant.padEnd(32)} rss ${t.rssMB} (anon ${t.anonMB}, file ${t.fileMB}) [${t.rssAllMB.join(' ')}]${'rssAfterPassesMB' in t ? `, after ${t.passes} passes ${t.rssAfterPassesMB}` : ''}${'coldPlanMs' in t ? ` snapshot ${t.snapshotMs} ms, cold plan+diff ${t.coldPlanMs} ms, warm plan ${t.warmPlanMs} ms, plan HWM ${t.planHwmMB} MB` : ''}\n`);
  }
}

if (process.argv[1] === SELF) await main();
