// bench/run — `npm run bench`: run every benchmark, print ONE JSON object on stdout and keep a
// copy in bench/results/bench-<date>.json. Benchmarks report figures; they never fail on them.
// A benchmark that throws is reported as { error } so the others still run.
//
//   node dist/bench/run.js [--only plan,burst,latency,startup,idle] [--cycles N]
//                          [--irqbalance-cycles N] [--irqbalance-cap-ms MS] [--idle-s S]
//                          [--startup-runs N]

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchPlan } from './plan.js';
import { benchBurst } from './burst.js';
import { benchAgentLatency } from './agent-latency.js';
import { benchIdle, benchStartup } from './idle.js';

const ALL = ['plan', 'burst', 'latency', 'startup', 'idle'] as const;
type Name = (typeof ALL)[number];

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function num(name: string): number | undefined {
  const v = flag(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`bench: --${name} ${v}: expected a whole number`);
    process.exit(64);
  }
  return n;
}

/** /proc/loadavg: the machine is shared, so every figure carries the load it was taken under. */
const loadavg = (): string => {
  try {
    return fs.readFileSync('/proc/loadavg', 'utf8').trim();
  } catch {
    return 'unknown';
  }
};

async function guarded(fn: () => Promise<object>): Promise<object> {
  const t0 = Date.now();
  const loadBefore = loadavg();
  try {
    return { ...(await fn()), wallMs: Date.now() - t0, loadavg: { before: loadBefore, after: loadavg() } };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e), wallMs: Date.now() - t0, loadavg: { before: loadBefore, after: loadavg() } };
  }
}

async function main(): Promise<void> {
  const only = (flag('only')?.split(',') ?? [...ALL]) as Name[];
  for (const n of only) {
    if (!ALL.includes(n)) {
      console.error(`bench: --only ${n}: expected some of ${ALL.join(', ')}`);
      process.exit(64);
    }
  }
  const started = new Date();
  const out: Record<string, unknown> = {
    date: started.toISOString(),
    host: { kernel: os.release(), cpus: os.cpus().length, node: process.version },
  };
  if (only.includes('plan')) out.plan = await guarded(() => benchPlan());
  if (only.includes('burst')) out.burst = await guarded(() => benchBurst());
  if (only.includes('latency')) {
    const cycles = num('cycles');
    const irqbalanceCycles = num('irqbalance-cycles');
    const irqbalanceCapMs = num('irqbalance-cap-ms');
    out.agentLatency = await guarded(() =>
      benchAgentLatency({
        ...(cycles !== undefined ? { cycles } : {}),
        ...(irqbalanceCycles !== undefined ? { irqbalanceCycles } : {}),
        ...(irqbalanceCapMs !== undefined ? { irqbalanceCapMs } : {}),
      }),
    );
  }
  if (only.includes('startup')) {
    const runs = num('startup-runs');
    out.startup = await guarded(() => benchStartup(runs !== undefined ? { runs } : {}));
  }
  if (only.includes('idle')) {
    const idleS = num('idle-s');
    out.idle = await guarded(() => benchIdle(idleS !== undefined ? { idleS } : {}));
  }
  const json = JSON.stringify(out, null, 2);
  process.stdout.write(`${json}\n`);
  // dist/bench/run.js → <repo>/bench/results (the source tree, not dist/).
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `bench-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${json}\n`);
  process.stderr.write(`bench: results written to ${file}\n`);
}

main().then(
  // The agent's netlink sockets and signal listeners are closed by now; exit explicitly in
  // case a library left a handle open.
  () => process.exit(0),
  (e: unknown) => {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
