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
//   node dist/bench/gateway.js [--streams 1,2,3] [--configs kernel,irqbalance,affinityd]
//        [--window-s 8] [--settle-s 12] [--no-candidates] [--no-configs]

import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Guest } from '../lab/guest.js';
import { LabAgent, clockOffset, q, CLI } from '../lab/affinityd.js';
import { projectRoot } from '../lab/step.js';
import { GATEWAY_ONLINER, GATEWAY_SAMPLER, parseSamples, series, summarizePhase, timeToSpread, type GwSample, type PhaseSummary, type SeriesPoint } from './lib/gateway.js';
import { gatewayPlots } from './lib/gateway-plots.js';

type Config = 'kernel' | 'irqbalance' | 'affinityd';

const SRC_ADDR = '10.218.1.1';
const GW_A = '10.218.1.2';
const GW_B = '10.218.2.2';
const DST_ADDR = '10.218.2.1';
/** Cap of every run's sampler and iperf3 client (s): nothing outlives a run by more. */
const RUN_CAP_S = 300;
/** "Spread": the hottest CPU does at most this share of network processing over ~1 s. */
const SPREAD_LIMIT = 2 / 3;
/** The issue's target: 1.2 × the fair share on 3 vCPUs. */
const FAIR_LIMIT = 0.4;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}
const flag = (name: string) => process.argv.includes(`--${name}`);
const T0 = Date.now();
const log = (s: string) => console.error(`bench:gateway: +${((Date.now() - T0) / 1000).toFixed(0)}s ${s}`);
const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ');

function must(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout || `exit ${r.status}`).trim()}`);
  return r.stdout;
}

let nsCounter = 0;

/** What a run started on the host, killed and removed synchronously if the bench exits early. */
const liveProcs = new Set<ChildProcess>();
const liveNs = new Set<string>();
process.once('exit', () => {
  for (const p of liveProcs) p.kill('SIGKILL');
  for (const ns of liveNs) spawnSync('ip', ['netns', 'del', ns]);
});
// Turn a signal into an exit, so the handler above (and lab/guest's) runs.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

/** A guest wired as the gateway, with the receiver namespace around its e1000 tap. */
class Gateway {
  readonly procs: ChildProcess[] = [];
  wan = '';
  lan = '';
  irqs: { irq: number; name: string }[] = [];
  offsetMs = 0;

  private constructor(
    readonly guest: Guest,
    readonly dstNs: string,
  ) {}

  static async boot(name: string, virtioQueues = 1): Promise<Gateway> {
    log(`boot ${name} (load ${loadavg()})`);
    const guest = await Guest.boot({ name, memoryMb: 768, cpus: { boot: 1, sockets: 3 }, nics: [{ id: 'gw18', model: 'virtio', queues: virtioQueues }, { id: 'gw19', model: 'e1000' }] });
    const dstNs = `afflab-gwdst-${process.pid}-${nsCounter++}`;
    const gw = new Gateway(guest, dstNs);
    try {
      must('ip', ['netns', 'add', dstNs]);
      liveNs.add(dstNs);
      must('ip', ['-n', guest.netns, 'link', 'set', 'lab-gw19', 'netns', dstNs]);
      must('ip', ['-n', guest.netns, 'addr', 'add', `${SRC_ADDR}/24`, 'dev', 'lab-gw18']);
      must('ip', ['-n', guest.netns, 'link', 'set', 'lab-gw18', 'up']);
      must('ip', ['-n', guest.netns, 'route', 'add', '10.218.2.0/24', 'via', GW_A]);
      must('ip', ['-n', dstNs, 'addr', 'add', `${DST_ADDR}/24`, 'dev', 'lab-gw19']);
      must('ip', ['-n', dstNs, 'link', 'set', 'lab-gw19', 'up']);
      must('ip', ['-n', dstNs, 'link', 'set', 'lo', 'up']);
      must('ip', ['-n', dstNs, 'route', 'add', '10.218.1.0/24', 'via', GW_B]);
      gw.wan = await guest.ifname('gw18');
      gw.lan = await guest.ifname('gw19');
      await guest.sh(
        [
          `ip addr add ${GW_A}/24 dev ${gw.wan}`,
          `ip addr add ${GW_B}/24 dev ${gw.lan}`,
          `ip link set ${gw.wan} up`,
          `ip link set ${gw.lan} up`,
          'echo 1 > /proc/sys/net/ipv4/ip_forward',
        ].join(' && '),
        30_000,
        'configure forwarding',
      );
      // The NIC IRQs: the virtio-net's MSI-X vectors and the e1000's INTx line (its action
      // is named after the interface).
      const irqText = await guest.sh(`v=$(basename $(readlink -f /sys/class/net/${gw.wan}/device)); grep -E " ($v-(input|output)\\.[0-9]+|${gw.lan})\\$" /proc/interrupts; true`);
      gw.irqs = irqText
        .split('\n')
        .map((l) => l.match(/^\s*(\d+):.*\s(\S+)$/))
        .filter((m): m is RegExpMatchArray => m !== null)
        .map((m) => ({ irq: Number(m[1]), name: m[2]! }));
      // Forwarding works both ways before any measurement (the sender's ARP and route).
      // The receiver listens from here on; a TCP connect through the guest proves forwarding
      // both ways (no ping on a minimal host). The e1000's link comes up a few seconds after
      // `ip link set up` under TCG: retry, bounded.
      const server = spawn('ip', ['netns', 'exec', dstNs, 'iperf3', '-s', '-B', DST_ADDR], { stdio: 'ignore' });
      gw.procs.push(server);
      liveProcs.add(server);
      let ok = false;
      for (let i = 0; i < 20 && !ok; i++) {
        await sleep(1000);
        ok = spawnSync('ip', ['netns', 'exec', guest.netns, 'timeout', '5', 'bash', '-c', `exec 3<>/dev/tcp/${DST_ADDR}/5201`], { timeout: 20_000 }).status === 0;
      }
      if (!ok) {
        const g = (await guest.run('ip -br addr; ip route; cat /proc/sys/net/ipv4/ip_forward; ip -s -br link', 30_000)).out;
        const h = spawnSync('sh', ['-c', `ip -n ${guest.netns} -br -s link; ip -n ${dstNs} -br -s link; ip -n ${guest.netns} neigh; ip -n ${dstNs} neigh`], { encoding: 'utf8' }).stdout;
        throw new Error(`no TCP connection through the gateway | guest: ${g.replace(/\s+/g, ' ')} | host: ${h.replace(/\s+/g, ' ')}`);
      }
      await sleep(500);
      gw.offsetMs = (await clockOffset(guest)).offsetMs;
      log(`${name} forwarding ok`);
      return gw;
    } catch (e) {
      await gw.stop();
      throw e;
    }
  }

  /** The guest's clock for a host Date.now(). */
  guestTime(hostMs: number): number {
    return hostMs + this.offsetMs;
  }

  rxBytes(): number {
    return Number(must('ip', ['netns', 'exec', this.dstNs, 'cat', '/sys/class/net/lab-gw19/statistics/rx_bytes']).trim());
  }

  /** Starts the guest's sampler (250 ms) and the onliner of hot-added vCPUs, both bounded. */
  async startSampling(): Promise<void> {
    const irqs = this.irqs.map((i) => i.irq).join(' ');
    await this.guest.sh(
      [
        'rm -f /tmp/gw.stop',
        `printf '%s' ${q(GATEWAY_SAMPLER)} > /tmp/gw-sampler.pl`,
        `setsid perl /tmp/gw-sampler.pl 250 ${(RUN_CAP_S * 4).toString()} ${irqs} > /tmp/gw.samples 2>/tmp/gw-sampler.err < /dev/null &`,
        // The onliner: CPUs found offline are onlined at once (cap RUN_CAP_S).
        `printf '%s' ${q(GATEWAY_ONLINER)} > /tmp/gw-onliner.pl`,
        `setsid perl /tmp/gw-onliner.pl ${RUN_CAP_S * 20} > /tmp/gw.onlined 2>/tmp/gw-onliner.err < /dev/null &`,
        'true',
      ].join('\n'),
      30_000,
      'start the sampler',
    );
  }

  async startTraffic(streams: number): Promise<void> {
    const client = spawn('ip', ['netns', 'exec', this.guest.netns, 'iperf3', '-c', DST_ADDR, '-P', String(streams), '-t', String(RUN_CAP_S)], { stdio: 'ignore' });
    this.procs.push(client);
    liveProcs.add(client);
  }

  /** Hot-adds `n` vCPUs over QMP back to back (as the user did); resolves at the last device_add. */
  async hotAddCpus(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const slots = await this.guest.qmp.execute<{ type: string; props: Record<string, number>; 'qom-path'?: string }[]>('query-hotpluggable-cpus');
      const free = slots.filter((s) => !s['qom-path']).sort((a, b) => (a.props['socket-id'] ?? 0) - (b.props['socket-id'] ?? 0));
      const slot = free[0];
      if (!slot) throw new Error('no free vCPU slot');
      await this.guest.qmp.execute('device_add', { driver: slot.type, id: `gw-cpu-${slot.props['socket-id'] ?? 0}`, ...slot.props });
    }
  }

  async waitOnline(list: string, capS: number): Promise<boolean> {
    const r = await this.guest.run(`i=0; until [ "$(cat /sys/devices/system/cpu/online)" = ${list} ]; do i=$((i+1)); [ $i -ge ${capS * 10} ] && exit 1; sleep 0.1; done`, (capS + 60) * 1000, 'wait for the vCPUs online');
    return r.code === 0;
  }

  async samples(): Promise<GwSample[]> {
    await this.guest.run('touch /tmp/gw.stop; sleep 0.5', 30_000);
    return parseSamples(await this.guest.sh('cat /tmp/gw.samples', 60_000, 'read the samples'));
  }

  async onlinedAt(): Promise<number[]> {
    const t = await this.guest.sh('cat /tmp/gw.onlined 2>/dev/null; true');
    return t.split('\n').filter(Boolean).map((l) => Number(l.split(' ')[0]));
  }

  async stop(): Promise<void> {
    for (const p of this.procs) {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      liveProcs.delete(p);
    }
    await this.guest.stop();
    spawnSync('ip', ['netns', 'del', this.dstNs]);
    liveNs.delete(this.dstNs);
  }
}

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
  agent?: { firstAppliedS: number | null; firstPassS: number | null; applied: { atS: number; target: string; new: string }[]; passes: { atS: number; trigger: string }[] };
  series: SeriesPoint[];
}

async function startTool(gw: Gateway, config: Config): Promise<LabAgent | undefined> {
  if (config === 'affinityd') {
    const a = new LabAgent(gw.guest);
    await a.writePolicy('');
    await a.start(180_000);
    return a;
  }
  if (config === 'irqbalance') {
    await gw.guest.sh('setsid irqbalance --foreground > /tmp/irqbalance.out 2>&1 < /dev/null & echo $! > /tmp/irqbalance.pid');
  }
  return undefined;
}

async function window(gw: Gateway, seconds: number): Promise<{ from: number; to: number; mbps: number }> {
  const b0 = gw.rxBytes();
  const from = Date.now();
  await sleep(seconds * 1000);
  const to = Date.now();
  const b1 = gw.rxBytes();
  return { from: gw.guestTime(from), to: gw.guestTime(to), mbps: ((b1 - b0) * 8) / ((to - from) / 1000) / 1e6 };
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
      agentInfo = { firstAppliedS: applied[0]?.atS ?? null, firstPassS: passes[0]?.atS ?? null, applied, passes };
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

/** Single-queue candidates; the virtio IRQ stays on cpu0 (kernel default after hotplug: its mask is cpu0). */
const CANDIDATES: Candidate[] = [
  { name: 'kernel defaults', script: () => 'true' },
  { name: 'RPS 7 (all CPUs; affinityd today)', script: rps('7') },
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

function candidateTable(rows: CandidateRow[]): string {
  const lines = ['| steering (3 vCPUs, 3 streams) | hottest share of network time | per-CPU softirq+napi, % of own time | NET_RX per CPU | Mbit/s |', '| --- | --- | --- | --- | --- |'];
  for (const r of rows) {
    const s = r.summary;
    lines.push(
      `| ${r.name} | ${pct(s?.hottest?.share)} (cpu${s?.hottest?.cpu ?? '?'}) | ${s ? s.perCpu.map((c) => `${Math.round(c.netPct)}`).join(' / ') : '–'} | ${s ? s.perCpu.map((c) => c.netRx).join(' / ') : '–'} | ${r.goodputMbps.toFixed(0)} |`,
    );
  }
  return lines.join('\n');
}

function runTable(runs: Run[]): string {
  const lines = [
    '| configuration | streams | hottest share, 1 vCPU | hottest share, 3 vCPUs | per-CPU softirq+napi after, % | Mbit/s before → after | hot-add → spread (≤ 67 %) | → ≤ 40 % | agent: hot-add → first write | loadavg |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of runs) {
    lines.push(
      `| ${r.config} | ${r.streams} | ${pct(r.before?.hottest?.share)} | ${pct(r.after?.hottest?.share)} | ${r.after ? r.after.perCpu.map((c) => Math.round(c.netPct)).join(' / ') : '–'} | ${r.goodputBeforeMbps.toFixed(0)} → ${r.goodputAfterMbps.toFixed(0)} | ${r.spreadS === null ? 'never' : `${r.spreadS.toFixed(1)} s`} | ${r.fairS === null ? 'never' : `${r.fairS.toFixed(1)} s`} | ${r.agent ? (r.agent.firstAppliedS === null ? 'none' : `${r.agent.firstAppliedS.toFixed(1)} s`) : '–'} | ${r.loadavgStart} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const streamsList = arg('streams', '1,2,3').split(',').map(Number);
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
      runTable: runTable(runs),
      candidateTable: candidateTable(cand.single),
      multiQueueTable: candidateTable(cand.multi),
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
    if (i === 0 && configs.includes('affinityd') && !flag('no-configs')) {
      await attempt('affinityd without traffic', async () => {
        const r = await runOne('affinityd', 0, windowS, settleS);
        log(`affinityd without traffic: agent ${r.agent?.firstAppliedS ?? '-'} s`);
        runs.push(r);
      });
    }
    if (i === 0 && !flag('no-candidates')) await candidates(windowS, streams, cand, attempt);
  }
  const out = await save();
  console.log(out.runTable);
  console.log(`\n${out.candidateTable}\n\n${out.multiQueueTable}`);
  if (failures.length > 0) console.log(`\nfailed: ${failures.join('\n')}`);
}

main().catch((e: Error) => {
  console.error(`bench:gateway: ${e.message}`);
  process.exit(1);
});

export type { Run as GatewayRun };
