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
// hot-added vCPU itself, for both tools alike, as a distribution's udev rule would.
//
//   node dist/bench/lab.js [--rounds N] [--cap-s S]

import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Guest } from '../lab/guest.js';
import { LabAgent, clockOffset } from '../lab/affinityd.js';
import { projectRoot } from '../lab/step.js';

type Tool = 'affinityd' | 'irqbalance';

interface Measure {
  tool: Tool;
  round: number;
  /** ms from device_add to the condition; null = not within the cap. */
  vcpuMs: number | null;
  nicMs: number | null;
  note?: string;
}

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

/**
 * Guest shell condition: some enabled rx queue IRQ of a NIC is on `cpu` alone. Both tools
 * place a queue on one CPU (irqbalance at cache-domain or core level on such a guest), and
 * the kernel's own mask after hotplug is "all CPUs", so this only holds once a tool acted.
 */
function rxOnCpu(cpu: number): string {
  return `for d in /proc/irq/*/; do n=$(ls $d | grep -- '-input\\.' | head -1); [ -n "$n" ] || continue; [ "$(cat $d/smp_affinity_list)" = ${cpu} ] && exit 0; done; exit 1`;
}

/** Every enabled rx queue IRQ of `ifname` is on one CPU, and no two share one. */
function nicPlaced(ifname: string): string {
  return `v=$(basename $(readlink -f /sys/class/net/${ifname}/device)); n=$(ls /sys/class/net/${ifname}/queues | grep -c rx-); seen=; i=0; while [ $i -lt $n ]; do irq=$(grep " $v-input.$i\\$" /proc/interrupts | cut -d: -f1 | tr -d ' '); [ -n "$irq" ] || exit 1; a=$(cat /proc/irq/$irq/smp_affinity_list); case "$a" in *[-,]*) exit 1;; esac; case " $seen " in *" $a "*) exit 1;; esac; seen="$seen $a"; i=$((i+1)); done; exit 0`;
}

/** Polls a guest condition every 100 ms; resolves with the guest's clock (ms) when it held, or null at the cap. */
async function whenTrue(g: Guest, cond: string, capS: number): Promise<number | null> {
  const script = `end=$(( $(date +%s) + ${capS} )); while [ $(date +%s) -lt $end ]; do if ( ${cond} ) >/dev/null 2>&1; then date +%s%N; exit 0; fi; sleep 0.1; done; exit 3`;
  const r = await g.run(script, (capS + 60) * 1000, 'poll a placement condition');
  return r.code === 0 ? Number(r.out.trim()) / 1e6 : null;
}

async function startTool(g: Guest, tool: Tool): Promise<string | undefined> {
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
    t0 = Date.now();
    const ifname = await g.hotAddNic({ id: 'hot4', model: 'virtio', queues: 4 });
    const tn = await whenTrue(g, nicPlaced(ifname), capS);
    const nicMs = tn === null ? null : Math.round(tn - (t0 + off.offsetMs));
    return { tool, round, vcpuMs, nicMs, ...(note ? { note } : {}) };
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
    for (const tool of ['affinityd', 'irqbalance'] as const) {
      const m = await measure(tool, r, capS);
      console.error(`bench:lab: ${JSON.stringify(m)}`);
      runs.push(m);
    }
  }
  const summary = Object.fromEntries(
    (['affinityd', 'irqbalance'] as const).map((tool) => {
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
