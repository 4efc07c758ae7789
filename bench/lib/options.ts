// bench/lib/options — the traffic bench's knobs, from flags or TL_* environment variables
// (flags win), validated up front so a typo fails before any namespace exists.

import { CONFIGS, type ConfigName } from './report.js';

export interface TrafficOptions {
  seconds: number;
  streams: number[];
  repeats: number;
  configs: ConfigName[];
  /** How config (c) runs affinityd: the agent (`affinityd run`) or a one-shot `affinityd apply`. */
  affinitydMode: 'agent' | 'apply';
  sampleMs: number;
  senderCpu: number;
  /** CPU the iperf3 server is pinned to; null = unpinned (the default, as in the first probe). */
  serverCpu: number | null;
  /** Pause between runs, so each run starts from an idle backlog and the plots show a gap. */
  gapMs: number;
  /** How long irqbalance runs before the first measurement (its first pass). */
  irqbalanceSettleMs: number;
  /** Runs retried when CPU hotplug disturbed them. */
  maxAttempts: number;
  naturalIfindex: boolean;
  out: string | null;
  /** Re-check and re-summarize a stored result file instead of measuring. */
  resummarize: string | null;
}

export const USAGE = `usage: node dist/bench/traffic.js [options]   (or: npm run bench:traffic -- [options])
  --seconds N            length of each iperf3 run (TL_SECONDS, default 4)
  --streams LIST         parallel streams per run, e.g. 1,2,3,4 (TL_STREAMS, default 1,2,3,4)
  --repeats N            rounds over all configurations (TL_REPEATS, default 3)
  --configs LIST         kernel,irqbalance,affinityd (TL_CONFIGS, default all three)
  --affinityd-mode M     agent | apply (TL_AFFINITYD_MODE, default agent)
  --sample-ms N          time-series sampling interval (TL_SAMPLE_MS, default 250)
  --sender-cpu N         CPU the iperf3 client is pinned to (TL_SENDER_CPU, default 0)
  --server-cpu N         pin the iperf3 server too (TL_SERVER_CPU, default unpinned)
  --gap-ms N             pause between runs (TL_GAP_MS, default 1000)
  --irqbalance-settle-ms N  irqbalance warm-up before measuring (TL_IRQBALANCE_SETTLE_MS, default 3000)
  --max-attempts N       retries of a run disturbed by CPU hotplug (TL_MAX_ATTEMPTS, default 5)
  --natural-ifindex      let the kernel number the veths (TL_NATURAL_IFINDEX=1; see TRAFFIC.md)
  --out DIR              results directory (TL_OUT, default bench/results)
  --resummarize FILE     re-apply the disturbance checks to a stored result, rewrite it and the plots`;

const FLAGS: Record<string, string> = {
  '--seconds': 'TL_SECONDS',
  '--streams': 'TL_STREAMS',
  '--repeats': 'TL_REPEATS',
  '--configs': 'TL_CONFIGS',
  '--affinityd-mode': 'TL_AFFINITYD_MODE',
  '--sample-ms': 'TL_SAMPLE_MS',
  '--sender-cpu': 'TL_SENDER_CPU',
  '--server-cpu': 'TL_SERVER_CPU',
  '--gap-ms': 'TL_GAP_MS',
  '--irqbalance-settle-ms': 'TL_IRQBALANCE_SETTLE_MS',
  '--max-attempts': 'TL_MAX_ATTEMPTS',
  '--out': 'TL_OUT',
  '--resummarize': 'TL_RESUMMARIZE',
};

export class UsageError extends Error {}

function int(name: string, v: string, min: number, max: number): number {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`${name}: "${v}" is not an integer in ${min}..${max}`);
  return Number(v);
}

export function parseOptions(argv: string[], env: Record<string, string | undefined>): TrafficOptions | 'help' {
  const v: Record<string, string | undefined> = {};
  for (const [flag, name] of Object.entries(FLAGS)) v[flag] = env[name];
  let natural = env.TL_NATURAL_IFINDEX === '1';
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    let value: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) [a, value] = [a.slice(0, eq), a.slice(eq + 1)];
    if (a === '-h' || a === '--help') return 'help';
    if (a === '--natural-ifindex') {
      natural = true;
      continue;
    }
    if (!(a in FLAGS)) throw new UsageError(`unknown option ${a}`);
    value ??= argv[++i];
    if (value === undefined) throw new UsageError(`${a} needs a value`);
    v[a] = value;
  }
  const list = (flag: string, def: string) => (v[flag] ?? def).split(',').map((s) => s.trim()).filter(Boolean);
  const streams = list('--streams', '1,2,3,4').map((s) => int('--streams', s, 1, 128));
  const configs = list('--configs', CONFIGS.join(','));
  for (const c of configs) if (!(CONFIGS as readonly string[]).includes(c)) throw new UsageError(`--configs: unknown configuration "${c}" (one of ${CONFIGS.join(', ')})`);
  const mode = v['--affinityd-mode'] ?? 'agent';
  if (mode !== 'agent' && mode !== 'apply') throw new UsageError(`--affinityd-mode: "${mode}" is not agent or apply`);
  if (!streams.length || !configs.length) throw new UsageError('--streams and --configs need at least one value');
  return {
    seconds: int('--seconds', v['--seconds'] ?? '4', 1, 600),
    streams,
    repeats: int('--repeats', v['--repeats'] ?? '3', 1, 100),
    configs: configs as ConfigName[],
    affinitydMode: mode,
    sampleMs: int('--sample-ms', v['--sample-ms'] ?? '250', 50, 10_000),
    senderCpu: int('--sender-cpu', v['--sender-cpu'] ?? '0', 0, 8191),
    serverCpu: v['--server-cpu'] === undefined || v['--server-cpu'] === '' ? null : int('--server-cpu', v['--server-cpu'], 0, 8191),
    gapMs: int('--gap-ms', v['--gap-ms'] ?? '1000', 0, 60_000),
    irqbalanceSettleMs: int('--irqbalance-settle-ms', v['--irqbalance-settle-ms'] ?? '3000', 0, 120_000),
    maxAttempts: int('--max-attempts', v['--max-attempts'] ?? '5', 1, 20),
    naturalIfindex: natural,
    out: v['--out'] ?? null,
    resummarize: v['--resummarize'] ?? null,
  };
}
