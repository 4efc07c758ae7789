// bench/lab — `npm run bench:lab`: in guest-lab guests (lab/), how long until the masks are
// on plan after a vCPU hot-add and after a NIC hot-add, for affinityd's agent and for
// irqbalance (the host's binary, run inside the guest with default settings), side by side
// in one run. A benchmark, not a test: it prints JSON and keeps a copy in bench/results/.
//
// TCG guests run several times slower than hardware and the host is shared, so these are
// correctness and ratio figures, not absolute latencies (see README, "The guest lab").
//
// Each tool gets a fresh guest of the same shape: 2 vCPUs at boot with room for a third,
// a 4-pair virtio-net and a single-queue one (the seed's ens18). The bench onlines the
// hot-added vCPU itself, for both tools alike, as a distribution's udev rule would; then it
// hot-adds an e1000 and brings it up (its INTx line starts at the kernel's all-CPUs mask).
//
//   node dist/bench/lab.js [--rounds N] [--cap-s S]

import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Guest } from '../lab/guest.js';
import { LabAgent, clockOffset } from '../lab/affinityd.js';
import { projectRoot } from '../lab/step.js';

/** kernel: nothing runs; the baseline, since 6.1's virtio-net itself re-spreads its queue
 * vectors when a CPU comes online (virtnet_cpu_online → virtnet_set_affinity). */
type Tool = 'kernel' | 'affinityd' | 'irqbalance';
const TOOLS: readonly Tool[] = ['kernel', 'affinityd', 'irqbalance'];

interface Measure {
  tool: Tool;
  round: number;
  /** ms from device_add to the condition seen by the poll; null = not within the cap. */
  vcpuMs: number | null;
  nicMs: number | null;
  /** affinityd only: ms from device_add to its last verified write, from its audit records. */
  vcpuWriteMs?: number | null;
  nicWriteMs?: number | null;
  loadavg: string;
  note?: string;
}

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

// The polls below run in the guest every 100 ms with shell builtins only (no process per
// check): under TCG a fork costs tens of ms, and a poll that forks per IRQ steals the very CPU
// the tool being measured needs. `irqs` is computed once, before the loop.

/** IRQ numbers of enabled rx queues ("<virtioN>-input.<i>" for i below the NIC's rx queue count). */
function rxIrqs(ifname?: string): string {
  const nics = ifname ? ifname : '$(ls /sys/class/net | grep -v ^lo$)';
  return `irqs=; for nic in ${nics}; do v=$(basename $(readlink -f /sys/class/net/$nic/device)); n=$(ls /sys/class/net/$nic/queues | grep -c rx-); i=0; while [ $i -lt $n ]; do irqs="$irqs $(grep " $v-input.$i\$" /proc/interrupts | cut -d: -f1 | tr -d ' ')"; i=$((i+1)); done; done`;
}

/** Some enabled rx queue IRQ is on `cpu` alone (the kernel's own mask after hotplug is "all CPUs"). */
function rxOnCpu(cpu: number): { setup: string; cond: string } {
  return { setup: rxIrqs(), cond: `for q in $irqs; do read a < /proc/irq/$q/smp_affinity_list; [ "$a" = ${cpu} ] && return 0; done; return 1` };
}

/**
 * The hot-added e1000's INTx line is on one CPU. (Not a virtio-net: 6.1's virtio-net pins its
 * own queue vectors at probe, so its placement would time the kernel, not the tool.)
 */
function legacyPlaced(ifname: string): { setup: string; cond: string } {
  return { setup: `read irq < /sys/class/net/${ifname}/device/irq`, cond: `read a < /proc/irq/$irq/smp_affinity_list; case "$a" in *[-,]*) return 1;; esac; return 0` };
}

/** Polls a guest condition every 100 ms; resolves with the guest's clock (ms) when it held, or null at the cap. */
async function whenTrue(g: Guest, c: { setup: string; cond: string }, capS: number): Promise<number | null> {
  const script = `${c.setup}; check() { ${c.cond}; }; i=0; while [ $i -lt ${capS * 10} ]; do if check; then date +%s%N; exit 0; fi; sleep 0.1; i=$((i+1)); done; exit 3`;
  const r = await g.run(script, (capS + 120) * 1000, 'poll a placement condition');
  return r.code === 0 ? Number(r.out.trim()) / 1e6 : null;
}

/** The agent's own view: ms from host instant t0 to its last verified write (audit record time). */
async function agentWriteMs(g: Guest, t0: number, offsetMs: number): Promise<number | null> {
  const recs = await new LabAgent(g).records();
  const ts = recs.filter((r) => r.kind === 'applied' && Date.parse(r.time) >= t0 + offsetMs).map((r) => Date.parse(r.time));
  return ts.length ? Math.round(Math.max(...ts) - (t0 + offsetMs)) : null;
}

async function startTool(g: Guest, tool: Tool): Promise<string | undefined> {
  if (tool === 'kernel') return undefined;
  if (tool === 'affinityd') {
    const a = new LabAgent(g);
    await a.writePolicy('');
    await a.start();
    return undefined;
  }
  await g.sh(`setsid irqbalance --foreground > /tmp/irqbalance.out 2>&1 < /dev/null & echo $! > /tmp/irqbalance.pid`);
  // Its first rebalance comes one interval (10 s) after start.
  await new Promise((r) => setTimeout(r, 15_000));
  const alive = await g.run('kill -0 $(cat /tmp/irqbalance.pid)');
  return alive.code === 0 ? undefined : `irqbalance exited: ${(await g.sh('tail -2 /tmp/irqbalance.out; true')).trim()}`;
}

async function measure(tool: Tool, round: number, capS: number): Promise<Measure> {
  const g = await Guest.boot({ name: `bench-${tool}`, cpus: { boot: 2, sockets: 3 }, nics: [{ id: 'mq0', model: 'virtio', queues: 4 }, { id: 'ens18', model: 'virtio' }] });
  try {
    const note = await startTool(g, tool);
    const off = await clockOffset(g);
    let t0 = Date.now();
    const cpu = await g.hotAddCpu();
    await g.sh(`echo 1 > /sys/devices/system/cpu/cpu${cpu}/online`);
    const tv = await whenTrue(g, rxOnCpu(cpu), capS);
    const vcpuMs = tv === null ? null : Math.round(tv - (t0 + off.offsetMs));
    const vcpuWriteMs = tool === 'affinityd' ? await agentWriteMs(g, t0, off.offsetMs) : undefined;
    t0 = Date.now();
    const ifname = await g.hotAddNic({ id: 'legacy', model: 'e1000' });
    await g.sh(`ip link set ${ifname} up`);
    const tn = await whenTrue(g, legacyPlaced(ifname), capS);
    const nicMs = tn === null ? null : Math.round(tn - (t0 + off.offsetMs));
    const nicWriteMs = tool === 'affinityd' ? await agentWriteMs(g, t0, off.offsetMs) : undefined;
    const loadavg = fs.readFileSync('/proc/loadavg', 'utf8').trim();
    return { tool, round, vcpuMs, nicMs, ...(tool === 'affinityd' ? { vcpuWriteMs, nicWriteMs } : {}), loadavg, ...(note ? { note } : {}) };
  } finally {
    await g.stop();
  }
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

async function main(): Promise<void> {
  const rounds = arg('rounds', 3);
  const capS = arg('cap-s', 60);
  if (spawnSync('sh', ['-c', 'command -v irqbalance']).status !== 0) {
    console.error('bench:lab: irqbalance is not installed on the host (apt-get install --no-install-recommends irqbalance; the guest runs the host\'s binary)');
    process.exit(1);
  }
  const runs: Measure[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const tool of TOOLS) {
      const m = await measure(tool, r, capS);
      console.error(`bench:lab: ${JSON.stringify(m)}`);
      runs.push(m);
    }
  }
  const summary = Object.fromEntries(
    TOOLS.map((tool) => {
      const mine = runs.filter((m) => m.tool === tool);
      const ok = (k: 'vcpuMs' | 'nicMs') => mine.map((m) => m[k]).filter((x): x is number => x !== null);
      return [tool, { vcpuMedianMs: median(ok('vcpuMs')), vcpuPlaced: `${ok('vcpuMs').length}/${mine.length}`, nicMedianMs: median(ok('nicMs')), nicPlaced: `${ok('nicMs').length}/${mine.length}` }];
    }),
  );
  const out = {
    bench: 'lab',
    date: new Date().toISOString(),
    caveat: 'QEMU TCG guests on a shared 2-core host: ratios and correctness, not absolute latencies',
    capS,
    summary,
    runs,
  };
  const text = JSON.stringify(out, null, 2);
  console.log(text);
  const dir = path.join(projectRoot(), 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `lab-${out.date.replace(/[:.]/g, '-')}.json`), text + '\n');
}

main().catch((e: Error) => {
  console.error(`bench:lab: ${e.message}`);
  process.exit(1);
});
