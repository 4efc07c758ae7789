// snapshot/cpus — CPU sets, topology and NUMA nodes from /sys/devices/system/{cpu,node}
// and /proc/cmdline.
//
// Captures from real machines are often incomplete (hwloc tarballs without `online` or
// `possible`, offline CPUs without a topology directory, no node directory at all, sparse
// node numbers), so every field has a fallback and a missing file becomes a warning, never
// an exception.

import { parseCpuList, parseCpuMask, CpuFormatError, MAX_CPUS, normalize } from '../cpumask/cpumask.js';
import type { CpuInfo, CpuTopology } from '../types.js';
import type { FsRoot } from './fsroot.js';

const CPU_DIR = '/sys/devices/system/cpu';
const NODE_DIR = '/sys/devices/system/node';

/**
 * A CPU set from a sysfs/procfs file: a cpulist ("0-3") or a hex mask ("f"). null when the file
 * is absent or unreadable; a malformed one is a warning naming the file, never an exception.
 */
export function readCpus(fs: FsRoot, p: string, warnings: string[], kind: 'list' | 'mask' = 'list'): number[] | null {
  const text = fs.readTrim(p);
  if (text === null) return null;
  try {
    return kind === 'mask' ? parseCpuMask(text) : parseCpuList(text);
  } catch (e) {
    warnings.push(`${p}: ${(e as Error).message}`);
    return null;
  }
}

/** Kernel parameters that shape which CPUs may take device interrupts. */
export interface CmdlineCpus {
  isolcpus: number[];
  /** isolcpus= listed the `managed_irq` flag: kernel already keeps managed IRQs off them. */
  isolcpusManagedIrq: boolean;
  nohzFull: number[];
  irqAffinity: number[] | null;
}

/** Parse the CPU-related kernel parameters; unknown forms are reported, not fatal. */
export function parseCmdline(cmdline: string, warnings: string[] = []): CmdlineCpus {
  const out: CmdlineCpus = { isolcpus: [], isolcpusManagedIrq: false, nohzFull: [], irqAffinity: null };
  // Arguments after a bare "--" go to init, not the kernel.
  const args = cmdline.split(/\s+/);
  for (const arg of args) {
    if (arg === '--') break;
    const eq = arg.indexOf('=');
    if (eq < 0) continue;
    const key = arg.slice(0, eq);
    const value = arg.slice(eq + 1);
    try {
      if (key === 'isolcpus') {
        // isolcpus=[flag,...,]cpulist, flags: nohz, domain, managed_irq.
        const parts = value.split(',');
        const flags: string[] = [];
        while (parts.length > 0 && /^[a-z_]+$/.test(parts[0]!)) flags.push(parts.shift()!);
        out.isolcpus = parseCpuList(parts.join(','));
        out.isolcpusManagedIrq = flags.includes('managed_irq');
      } else if (key === 'nohz_full') {
        out.nohzFull = parseCpuList(value);
      } else if (key === 'irqaffinity') {
        out.irqAffinity = parseCpuList(value);
      }
    } catch (e) {
      if (!(e instanceof CpuFormatError)) throw e;
      warnings.push(`/proc/cmdline: ${key}=: ${e.message}`);
    }
  }
  return out;
}

/** Id of the last-level cache of a CPU: highest cache index's `id`, else its first sharer. */
function readLlc(fs: FsRoot, cpu: number): number {
  const cacheDir = `${CPU_DIR}/cpu${cpu}/cache`;
  const indexes = fs
    .list(cacheDir)
    .filter((n) => /^index\d+$/.test(n))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  let best: { level: number; id: number } | null = null;
  for (const idx of indexes) {
    const level = fs.readInt(`${cacheDir}/${idx}/level`) ?? 0;
    let id = fs.readInt(`${cacheDir}/${idx}/id`);
    if (id === null) {
      // Old kernels have no cache id: the lowest CPU sharing the cache identifies it.
      const shared = fs.readTrim(`${cacheDir}/${idx}/shared_cpu_list`);
      try {
        id = shared ? (parseCpuList(shared)[0] ?? null) : null;
      } catch {
        id = null;
      }
    }
    if (id !== null && (best === null || level >= best.level)) best = { level, id: level * 100000 + id };
  }
  return best?.id ?? -1;
}

/**
 * Per-CPU topology that does not change while the machine runs (package, core, cache): a
 * long-running agent keeps it between passes, because right after a CPU comes online reading
 * it again costs ~5x more while the kernel is still settling the new CPU. Forget it on CPU
 * add/remove (physical hotplug).
 */
export type TopologyCache = Map<number, Omit<CpuInfo, 'cpu' | 'online' | 'node'>>;

export function readCpuTopology(fs: FsRoot, warnings: string[], cache?: TopologyCache): CpuTopology {
  const cpuDirs = fs
    .list(CPU_DIR)
    .filter((n) => /^cpu\d+$/.test(n))
    .map((n) => Number(n.slice(3)))
    .sort((a, b) => a - b);
  // The planner sizes its per-CPU arrays by the largest CPU number: an empty `cpu99999999`
  // directory must not allocate 400 MB. Linux has no CPU numbers beyond MAX_CPUS.
  const beyond = cpuDirs.filter((c) => c >= MAX_CPUS);
  if (beyond.length > 0) {
    warnings.push(`${CPU_DIR}/cpu${beyond[0]}${beyond.length > 1 ? ` (and ${beyond.length - 1} more)` : ''}: CPU number beyond ${MAX_CPUS - 1}, ignored`);
    cpuDirs.splice(cpuDirs.length - beyond.length);
  }

  const present = readCpus(fs, `${CPU_DIR}/present`, warnings) ?? cpuDirs;
  const possible = readCpus(fs, `${CPU_DIR}/possible`, warnings) ?? present;
  let online = readCpus(fs, `${CPU_DIR}/online`, warnings);
  if (online === null) {
    // No global file (some captures): per-CPU `online`, cpu0 has none and is online.
    online = present.filter((c) => fs.readTrim(`${CPU_DIR}/cpu${c}/online`) !== '0');
    warnings.push(`${CPU_DIR}/online: missing, derived from per-CPU online files`);
  }
  const cmdline = parseCmdline(fs.readTrim('/proc/cmdline') ?? '', warnings);
  const isolated = normalize([...(readCpus(fs, `${CPU_DIR}/isolated`, warnings) ?? []), ...cmdline.isolcpus]);
  // Kernels before 6.3 print "(null)" here when nohz_full= was not given (the mask was never
  // allocated): that means none, not a parse error. Seen on Debian's 6.1 in the guest lab.
  const nohzFull = normalize([
    ...(fs.readTrim(`${CPU_DIR}/nohz_full`) === '(null)' ? [] : (readCpus(fs, `${CPU_DIR}/nohz_full`, warnings) ?? [])),
    ...cmdline.nohzFull,
  ]);

  // NUMA nodes: node directories with a cpulist. Offline CPUs stay listed on their node.
  const nodes: { id: number; cpus: number[] }[] = [];
  const nodeOf = new Map<number, number>();
  for (const name of fs.list(NODE_DIR)) {
    const m = /^node(\d+)$/.exec(name);
    if (!m) continue;
    // Some captures (and old kernels' dumps) have only the mask form.
    const cpus = readCpus(fs, `${NODE_DIR}/${name}/cpulist`, warnings) ?? readCpus(fs, `${NODE_DIR}/${name}/cpumap`, warnings, 'mask') ?? [];
    const id = Number(m[1]);
    nodes.push({ id, cpus });
    for (const c of cpus) nodeOf.set(c, id);
  }
  nodes.sort((a, b) => a.id - b.id);

  const onlineSet = new Set(online);
  const cpus: CpuInfo[] = [];
  for (const cpu of normalize([...present, ...cpuDirs])) {
    let t = cache?.get(cpu);
    if (!t) {
      const topo = `${CPU_DIR}/cpu${cpu}/topology`;
      const known = fs.exists(topo);
      const pkg = fs.readInt(`${topo}/physical_package_id`) ?? -1;
      const die = fs.readInt(`${topo}/die_id`) ?? 0;
      const core = fs.readInt(`${topo}/core_id`) ?? cpu;
      const siblings = readCpus(fs, `${topo}/thread_siblings_list`, warnings) ?? [cpu];
      t = {
        package: pkg,
        die,
        core,
        // core_id repeats across packages (and dies); the smallest sibling is unique.
        coreKey: known ? `${pkg}:${die}:${core}` : `cpu${Math.min(...siblings)}`,
        siblings,
        llc: readLlc(fs, cpu),
      };
      // Offline CPUs have no topology directory: only what was really read is remembered.
      if (known) cache?.set(cpu, t);
    }
    cpus.push({ cpu, online: onlineSet.has(cpu), ...t, node: nodeOf.get(cpu) ?? -1 });
  }

  const maxPossible = possible.length ? possible[possible.length - 1]! + 1 : cpus.length;
  return {
    nrCpuIds: Math.max(maxPossible, 1),
    possible,
    present,
    online,
    isolated,
    nohzFull,
    irqAffinityDefault: cmdline.irqAffinity,
    cpus,
    nodes,
  };
}
