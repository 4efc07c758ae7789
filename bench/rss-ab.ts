// bench/rss-ab — two or more builds of affinityd side by side: how much memory each agent holds
// once started. For a change to the code (not to runtime options: bench/memory-options), where
// the figure has to come from one run because this shared VM's RSS moves between runs (how
// much of node's binary a fault maps around a page depends on what else ran).
//
//   node dist/bench/rss-ab.js [--rounds N] [--wait-ms MS] EXECUTABLE…
//
// Each EXECUTABLE (e.g. another checkout's dist/src/cli/affinityd.cjs, or its ESM main.js
// before that) runs `affinityd run` on this VM's real tree (`/`, eth0's policy as
// bench/agent-latency writes it: the executable reads, and writes only eth0's masks), started
// through the shipped unit's ExecStart= line, with a journald reachable on the default socket
// (test/helpers/journald), as bench/idle runs it. WAIT ms after the start (default 6000: the
// first pass and the GC after it are over) VmRSS, RssAnon and RssFile are read from
// /proc/PID/status, then the agent is stopped. The builds take turns, round after round;
// medians per build. Root; under the kernel lock other engineers' tests take.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startJournald } from '../test/helpers/journald.js';
import { policyFile, summarize } from './agent-latency.js';
import { unitLaunch } from './lib/executable.js';
import { statusField } from './lib/proc-status.js';

interface Sample {
  rssKiB: number;
  anonKiB: number;
  fileKiB: number;
}

function status(pid: number): Sample {
  const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rssKiB: statusField(st, 'VmRSS'), anonKiB: statusField(st, 'RssAnon'), fileKiB: statusField(st, 'RssFile') };
}

async function sample(executable: string, waitMs: number): Promise<Sample> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-rss-ab-'));
  const launch = unitLaunch(executable);
  const child = spawn(launch.command, [...launch.args, 'run', '--root', '/', '--config', policyFile(dir)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await sleep(waitMs);
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${executable}: the agent ended: ${err.trim()}`);
    return status(child.pid!);
  } finally {
    child.kill('SIGTERM');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => summarize(xs)!.p50;
const mib = (kib: number): number => Math.round((kib / 1024) * 100) / 100;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: number): number => {
    const i = args.indexOf(`--${name}`);
    if (i < 0) return dflt;
    const v = Number(args.splice(i, 2)[1]);
    if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name}: expected a positive integer`);
    return v;
  };
  const rounds = opt('rounds', 3);
  const waitMs = opt('wait-ms', 6000);
  const builds = args.map((a) => path.resolve(a));
  if (builds.length === 0) throw new Error('usage: node dist/bench/rss-ab.js [--rounds N] [--wait-ms MS] EXECUTABLE…');
  for (const b of builds) if (!fs.existsSync(b)) throw new Error(`${b}: no such executable`);
  const samples = new Map<string, Sample[]>(builds.map((b) => [b, []]));
  const jd = await startJournald({ namespace: null });
  const loadBefore = fs.readFileSync('/proc/loadavg', 'utf8').trim();
  try {
    for (let r = 0; r < rounds; r++) for (const b of builds) samples.get(b)!.push(await sample(b, waitMs));
  } finally {
    await jd.cleanup();
  }
  const out = {
    what: `RSS of \`affinityd run\` ${waitMs} ms after its start through the unit's ExecStart= line, journald reachable; builds alternating, ${rounds} rounds; MiB, medians`,
    loadavg: { before: loadBefore, after: fs.readFileSync('/proc/loadavg', 'utf8').trim() },
    builds: builds.map((b) => {
      const s = samples.get(b)!;
      return { executable: b, rssMiB: mib(median(s.map((x) => x.rssKiB))), anonMiB: mib(median(s.map((x) => x.anonKiB))), fileMiB: mib(median(s.map((x) => x.fileKiB))), samplesKiB: s.map((x) => x.rssKiB) };
    }),
  };
  console.log(JSON.stringify(out, null, 1));
}

main().catch((e: unknown) => {
  console.error(`rss-ab: ${(e as Error).message}`);
  process.exitCode = 1;
});
