// bench/gateway — `npm run bench:gateway`: the user's NAT64/CLAT gateway, replayed in a guest-lab
// guest (lab/). One vCPU at boot (room for 3), a single-queue virtio-net (the seed's ens18)
// and an e1000 on a legacy INTx line (ens19), IPv4 forwarding between them. iperf3 runs from
// a sender in the guest's network namespace (the virtio tap's side) to a receiver in a second
// namespace this bench creates (the e1000's tap is moved there): every packet is forwarded by
// the guest, nothing leaves those namespaces.
//
// Per configuration (kernel defaults, irqbalance, affinityd's agent with the shipped policy)
// and stream count: measure with 1 vCPU, hot-add 2 vCPUs over QMP while traffic flows,
// measure again. The bench onlines hot-added vCPUs itself, for all three configurations
// alike (a guest without udev would otherwise leave them offline), from a loop in the guest
// that polls every 50 ms, as a distribution's udev rule would.
//
// Then the candidates of issue 12 (RPS with/without the IRQ's CPU, threaded NAPI with its
// thread placed, GRO off, RFS) by hand in one 3-vCPU guest, and a 3-queue virtio-net.
//
// A benchmark, not a test: JSON on stdout, a copy and the plots in bench/results/gateway/.
//
//   node dist/bench/gateway.js [--streams 3,2,1] [--configs kernel,irqbalance,affinityd]
//        [--window-s 8] [--settle-s 12] [--no-candidates] [--no-configs] [--no-idle-run]
//        [--agent-nice N (default: the shipped unit's Nice=)] [--rounds 4 (repeated candidates)]
//   node dist/bench/gateway.js --replot RESULT.json [RESULT.json …]   (plots from stored runs)

import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { LabAgent, CLI } from '../lab/affinityd.js';
import { Gateway, window, log, loadavg } from './lib/gateway-guest.js';
import { projectRoot } from '../lab/step.js';
import { series, summarizePhase, timeToSpread, type PhaseSummary, type SeriesPoint } from './lib/gateway.js';
import { gatewayPlots } from './lib/gateway-plots.js';

const CONFIGS = ['kernel', 'irqbalance', 'affinityd'] as const;
type Config = (typeof CONFIGS)[number];

/** "Spread": the hottest CPU does at most this share of network processing over ~1 s. */
const SPREAD_LIMIT = 2 / 3;
/** The issue's target: 1.2 × the fair share on 3 vCPUs. */
const FAIR_LIMIT = 0.4;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

interface Run {
  config: Config;
  streams: number;
  loadavgStart: string;
  loadavgEnd: string;
  irqs: { irq: number; name: string }[];
  /** Seconds from the start of sampling. */
  hotAddAtS: number;
  onlineAtS: number[];
  before: PhaseSummary | null;
  after: PhaseSummary | null;
  goodputBeforeMbps: number;
  goodputAfterMbps: number;
  /** Hot-add (first device_add) → end of the first ~1 s window with hottest share ≤ 2/3. */
  spreadS: number | null;
  /** … ≤ 40 % (1.2 × fair share on 3 vCPUs). */
  fairS: number | null;
  /** affinityd only: hot-add → the agent's first RPS/IRQ write after it, and → plan-summary. */
  agent?: {
    firstAppliedS: number | null;
    /** Hot-add → the agent's last write (the masks on plan: it writes nothing after that). */
    lastAppliedS: number | null;
    firstPassS: number | null;
    applied: { atS: number; target: string; new: string }[];
    passes: { atS: number; trigger: string }[];
  };
  series: SeriesPoint[];
}

async function startTool(gw: Gateway, config: Config): Promise<LabAgent | undefined> {
  if (config === 'affinityd') {
    const a = new LabAgent(gw.guest);
    await a.writePolicy('');
    // As the shipped unit runs it (its Nice=), unless --agent-nice says otherwise.
    const nice = arg('agent-nice', '');
    await a.start(180_000, nice === '' ? {} : { nice: Number(nice) });
    return a;
  }
  if (config === 'irqbalance') {
    await gw.guest.sh('setsid irqbalance --foreground > /tmp/irqbalance.out 2>&1 < /dev/null & echo $! > /tmp/irqbalance.pid');
  }
  return undefined;
}


async function runOne(config: Config, streams: number, windowS: number, settleS: number): Promise<Run> {
  const loadavgStart = loadavg();
  const gw = await Gateway.boot(`gw-${config}-${streams}`);
  try {
    const agent = await startTool(gw, config);
    await gw.startSampling();
    const t0 = gw.guestTime(Date.now());
    // streams = 0: no traffic at all (the agent's no-load reaction, for comparison).
    if (streams > 0) await gw.startTraffic(streams);
    await sleep(3000);
    const w1 = await window(gw, windowS);
    const addHost = Date.now();
    await gw.hotAddCpus(2);
    const addAt = gw.guestTime(addHost);
    const online = await gw.waitOnline('0-2', 120);
    if (!online) log(`${config} P=${streams}: vCPUs not online within 120 s`);
    await sleep(settleS * 1000);
    const w2 = await window(gw, windowS);
    const samples = await gw.samples();
    const onlined = await gw.onlinedAt();
    let agentInfo: Run['agent'];
    if (agent) {
      const recs = await agent.records();
      const at = (r: { time: string }) => (Date.parse(r.time) - addAt) / 1000;
      const applied = recs.filter((r) => r.kind === 'applied' && Date.parse(r.time) >= addAt - 50).map((r) => ({ atS: at(r), target: String(r.target ?? ''), new: String(r.new ?? '') }));
      const passes = recs.filter((r) => r.kind === 'plan-summary' && Date.parse(r.time) >= addAt - 50).map((r) => ({ atS: at(r), trigger: String(r.trigger ?? '') }));
      agentInfo = { firstAppliedS: applied[0]?.atS ?? null, lastAppliedS: applied.at(-1)?.atS ?? null, firstPassS: passes[0]?.atS ?? null, applied, passes };
      await agent.stop();
    }
    return {
      config,
      streams,
      loadavgStart,
      loadavgEnd: loadavg(),
      irqs: gw.irqs,
      hotAddAtS: (addAt - t0) / 1000,
      onlineAtS: onlined.map((t) => (t - addAt) / 1000),
      before: summarizePhase(samples, w1.from, w1.to, t0),
      after: summarizePhase(samples, w2.from, w2.to, t0),
      goodputBeforeMbps: w1.mbps,
      goodputAfterMbps: w2.mbps,
      spreadS: timeToSpread(samples, addAt, SPREAD_LIMIT),
      fairS: timeToSpread(samples, addAt, FAIR_LIMIT),
      ...(agentInfo ? { agent: agentInfo } : {}),
      series: series(samples, t0),
    };
  } finally {
    await gw.stop();
  }
}

interface Candidate {
  name: string;
  /** Guest shell that sets the steering (from kernel defaults: the previous one is undone first). */
  script: (wan: string, lan: string) => string;
}

const rps = (mask: string) => (wan: string, lan: string) => `echo ${mask} > /sys/class/net/${wan}/queues/rx-0/rps_cpus; echo ${mask} > /sys/class/net/${lan}/queues/rx-0/rps_cpus`;
const threaded = (cpu: number) => (wan: string) => `echo 1 > /sys/class/net/${wan}/threaded; sleep 0.5; for p in $(pgrep '^napi/${wan}'); do taskset -pc ${cpu} $p >/dev/null; done`;

/** Single-queue candidates with the kernel's IRQ placement: after the hotplug both NICs' interrupts stay on cpu0. */
const CANDIDATES: Candidate[] = [
  { name: 'kernel defaults', script: () => 'true' },
  { name: 'RPS 7 (all CPUs)', script: rps('7') },
  { name: 'RPS 6 (without the IRQ CPU)', script: rps('6') },
  { name: 'RFS + RPS 7', script: (w, l) => `${rps('7')(w, l)}; echo 32768 > /proc/sys/net/core/rps_sock_flow_entries; echo 2048 > /sys/class/net/${w}/queues/rx-0/rps_flow_cnt; echo 2048 > /sys/class/net/${l}/queues/rx-0/rps_flow_cnt` },
  { name: 'threaded NAPI on cpu1, RPS off', script: (w) => threaded(1)(w) },
  { name: 'threaded NAPI on cpu1, RPS 5 (cpu0+2)', script: (w, l) => `${threaded(1)(w)}; ${rps('5')(w, l)}` },
  { name: 'threaded NAPI on cpu1, RPS 4 (cpu2)', script: (w, l) => `${threaded(1)(w)}; ${rps('4')(w, l)}` },
  { name: 'GRO off, RPS 7', script: (w, l) => `ethtool -K ${w} gro off; ethtool -K ${l} gro off; ${rps('7')(w, l)}` },
  { name: 'GRO off, threaded NAPI on cpu1, RPS 5', script: (w, l) => `ethtool -K ${w} gro off; ethtool -K ${l} gro off; ${threaded(1)(w)}; ${rps('5')(w, l)}` },
];

const RESET = (w: string, l: string) =>
  [
    rps('0')(w, l),
    `echo 0 > /sys/class/net/${w}/threaded`,
    `echo 0 > /proc/sys/net/core/rps_sock_flow_entries`,
    `echo 0 > /sys/class/net/${w}/queues/rx-0/rps_flow_cnt; echo 0 > /sys/class/net/${l}/queues/rx-0/rps_flow_cnt`,
    `ethtool -K ${w} gro on; ethtool -K ${l} gro on`,
    'true',
  ].join('; ');

interface CandidateRow {
  name: string;
  loadavg: string;
  summary: PhaseSummary | null;
  goodputMbps: number;
  napiThreadCpu?: string;
}

async function candidates(
  windowS: number,
  streams: number,
  rounds: number,
  into: { single: CandidateRow[]; multi: CandidateRow[]; irqs: { irq: number; name: string }[] },
  attempt: (what: string, fn: () => Promise<void>) => Promise<void>,
): Promise<void> {
  const { single, multi } = into;
  for (const queues of [1, 3]) await attempt(`candidates, ${queues}-queue virtio-net`, async () => {
    const gw = await Gateway.boot(`gw-cand-q${queues}`, queues);
    try {
      await gw.startSampling();
      const t0 = gw.guestTime(Date.now());
      await gw.hotAddCpus(2);
      if (!(await gw.waitOnline('0-2', 120))) throw new Error('vCPUs not online within 120 s');
      await gw.startTraffic(streams);
      await sleep(3000);
      const windows: { name: string; from: number; to: number; mbps: number; la: string; napi?: string }[] = [];
      if (queues === 1) {
        into.irqs = gw.irqs;
        for (const c of CANDIDATES) {
          await gw.guest.sh(`${RESET(gw.wan, gw.lan)}; ${c.script(gw.wan, gw.lan)}`, 60_000, `set ${c.name}`);
          await sleep(2000);
          const w = await window(gw, windowS);
          const napi = (await gw.guest.sh(`for p in $(pgrep '^napi/'); do echo "$(cat /proc/$p/comm)=$(taskset -pc $p | sed 's/.*: //')"; done; true`)).trim().replace(/\n/g, ' ');
          windows.push({ name: c.name, ...w, la: loadavg(), ...(napi ? { napi } : {}) });
          log(`candidate ${c.name}: ${w.mbps.toFixed(0)} Mbit/s`);
        }
        // The same guest with affinityd's IRQ placement (virtio-net and e1000 on their own
        // CPUs): its RPS masks, without each queue's interrupt CPU, against RPS over all CPUs
        // (the policy before), alternating, `rounds` times each, each window with new
        // connections: with 3 flows the RPS hash of each decides a lot, so one window (or
        // several over the same connections, as the single windows above) proves little.
        await gw.guest.sh(`${RESET(gw.wan, gw.lan)}; : > /tmp/gw-empty.ini && node ${CLI} apply --config /tmp/gw-empty.ini > /tmp/gw-apply.out 2>&1`, 180_000, 'affinityd apply');
        const rpsFile = (i: string) => `/sys/class/net/${i}/queues/rx-0/rps_cpus`;
        const [wanMask, lanMask] = (await gw.guest.sh(`cat ${rpsFile(gw.wan)} ${rpsFile(gw.lan)}`)).trim().split('\n').map((m) => m.trim());
        const irqCpus = (await gw.guest.sh(`for i in ${gw.irqs.map((i) => i.irq).join(' ')}; do echo "$i=$(cat /proc/irq/$i/smp_affinity_list)"; done`)).trim().replace(/\n/g, ' ');
        const variants: [string, string][] = [
          [`affinityd (IRQs ${irqCpus}), RPS without the queue's IRQ CPU (${wanMask} / ${lanMask})`, `echo ${wanMask} > ${rpsFile(gw.wan)}; echo ${lanMask} > ${rpsFile(gw.lan)}`],
          [`affinityd (IRQs ${irqCpus}), RPS 7 (all CPUs, the policy before)`, rps('7')(gw.wan, gw.lan)],
        ];
        for (let round = 1; round <= rounds; round++) {
          for (const [name, script] of variants) {
            await gw.guest.sh(script, 60_000, `set ${name}`);
            // Fresh connections for every window: each is a new draw of the flows' hashes.
            await gw.restartTraffic(streams);
            await sleep(3000);
            const w = await window(gw, windowS);
            windows.push({ name, ...w, la: loadavg() });
            log(`candidate ${name} round ${round}: ${w.mbps.toFixed(0)} Mbit/s`);
          }
        }
      } else {
        // The host-side fix: the driver enabled one pair at probe (1 vCPU), so enable 3 now.
        await gw.guest.sh(`ethtool -L ${gw.wan} combined 3`, 60_000, 'enable 3 queue pairs');
        await sleep(2000);
        const w0 = await window(gw, windowS);
        windows.push({ name: '3-queue virtio-net, kernel defaults', ...w0, la: loadavg() });
        // An empty policy file is the shipped policy (a device such as /dev/null is refused).
        await gw.guest.sh(`: > /tmp/gw-empty.ini && node ${CLI} apply --config /tmp/gw-empty.ini > /tmp/gw-apply.out 2>&1`, 180_000, 'affinityd apply');
        await sleep(2000);
        const w1 = await window(gw, windowS);
        windows.push({ name: '3-queue virtio-net, affinityd apply (shipped policy)', ...w1, la: loadavg() });
      }
      const samples = await gw.samples();
      for (const w of windows) {
        (queues === 1 ? single : multi).push({ name: w.name, loadavg: w.la, summary: summarizePhase(samples, w.from, w.to, t0), goodputMbps: w.mbps, ...(w.napi ? { napiThreadCpu: w.napi } : {}) });
      }
    } finally {
      await gw.stop();
    }
  });
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${Math.round(x * 100)} %`);

/** Candidates measured more than once: mean hottest share (min–max) and goodput per name. */
function repeatedTable(rows: CandidateRow[], streams: number): string {
  const byName = new Map<string, CandidateRow[]>();
  for (const r of rows) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  const lines = [`| steering (3 vCPUs, ${streams} streams), repeated | windows | hottest share, mean (min–max) | Mbit/s, mean |`, '| --- | --- | --- | --- |'];
  for (const [name, rs] of byName) {
    if (rs.length < 2) continue;
    const shares = rs.map((r) => r.summary?.hottest?.share).filter((x): x is number => typeof x === 'number');
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    lines.push(`| ${name} | ${rs.length} | ${shares.length ? `${pct(mean(shares))} (${pct(Math.min(...shares))}–${pct(Math.max(...shares))})` : '–'} | ${mean(rs.map((r) => r.goodputMbps)).toFixed(0)} |`);
  }
  return lines.join('\n');
}

function candidateTable(rows: CandidateRow[], streams: number): string {
  const lines = [`| steering (3 vCPUs, ${streams} streams) | hottest share of network time | per-CPU softirq+napi, % of own time | NET_RX per CPU | Mbit/s |`, '| --- | --- | --- | --- | --- |'];
  for (const r of rows) {
    const s = r.summary;
    lines.push(
      `| ${r.name} | ${pct(s?.hottest?.share)} (cpu${s?.hottest?.cpu ?? '?'}) | ${s ? s.perCpu.map((c) => `${Math.round(c.netPct)}`).join(' / ') : '–'} | ${s ? s.perCpu.map((c) => c.netRx).join(' / ') : '–'} | ${r.goodputMbps.toFixed(0)} |`,
    );
  }
  return lines.join('\n');
}

function agentCells(r: Run): string {
  const a = r.agent;
  if (!a) return '– | –';
  if (a.firstAppliedS === null || a.lastAppliedS === null) return 'no write | –';
  const lastOnline = r.onlineAtS.length ? Math.max(...r.onlineAtS) : null;
  return `${a.firstAppliedS.toFixed(1)} / ${a.lastAppliedS.toFixed(1)} s | ${lastOnline === null ? '–' : `${(a.lastAppliedS - lastOnline).toFixed(1)} s`}`;
}

function runTable(runs: Run[]): string {
  const lines = [
    '| configuration | streams | hottest share, 1 vCPU | hottest share, 3 vCPUs | per-CPU softirq+napi after, % | Mbit/s before → after | vCPUs online (s after hot-add) | hot-add → spread (≤ 67 %) | → ≤ 40 % | agent: hot-add → first / last write | agent: last online → last write | loadavg |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of runs) {
    lines.push(
      `| ${r.config} | ${r.streams} | ${pct(r.before?.hottest?.share)} | ${pct(r.after?.hottest?.share)} | ${r.after ? r.after.perCpu.map((c) => Math.round(c.netPct)).join(' / ') : '–'} | ${r.goodputBeforeMbps.toFixed(0)} → ${r.goodputAfterMbps.toFixed(0)} | ${r.onlineAtS.map((t) => t.toFixed(1)).join(', ')} | ${r.spreadS === null ? 'never' : `${r.spreadS.toFixed(1)} s`} | ${r.fairS === null ? 'never' : `${r.fairS.toFixed(1)} s`} | ${agentCells(r)} | ${r.loadavgStart} |`,
    );
  }
  return lines.join('\n');
}

/**
 * `--replot A.json B.json …`: redraw the plots from stored results, e.g. a full run and a
 * re-run of one configuration that failed in it (for each configuration and stream count the
 * last file's run wins). Nothing is measured.
 */
async function replot(files: string[], dir: string): Promise<void> {
  const byKey = new Map<string, Run>();
  for (const f of files) {
    for (const r of (JSON.parse(fs.readFileSync(f, 'utf8')) as { runs: Run[] }).runs) byKey.set(`${r.config}/${r.streams}`, r);
  }
  const runs = [...byKey.values()].filter((r) => r.streams > 0);
  for (const [name, data] of Object.entries(await gatewayPlots(runs))) fs.writeFileSync(path.join(dir, name), data);
  console.log(runTable([...byKey.values()].sort((a, b) => CONFIGS.indexOf(a.config) - CONFIGS.indexOf(b.config) || b.streams - a.streams)));
}

async function main(): Promise<void> {
  const replotAt = process.argv.indexOf('--replot');
  if (replotAt >= 0) {
    const dir = path.join(projectRoot(), 'bench', 'results', 'gateway');
    return replot(process.argv.slice(replotAt + 1), dir);
  }
  // The most streams first: the headline figures (and the candidates, measured at that count)
  // come first when the machine's time is short.
  const streamsList = arg('streams', '3,2,1').split(',').map(Number).sort((a, b) => b - a);
  const candStreams = streamsList[0]!;
  const configs = arg('configs', 'kernel,irqbalance,affinityd').split(',') as Config[];
  const windowS = Number(arg('window-s', '8'));
  const settleS = Number(arg('settle-s', '12'));
  for (const tool of ['iperf3', 'irqbalance', 'ethtool', 'perl']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      console.error(`bench:gateway: ${tool} is not installed on the host (the guest runs the host's binaries): apt-get install --no-install-recommends iperf3 irqbalance ethtool`);
      process.exit(1);
    }
  }
  const date = new Date().toISOString();
  const dir = path.join(projectRoot(), 'bench', 'results', 'gateway');
  fs.mkdirSync(dir, { recursive: true });
  const runs: Run[] = [];
  const failures: string[] = [];
  const cand: { single: CandidateRow[]; multi: CandidateRow[]; irqs: { irq: number; name: string }[] } = { single: [], multi: [], irqs: [] };
  // Everything measured so far is written after every step: a run that fails or a bench cut
  // short still leaves its figures and plots.
  const save = async () => {
    const out = {
      bench: 'gateway',
      date,
      caveat: 'QEMU TCG guest on a shared 2-core host (loadavg recorded per run); guest /proc/stat ticks are coarse, NET_RX counts beside them',
      onlining: 'the bench onlines hot-added vCPUs for every configuration alike (a polling loop in the guest, 50 ms)',
      spreadLimit: SPREAD_LIMIT,
      fairLimit: FAIR_LIMIT,
      runTable: runTable([...runs].sort((a, b) => CONFIGS.indexOf(a.config) - CONFIGS.indexOf(b.config) || b.streams - a.streams)),
      candidateStreams: candStreams,
      candidateTable: candidateTable(cand.single, candStreams),
      repeatedTable: repeatedTable(cand.single, candStreams),
      multiQueueTable: candidateTable(cand.multi, candStreams),
      failures,
      runs,
      candidates: cand,
    };
    const text = JSON.stringify(out, null, 2);
    fs.writeFileSync(path.join(dir, `gateway-${date.replace(/[:.]/g, '-')}.json`), text + '\n');
    fs.writeFileSync(path.join(dir, 'latest.json'), text + '\n');
    if (runs.some((r) => r.streams > 0)) {
      for (const [name, svg] of Object.entries(await gatewayPlots(runs.filter((r) => r.streams > 0)))) fs.writeFileSync(path.join(dir, name), svg);
    }
    return out;
  };
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      failures.push(`${what}: ${(e as Error).message}`);
      log(`FAILED ${what}: ${(e as Error).message}`);
    }
    await save();
  };
  // The first stream count's configurations, then the candidates, then the other counts:
  // the headline figures first when the machine's time is short.
  for (const [i, streams] of streamsList.entries()) {
    for (const config of flag('no-configs') ? [] : configs) {
      await attempt(`${config} P=${streams}`, async () => {
        const r = await runOne(config, streams, windowS, settleS);
        log(`${config} P=${streams}: share ${pct(r.before?.hottest?.share)} -> ${pct(r.after?.hottest?.share)}, spread ${r.spreadS} s, agent ${r.agent?.firstAppliedS ?? '-'} s, ${r.goodputAfterMbps.toFixed(0)} Mbit/s, load ${r.loadavgStart}`);
        runs.push(r);
      });
    }
    if (i === 0 && configs.includes('affinityd') && !flag('no-configs') && !flag('no-idle-run')) {
      await attempt('affinityd without traffic', async () => {
        const r = await runOne('affinityd', 0, windowS, settleS);
        log(`affinityd without traffic: agent ${r.agent?.firstAppliedS ?? '-'} s`);
        runs.push(r);
      });
    }
    if (i === 0 && !flag('no-candidates')) await candidates(windowS, streams, Number(arg('rounds', '4')), cand, attempt);
  }
  const out = await save();
  console.log(out.runTable);
  console.log(`\n${out.candidateTable}\n\n${out.repeatedTable}\n\n${out.multiQueueTable}`);
  if (failures.length > 0) console.log(`\nfailed: ${failures.join('\n')}`);
}

main().catch((e: Error) => {
  console.error(`bench:gateway: ${e.message}`);
  process.exit(1);
});

export type { Run as GatewayRun };
