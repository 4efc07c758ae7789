// bench/lib/gateway-guest — the gateway guest of `npm run bench:gateway` (see bench/gateway.ts):
// a lab guest with a single-queue (or N-queue) virtio-net and an e1000, IPv4 forwarding between
// them, a sender in the guest's namespace and a receiver namespace around the e1000's tap. Kept
// apart from the bench's run loop so that diagnostics can drive the same guest.

import * as fs from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Guest } from '../../lab/guest.js';
import { clockOffset, q } from '../../lab/affinityd.js';
import { GATEWAY_ONLINER, GATEWAY_SAMPLER, parseSamples, type GwSample } from './gateway.js';

export const SRC_ADDR = '10.218.1.1';
export const GW_A = '10.218.1.2';
export const GW_B = '10.218.2.2';
export const DST_ADDR = '10.218.2.1';
/** Cap of every run's sampler and iperf3 client (s): nothing outlives a run by more. */
export const RUN_CAP_S = 300;
const T0 = Date.now();
export const log = (s: string) => console.error(`bench:gateway: +${((Date.now() - T0) / 1000).toFixed(0)}s ${s}`);
export const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ');

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
export class Gateway {
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

  private client: ChildProcess | null = null;

  async startTraffic(streams: number): Promise<void> {
    const client = spawn('ip', ['netns', 'exec', this.guest.netns, 'iperf3', '-c', DST_ADDR, '-P', String(streams), '-t', String(RUN_CAP_S)], { stdio: 'ignore' });
    this.procs.push(client);
    liveProcs.add(client);
    this.client = client;
  }

  /**
   * New connections, so new source ports and new RPS hashes: with a few flows, which CPU the
   * hash picks for each decides much of the spread, and a comparison of masks over one fixed
   * set of connections compares those hashes more than the masks.
   */
  async restartTraffic(streams: number): Promise<void> {
    const old = this.client;
    if (old && old.exitCode === null && old.signalCode === null) {
      const gone = new Promise((r) => old.once('exit', r));
      old.kill('SIGINT');
      await Promise.race([gone, sleep(5000)]);
      if (old.exitCode === null && old.signalCode === null) old.kill('SIGKILL');
    }
    await sleep(500); // the server takes the next client once it has closed the last one
    await this.startTraffic(streams);
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


/** Goodput over `seconds` (bytes the receiver's tap got), and the window in the guest's clock. */
export async function window(gw: Gateway, seconds: number): Promise<{ from: number; to: number; mbps: number }> {
  const b0 = gw.rxBytes();
  const from = Date.now();
  await sleep(seconds * 1000);
  const to = Date.now();
  const b1 = gw.rxBytes();
  return { from: gw.guestTime(from), to: gw.guestTime(to), mbps: ((b1 - b0) * 8) / ((to - from) / 1000) / 1e6 };
}
