// fixture — generates fake sysfs/procfs trees ("fixture roots") in the exact layout and text
// formats of a modern x86 Linux kernel (checked against a 6.18 KVM guest and the captures in
// /work/shared/corpus), so that snapshot readers, planner and applier run off-host.
//
// Trees are generated from a compact spec, never copied from captures: every file a test
// reads has a value the test can derive from the spec. Masks and lists are formatted here
// with our own code, not with src/cpumask, on purpose: the generator is the oracle for the
// readers' tests and must not share their bugs.
//
// Kernel behaviours reproduced (each one seen on the 6.18 guest unless noted):
//   * hex masks are 32-bit words, width nr_cpu_ids, first word trimmed ("3", "00003");
//   * offline CPUs have no topology/ and cache/ dirs; sibling/cache lists show online CPUs
//     only, while node cpulists keep offline CPUs; cpu0 has no `online` file;
//   * /proc/interrupts has one column per ONLINE CPU; numeric rows are `%*d:` (width grows
//     with nr_irqs), ` %10u` per CPU, ` %8s` chip, ` %*lu` hwirq, `-%-8s` flow, `  actions`
//     (so "0  IO-APIC"), while the arch rows keep `%*s: ` + `%10u ` + `  description`;
//   * per_cpu_count in /sys/kernel/irq covers POSSIBLE CPUs;
//   * a new IRQ's smp_affinity is default_smp_affinity ∩ online, narrowed to the device's
//     node when that node has online CPUs (kernel irq_setup_affinity());
//   * effective_affinity is a single CPU (x86 vector domain);
//   * on a device with a single tx queue (num_tx_queues == 1) tx-0/xps_cpus and
//     tx-0/traffic_class are listed by readdir but open() fails with ENOENT. A regular file
//     cannot do that, so they are dangling symlinks: readdir lists them, read AND write
//     fail with ENOENT (the parent of the target does not exist) — as on the kernel.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// ---------------------------------------------------------------------------------------
// Spec

/** intx: no MSI at all; one legacy line named after the interface (e1000 in a VM). */
export type NicNaming = 'virtio' | 'TxRx' | 'i40e' | 'ice' | 'mlx5' | 'ena' | 'split' | 'intx' | 'tg3';

export interface FixtureNic {
  name: string;
  driver: string;
  /** PCI function, "0000:3b:00.0". */
  pci: string;
  /** numa_node of the PCI function; -1 allowed (no firmware locality). */
  node: number;
  /** Combined queue IRQs (and rx/tx queue count unless rxQueues/txQueues say otherwise). */
  queues: number;
  rxQueues?: number;
  txQueues?: number;
  naming: NicNaming;
  /** virtioN index of the virtio device between netdev and PCI function (virtio naming). */
  virtioIndex?: number;
  mac?: string;
  ifindex?: number;
  mtu?: number;
  /** Initial rps_cpus of every rx queue (hex mask, any width); default empty. */
  rps?: string;
  /** Initial xps_cpus of every tx queue (hex mask, any width); default empty. */
  xps?: string;
}

export interface FixtureIrq {
  irq?: number;
  /** Action name (/proc/irq/N/<name>/). */
  name: string;
  /** Chip name; default IO-APIC (IR-IO-APIC on metal), or the MSI-X chip when pci is set. */
  chip?: string;
  pci?: string;
  /** /proc/irq/N/node; default -1. */
  node?: number;
  /** Default: the vector index inside `pci`, else the IRQ number. */
  hwirq?: number;
  /** Flow handler: edge (MSI, most IO-APIC pins) or fasteoi (level-triggered ACPI SCI). */
  flow?: 'edge' | 'fasteoi';
  /** Kernel-managed (blk-mq/NVMe): smp_affinity is read-only (mode 0444), affinity fixed. */
  managed?: boolean;
  /** Initial smp_affinity, overriding initialAffinity. */
  affinity?: number[];
}

/** A PCI function that owns otherIrqs (NVMe, virtio-blk, ...); NICs declare their own. */
export interface FixturePciDevice {
  pci: string;
  driver?: string;
  vendor?: string;
  device?: string;
  class?: string;
  node?: number;
  /** A virtio bus device below the function (virtio-pci transport). */
  virtio?: { index: number; driver: string; device: string };
}

/** A netdev under /sys/devices/virtual/net: no device link, no IRQs. */
export interface FixtureVirtualNic {
  name: string;
  /** veth allocates num_tx_queues = possible CPUs, so its single tx-0 keeps xps_cpus. */
  kind: 'ifb' | 'veth' | 'dummy' | 'bridge';
  ifindex?: number;
  mac?: string;
}

export interface FixtureSpec {
  sockets: number;
  coresPerSocket: number;
  threadsPerCore: number;
  /** NUMA nodes; cores are split evenly over them in socket order. */
  nodes: number;
  offline?: number[];
  isolated?: number[];
  nohzFull?: number[];
  /** /proc/cmdline; default built from isolated/nohzFull. `irqaffinity=` sets default_smp_affinity. */
  cmdline?: string;
  nics?: FixtureNic[];
  otherIrqs?: FixtureIrq[];
  pciDevices?: FixturePciDevice[];
  virtualNics?: FixtureVirtualNic[];
  /** linux-intel: siblings are N and N+cores (default); adjacent: 0,1 are siblings. */
  smtNumbering?: 'linux-intel' | 'adjacent';
  /** smp_affinity of every IRQ at "boot": 'all' = kernel default (see header), 'cpu0' = first online CPU. */
  initialAffinity?: 'all' | 'cpu0';
  /** metal: IR-PCI-MSIX / IR-IO-APIC chips; kvm: PCI-MSIX / IO-APIC and the HYP row. */
  platform?: 'metal' | 'kvm';
  /** First IRQ number handed out to IRQs without an explicit number. */
  firstIrq?: number;
  /** Cores sharing one L3 (CCX-like); default all cores of a socket. */
  l3CoresPerGroup?: number;
}

/** Per-CPU interrupt count the generator writes for (irq, cpu): tests recompute it. */
export function fixtureIrqCount(irq: number, cpu: number): number {
  return (irq * 7 + cpu * 3) % 1000;
}

/** File at the root of every generated or unpacked tree; removeFixture refuses trees without it. */
export const FIXTURE_MARKER = '.affinityd-fixture';

/** Target of the dangling symlinks that stand in for files whose read() returns ENOENT. */
export const ENOENT_TARGET_DIR = '.kernel-returns-ENOENT';

// ---------------------------------------------------------------------------------------
// Kernel text formats (own implementation, see header)

/** Kernel `%*pb`: 32-bit words, most significant first, first word trimmed to its bits. */
export function kernelMask(cpus: Iterable<number>, nbits: number): string {
  const width = Math.max(nbits, 1);
  const nWords = Math.ceil(width / 32);
  const words = new Array<number>(nWords).fill(0);
  for (const c of cpus) {
    if (c < 0 || c >= width) throw new Error(`fixture: CPU ${c} outside mask width ${width}`);
    words[c >>> 5]! |= 1 << (c & 31);
  }
  const topBits = width - (nWords - 1) * 32;
  let out = (words[nWords - 1]! >>> 0).toString(16).padStart(Math.ceil(topBits / 4), '0');
  for (let w = nWords - 2; w >= 0; w--) out += ',' + (words[w]! >>> 0).toString(16).padStart(8, '0');
  return out;
}

/** Kernel `%*pbl`: "0-3,8". */
export function kernelList(cpus: Iterable<number>): string {
  const s = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    parts.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

function parseList(text: string, what: string): number[] {
  const out: number[] = [];
  const s = text.replace(/\0/g, '').trim();
  if (s === '') return out;
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`fixture: ${what}: invalid cpulist element "${part}"`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

function parseMask(text: string, what: string): number[] {
  const out: number[] = [];
  const s = text.replace(/\0/g, '').trim();
  if (s === '') return out;
  const words = s.split(',');
  words.forEach((word, i) => {
    if (!/^[0-9a-fA-F]{1,8}$/.test(word)) throw new Error(`fixture: ${what}: invalid hex mask word "${word}"`);
    const v = parseInt(word, 16);
    const base = (words.length - 1 - i) * 32;
    for (let b = 0; b < 32; b++) if ((v >>> b) & 1) out.push(base + b);
  });
  return out.sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------
// Tree writer: caches created directories so 100k+ files stay fast.

/**
 * Kernel sysfs_get_target_path(): climb from the link's directory to the first ancestor
 * that also contains the target's parent, then descend. So a link to an ancestor is spelled
 * "../../../virtio2" (never ".."), as in /sys/class/net/eth0/device.
 */
export function sysfsLinkText(linkDir: string, target: string): string {
  const within = (dir: string, p: string): boolean => dir === '/' || p === dir || p.startsWith(dir + '/');
  const targetParent = path.posix.dirname(target);
  let base = linkDir;
  let up = '';
  while (!within(base, targetParent)) {
    base = path.posix.dirname(base);
    up += '../';
  }
  return up + (base === '/' ? target.slice(1) : target.slice(base.length + 1));
}

export class TreeWriter {
  readonly root: string;
  private readonly dirs = new Set<string>();

  constructor(root: string) {
    this.root = root;
  }

  abs(p: string): string {
    return path.join(this.root, p);
  }

  dir(p: string): void {
    if (this.dirs.has(p)) return;
    fs.mkdirSync(this.abs(p), { recursive: true });
    for (let d = p; d !== '/' && !this.dirs.has(d); d = path.posix.dirname(d)) this.dirs.add(d);
  }

  /** Write a file; `mode` defaults to the kernel's rw-r--r--. */
  file(p: string, content: string, mode = 0o644): void {
    this.dir(path.posix.dirname(p));
    fs.writeFileSync(this.abs(p), content, { mode });
  }

  /** Symlink with a relative target spelled the way sysfs spells it (see sysfsLinkText). */
  link(p: string, targetInRoot: string): void {
    this.dir(path.posix.dirname(p));
    fs.symlinkSync(sysfsLinkText(path.posix.dirname(p), targetInRoot), this.abs(p));
  }

  /** A name readdir lists but open() answers with ENOENT (see header). */
  enoent(p: string): void {
    this.dir(path.posix.dirname(p));
    fs.symlinkSync(`${ENOENT_TARGET_DIR}/${path.posix.basename(p)}`, this.abs(p));
  }

  /** Open a file for streaming writes (caller closes). */
  open(p: string, mode = 0o644): number {
    this.dir(path.posix.dirname(p));
    return fs.openSync(this.abs(p), 'w', mode);
  }

  exists(p: string): boolean {
    try {
      fs.lstatSync(this.abs(p));
      return true;
    } catch {
      return false;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Machine: the CPU/NUMA facts the device half of the generator needs. buildFixture derives it
// from the spec; hwloc.ts reads it from a real capture.

export interface FixtureMachine {
  nrCpuIds: number;
  possible: number[];
  online: number[];
  /** Node id → its CPUs (may include offline or absent CPUs, as real node cpulists do). */
  nodes: { id: number; cpus: number[] }[];
  /** default_smp_affinity. */
  defaultAffinity: number[];
  initialAffinity: 'all' | 'cpu0';
  platform: 'metal' | 'kvm';
}

export interface FixtureDevices {
  nics: FixtureNic[];
  otherIrqs: FixtureIrq[];
  pciDevices: FixturePciDevice[];
  virtualNics: FixtureVirtualNic[];
  firstIrq?: number;
}

// ---------------------------------------------------------------------------------------
// CPU + NUMA half

interface CpuSlot {
  cpu: number;
  socket: number;
  /** core index inside the socket (core_id). */
  core: number;
  /** machine-wide core index. */
  gcore: number;
  node: number;
  l3: number;
}

function checkCount(v: unknown, what: string, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new Error(`fixture: ${what} must be an integer >= ${min}, got ${String(v)}`);
  }
  return v;
}

function layoutCpus(spec: FixtureSpec): CpuSlot[] {
  const sockets = checkCount(spec.sockets, 'sockets', 1);
  const cps = checkCount(spec.coresPerSocket, 'coresPerSocket', 1);
  const tpc = checkCount(spec.threadsPerCore, 'threadsPerCore', 1);
  const totalCores = sockets * cps;
  const nodes = checkCount(spec.nodes, 'nodes', 1);
  if (nodes > totalCores) throw new Error(`fixture: nodes (${nodes}) exceeds cores (${totalCores})`);
  const l3g = checkCount(spec.l3CoresPerGroup ?? cps, 'l3CoresPerGroup', 1);
  const l3PerSocket = Math.ceil(cps / l3g);
  const adjacent = spec.smtNumbering === 'adjacent';
  const slots: CpuSlot[] = [];
  for (let g = 0; g < totalCores; g++) {
    const socket = Math.floor(g / cps);
    const core = g % cps;
    for (let t = 0; t < tpc; t++) {
      slots.push({
        cpu: adjacent ? g * tpc + t : t * totalCores + g,
        socket,
        core,
        gcore: g,
        node: Math.floor((g * nodes) / totalCores),
        l3: socket * l3PerSocket + Math.floor(core / l3g),
      });
    }
  }
  return slots.sort((a, b) => a.cpu - b.cpu);
}

function checkCpus(list: number[] | undefined, nr: number, what: string): number[] {
  const out = [...new Set(list ?? [])].sort((a, b) => a - b);
  for (const c of out) {
    if (!Number.isInteger(c) || c < 0 || c >= nr) throw new Error(`fixture: ${what}: CPU ${c} out of range 0-${nr - 1}`);
  }
  return out;
}

function groupOnline(slots: CpuSlot[], key: (s: CpuSlot) => number, online: Set<number>): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (const s of slots) {
    if (!online.has(s.cpu)) continue;
    let a = m.get(key(s));
    if (!a) m.set(key(s), (a = []));
    a.push(s.cpu);
  }
  return m;
}

function writeCpus(w: TreeWriter, spec: FixtureSpec, slots: CpuSlot[], machine: FixtureMachine, cmdline: string): void {
  const nr = machine.nrCpuIds;
  const all = machine.possible;
  const onlineSet = new Set(machine.online);
  const offline = all.filter((c) => !onlineSet.has(c));
  const base = '/sys/devices/system/cpu';
  const list = (cpus: number[]): string => `${kernelList(cpus)}\n`;
  const mask = (cpus: number[]): string => `${kernelMask(cpus, nr)}\n`;

  w.file(`${base}/possible`, list(all), 0o444);
  w.file(`${base}/present`, list(all), 0o444);
  w.file(`${base}/online`, list(machine.online), 0o444);
  w.file(`${base}/offline`, list(offline), 0o444);
  w.file(`${base}/isolated`, list(checkCpus(spec.isolated, nr, 'isolated')), 0o444);
  if (spec.nohzFull !== undefined) w.file(`${base}/nohz_full`, list(checkCpus(spec.nohzFull, nr, 'nohzFull')), 0o444);
  // NR_CPUS: 256 covers small boxes and the guest; distro kernels build with 8192.
  w.file(`${base}/kernel_max`, `${nr <= 256 ? 255 : 8191}\n`, 0o444);
  const smt = spec.threadsPerCore > 1;
  w.file(`${base}/smt/control`, smt ? 'on\n' : 'notsupported\n');
  w.file(`${base}/smt/active`, smt ? '1\n' : '0\n', 0o444);

  // Sibling and cache lists are built from online CPUs only (the kernel drops a CPU from
  // them when it goes offline); precompute each group's text once.
  const byCore = groupOnline(slots, (s) => s.gcore, onlineSet);
  const bySocket = groupOnline(slots, (s) => s.socket, onlineSet);
  const byL3 = groupOnline(slots, (s) => s.l3, onlineSet);
  const texts = new Map<number[], { list: string; mask: string }>();
  const text = (cpus: number[]): { list: string; mask: string } => {
    let t = texts.get(cpus);
    if (!t) texts.set(cpus, (t = { list: list(cpus), mask: mask(cpus) }));
    return t;
  };

  for (const s of slots) {
    const d = `${base}/cpu${s.cpu}`;
    w.dir(d);
    if (s.cpu !== 0) w.file(`${d}/online`, onlineSet.has(s.cpu) ? '1\n' : '0\n');
    w.link(`${d}/node${s.node}`, `/sys/devices/system/node/node${s.node}`);
    if (!onlineSet.has(s.cpu)) continue;
    const core = text(byCore.get(s.gcore)!);
    const pkg = text(bySocket.get(s.socket)!);
    const top = `${d}/topology`;
    w.file(`${top}/physical_package_id`, `${s.socket}\n`, 0o444);
    w.file(`${top}/die_id`, '0\n', 0o444);
    w.file(`${top}/core_id`, `${s.core}\n`, 0o444);
    // x86 cluster = L2 id; a KVM guest without L2 sharing data reports BAD_APICID (65535).
    w.file(`${top}/cluster_id`, `${machine.platform === 'kvm' ? 65535 : s.gcore}\n`, 0o444);
    for (const [name, t] of [
      ['thread_siblings', core],
      ['core_cpus', core],
      ['cluster_cpus', core],
      ['core_siblings', pkg],
      ['die_cpus', pkg],
      ['package_cpus', pkg],
    ] as const) {
      w.file(`${top}/${name}`, t.mask, 0o444);
      w.file(`${top}/${name}_list`, t.list, 0o444);
    }
    const l3 = text(byL3.get(s.l3)!);
    const caches = [
      { level: 1, type: 'Data', id: s.gcore, size: '48K', t: core },
      { level: 1, type: 'Instruction', id: s.gcore, size: '32K', t: core },
      { level: 2, type: 'Unified', id: s.gcore, size: '2048K', t: core },
      { level: 3, type: 'Unified', id: s.l3, size: '32768K', t: l3 },
    ];
    caches.forEach((c, i) => {
      const cd = `${d}/cache/index${i}`;
      w.file(`${cd}/level`, `${c.level}\n`, 0o444);
      w.file(`${cd}/type`, `${c.type}\n`, 0o444);
      w.file(`${cd}/id`, `${c.id}\n`, 0o444);
      w.file(`${cd}/size`, `${c.size}\n`, 0o444);
      w.file(`${cd}/shared_cpu_list`, c.t.list, 0o444);
      w.file(`${cd}/shared_cpu_map`, c.t.mask, 0o444);
    });
  }

  // NUMA: node cpulists keep offline CPUs (seen on the guest with cpu1 offline).
  const nb = '/sys/devices/system/node';
  const ids = machine.nodes.map((n) => n.id);
  w.file(`${nb}/online`, list(ids), 0o444);
  w.file(`${nb}/possible`, list(ids), 0o444);
  w.file(`${nb}/has_cpu`, list(machine.nodes.filter((n) => n.cpus.some((c) => onlineSet.has(c))).map((n) => n.id)), 0o444);
  w.file(`${nb}/has_memory`, list(ids), 0o444);
  w.file(`${nb}/has_normal_memory`, list(ids), 0o444);
  for (const n of machine.nodes) {
    const d = `${nb}/node${n.id}`;
    w.file(`${d}/cpulist`, list(n.cpus), 0o444);
    w.file(`${d}/cpumap`, mask(n.cpus), 0o444);
    w.file(`${d}/distance`, `${ids.map((j) => (j === n.id ? 10 : 21)).join(' ')}\n`, 0o444);
    for (const c of n.cpus) w.link(`${d}/cpu${c}`, `${base}/cpu${c}`);
  }

  w.file('/proc/cmdline', `${cmdline}\n`, 0o444);
}

// ---------------------------------------------------------------------------------------
// Device half: IRQs, PCI functions, netdevs. Shared with hwloc.ts.

interface IrqRec {
  irq: number;
  action: string;
  chip: string;
  hwirq: number;
  flow: 'edge' | 'fasteoi';
  node: number;
  affinity: number[];
  effective: number[];
  hint: number[];
  managed: boolean;
}

interface PciRec {
  pci: string;
  driver: string | null;
  vendor: string;
  device: string;
  class: string;
  node: number;
  virtio: { index: number; driver: string; device: string } | null;
  irqs: number[];
  /** Legacy INTx line of a function without MSI (its `irq` file). */
  intx?: number;
}

const PCI_IDS: Record<string, [string, string]> = {
  i40e: ['0x8086', '0x1572'],
  ice: ['0x8086', '0x159b'],
  ixgbe: ['0x8086', '0x10fb'],
  igb: ['0x8086', '0x1521'],
  mlx5_core: ['0x15b3', '0x1017'],
  ena: ['0x1d0f', '0xec20'],
  bnxt_en: ['0x14e4', '0x1751'],
  nvme: ['0x144d', '0xa808'],
  'virtio-pci': ['0x1af4', '0x1041'],
};

const BDF_RE = /^([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/;

function pciDir(bdf: string): string {
  const m = BDF_RE.exec(bdf);
  if (!m) throw new Error(`fixture: invalid PCI address "${bdf}" (want dddd:bb:dd.f, lower-case hex)`);
  // Every function sits on its domain:bus root bridge; no PCIe bridges in between.
  return `/sys/devices/pci${m[1]}:${m[2]}/${bdf}`;
}

/** One shared array per CPU, so that MaskTexts formats each single-CPU mask once. */
const SINGLE: number[][] = [];
function single(cpu: number): number[] {
  return (SINGLE[cpu] ??= [cpu]);
}

/** Kernel cpumask_local_spread(i, node): node's online CPUs first, then the others. */
function localSpread(machine: FixtureMachine, node: number): (i: number) => number[] {
  const online = machine.online;
  const local = node < 0 ? [] : (machine.nodes.find((n) => n.id === node)?.cpus ?? []).filter((c) => online.includes(c));
  const localSet = new Set(local);
  const order = [...local, ...online.filter((c) => !localSet.has(c))];
  return (i) => (order.length === 0 ? [] : single(order[i % order.length]!));
}

/** virtnet_set_affinity(): online CPUs cut into `queues` consecutive groups. */
function virtioSpread(machine: FixtureMachine, queues: number): (i: number) => number[] {
  const online = machine.online;
  const n = online.length;
  const stride = Math.max(Math.floor(n / queues), 1);
  const stragglers = n >= queues ? n % queues : 0;
  const groups: number[][] = [];
  let pos = 0;
  for (let i = 0; i < queues; i++) {
    const size = stride + (i < stragglers ? 1 : 0);
    const g: number[] = [];
    for (let k = 0; k < size; k++) g.push(online[(pos + k) % n]!);
    pos += size;
    groups.push(g.sort((a, b) => a - b));
  }
  return (i) => groups[i] ?? [];
}

interface Vector {
  action: string;
  hint: number[];
}

/** Vector names in MSI-X order, as each driver requests them. */
function nicVectors(nic: FixtureNic, machine: FixtureMachine, rx: number, tx: number): Vector[] {
  const none: number[] = [];
  const q = nic.queues;
  const out: Vector[] = [];
  const spread = localSpread(machine, nic.node);
  switch (nic.naming) {
    case 'virtio': {
      // config, then rx/tx virtqueue pairs; the control vq has no callback, hence no vector.
      const v = `virtio${nic.virtioIndex ?? 0}`;
      const hint = virtioSpread(machine, q);
      out.push({ action: `${v}-config`, hint: none });
      for (let i = 0; i < q; i++) {
        out.push({ action: `${v}-input.${i}`, hint: hint(i) });
        out.push({ action: `${v}-output.${i}`, hint: hint(i) });
      }
      break;
    }
    case 'TxRx': // ixgbe/bnxt: queue vectors first, link ("other") vector last, named after the netdev
      for (let i = 0; i < q; i++) out.push({ action: `${nic.name}-TxRx-${i}`, hint: spread(i) });
      out.push({ action: nic.name, hint: none });
      break;
    case 'tg3': // tx + link on vector 0, then rx vectors numbered from 1 (a 2-socket capture in the corpus)
      out.push({ action: `${nic.name}-tx-0`, hint: none });
      for (let i = 1; i <= rx; i++) out.push({ action: `${nic.name}-rx-${i}`, hint: spread(i - 1) });
      break;
    case 'split': // igb without queue pairing: link vector first, then rx, then tx
      out.push({ action: nic.name, hint: none });
      for (let i = 0; i < rx; i++) out.push({ action: `${nic.name}-rx-${i}`, hint: none });
      for (let i = 0; i < tx; i++) out.push({ action: `${nic.name}-tx-${i}`, hint: none });
      break;
    case 'i40e':
    case 'ice': {
      const p = nic.naming === 'i40e' ? 'i40e' : 'ice';
      out.push({ action: `${p}-${nic.pci}:misc`, hint: none });
      for (let i = 0; i < q; i++) out.push({ action: `${p}-${nic.name}-TxRx-${i}`, hint: spread(i) });
      out.push({ action: `${p}-${nic.pci}:${p === 'i40e' ? 'fdir' : 'ctrl'}-TxRx-0`, hint: none });
      break;
    }
    case 'mlx5': // no netdev name in the IRQ names at all: the BDF is the only link
      out.push({ action: `mlx5_async@pci:${nic.pci}`, hint: none });
      for (let i = 0; i < q; i++) out.push({ action: `mlx5_comp${i}@pci:${nic.pci}`, hint: spread(i) });
      break;
    case 'ena':
      out.push({ action: `ena-mgmnt@pci:${nic.pci}`, hint: none });
      for (let i = 0; i < q; i++) out.push({ action: `${nic.name}-Tx-Rx-${i}`, hint: spread(i) });
      break;
    default:
      throw new Error(`fixture: NIC ${nic.name}: unknown naming "${String(nic.naming)}"`);
  }
  return out;
}

function irqAffinity(machine: FixtureMachine, node: number, given: number[] | undefined): number[] {
  const online = machine.online;
  if (given) {
    const on = new Set(online);
    return [...new Set(given)].filter((c) => on.has(c)).sort((a, b) => a - b);
  }
  if (machine.initialAffinity === 'cpu0') return online.slice(0, 1);
  // irq_setup_affinity(): default ∩ online (all online if that is empty), then ∩ node's CPUs
  // when the node has an online CPU in the mask.
  const def = new Set(machine.defaultAffinity);
  let mask = online.filter((c) => def.has(c));
  if (mask.length === 0) mask = online.slice();
  if (node >= 0) {
    const nodeCpus = new Set(machine.nodes.find((n) => n.id === node)?.cpus ?? []);
    const narrowed = mask.filter((c) => nodeCpus.has(c));
    if (narrowed.length > 0) mask = narrowed;
  }
  return mask;
}

/** x86 nr_irqs estimate (arch_probe_nr_irqs with 24 GSIs), grown to cover every IRQ. */
function irqLabelWidth(nrCpuIds: number, maxIrq: number): number {
  const nrIrqs = Math.max(24 + 16 + 8 * nrCpuIds + 24 * 16, maxIrq + 1);
  let prec = 3;
  for (let j = 1000; prec < 10 && j <= nrIrqs; prec++) j *= 10;
  return prec;
}

const X86_ROWS: [string, string][] = [
  ['NMI', 'Non-maskable interrupts'],
  ['LOC', 'Local timer interrupts'],
  ['SPU', 'Spurious interrupts'],
  ['PMI', 'Performance monitoring interrupts'],
  ['IWI', 'IRQ work interrupts'],
  ['RTR', 'APIC ICR read retries'],
  ['RES', 'Rescheduling interrupts'],
  ['CAL', 'Function call interrupts'],
  ['TLB', 'TLB shootdowns'],
  ['TRM', 'Thermal event interrupts'],
];
const METAL_ROWS: [string, string][] = [
  ['THR', 'Threshold APIC interrupts'],
  ['DFR', 'Deferred Error APIC interrupts'],
  ['MCE', 'Machine check exceptions'],
  ['MCP', 'Machine check polls'],
];
const POSTED_ROWS: [string, string][] = [
  ['PIN', 'Posted-interrupt notification event'],
  ['NPI', 'Nested posted-interrupt event'],
  ['PIW', 'Posted-interrupt wakeup event'],
];

/** ` %10u` count cells (6.x numeric rows) for every value fixtureIrqCount can return. */
const COUNT_CELLS: string[] = Array.from({ length: 1000 }, (_, n) => ` ${String(n).padStart(10)}`);

/**
 * Write /proc/interrupts row by row: a 1024-CPU tree with 4k IRQs gives a ~47 MB file (as
 * the kernel would), which must not be built as one concatenated string.
 */
function writeInterrupts(w: TreeWriter, machine: FixtureMachine, irqs: IrqRec[]): void {
  const online = machine.online;
  const maxIrq = irqs.reduce((m, r) => Math.max(m, r.irq), 0);
  const prec = irqLabelWidth(machine.nrCpuIds, maxIrq);
  const padded = (n: number): string => `${String(n).padStart(10)} `;
  const cells = new Array<string>(online.length);
  const fd = w.open('/proc/interrupts', 0o444);
  try {
    const put = (line: string): void => {
      fs.writeSync(fd, line + '\n');
    };
    put(' '.repeat(prec + 8) + online.map((c) => `CPU${c}`.padEnd(11)).join(''));
    for (const r of irqs) {
      for (let i = 0; i < online.length; i++) cells[i] = COUNT_CELLS[fixtureIrqCount(r.irq, online[i]!)]!;
      put(
        `${String(r.irq).padStart(prec)}:${cells.join('')} ${r.chip.padStart(8)} ` +
          `${String(r.hwirq).padStart(prec)}-${r.flow.padEnd(8)}  ${r.action}`,
      );
    }
    const sym = (label: string, desc: string, seed: number): string =>
      `${label.padStart(prec)}: ${online.map((c) => padded(seed === 0 ? 0 : (seed * 31 + c * 17) % 100000)).join('')}  ${desc}`;
    X86_ROWS.forEach(([l, d], i) => put(sym(l, d, l === 'LOC' || l === 'RES' || l === 'CAL' ? i + 1 : 0)));
    const hyp: [string, string][] = [['HYP', 'Hypervisor callback interrupts']];
    for (const [l, d] of machine.platform === 'metal' ? METAL_ROWS : hyp) put(sym(l, d, 0));
    put(`${'ERR'.padStart(prec)}: ${String(0).padStart(10)}`);
    put(`${'MIS'.padStart(prec)}: ${String(0).padStart(10)}`);
    for (const [l, d] of POSTED_ROWS) put(sym(l, d, 0));
  } finally {
    fs.closeSync(fd);
  }
}

/** Mask/list text per CPU-set object: IRQs of one NIC share their affinity arrays. */
class MaskTexts {
  private readonly cache = new WeakMap<number[], { mask: string; list: string }>();
  constructor(private readonly nbits: number) {}
  get(cpus: number[]): { mask: string; list: string } {
    let t = this.cache.get(cpus);
    if (!t) this.cache.set(cpus, (t = { mask: `${kernelMask(cpus, this.nbits)}\n`, list: `${kernelList(cpus)}\n` }));
    return t;
  }
}

function writeIrq(w: TreeWriter, machine: FixtureMachine, texts: MaskTexts, r: IrqRec): void {
  const d = `/proc/irq/${r.irq}`;
  const aff = texts.get(r.affinity);
  const eff = texts.get(r.effective);
  // Managed IRQs refuse affinity writes (EIO for root); the kernel shows that as 0444.
  const rw = r.managed ? 0o444 : 0o644;
  w.file(`${d}/smp_affinity`, aff.mask, rw);
  w.file(`${d}/smp_affinity_list`, aff.list, rw);
  w.file(`${d}/effective_affinity`, eff.mask, 0o444);
  w.file(`${d}/effective_affinity_list`, eff.list, 0o444);
  w.file(`${d}/node`, `${r.node}\n`, 0o444);
  w.file(`${d}/affinity_hint`, texts.get(r.hint).mask, 0o444);
  let total = 0;
  const perCpu: number[] = [];
  const online = machine.online;
  for (let i = 0, j = 0; i < machine.possible.length; i++) {
    const c = machine.possible[i]!;
    // possible and online are both sorted: walk them together.
    while (j < online.length && online[j]! < c) j++;
    const n = online[j] === c ? fixtureIrqCount(r.irq, c) : 0;
    perCpu.push(n);
    total += n;
  }
  w.file(`${d}/spurious`, `count ${total % 100000}\nunhandled 0\nlast_unhandled 0 ms\n`, 0o444);
  w.dir(`${d}/${r.action}`);

  const k = `/sys/kernel/irq/${r.irq}`;
  w.file(`${k}/actions`, `${r.action}\n`, 0o444);
  w.file(`${k}/chip_name`, `${r.chip}\n`, 0o444);
  w.file(`${k}/hwirq`, `${r.hwirq}\n`, 0o444);
  w.file(`${k}/name`, `${r.flow}\n`, 0o444);
  w.file(`${k}/type`, `${r.flow === 'edge' ? 'edge' : 'level'}\n`, 0o444);
  w.file(`${k}/wakeup`, 'disabled\n', 0o444);
  w.file(`${k}/per_cpu_count`, `${perCpu.join(',')}\n`, 0o444);
}

function hex4(h: string): string {
  return h.replace(/^0x/, '').toUpperCase().padStart(4, '0');
}

function writePci(w: TreeWriter, machine: FixtureMachine, p: PciRec): void {
  const d = pciDir(p.pci);
  const nodeCpus = p.node >= 0 ? machine.nodes.find((n) => n.id === p.node)?.cpus : undefined;
  // cpumask_of_node(NUMA_NO_NODE) is cpu_all_mask: every possible CPU.
  const local = nodeCpus ?? machine.possible;
  w.file(`${d}/numa_node`, `${p.node}\n`);
  w.file(`${d}/local_cpulist`, `${kernelList(local)}\n`, 0o444);
  w.file(`${d}/local_cpus`, `${kernelMask(local, machine.nrCpuIds)}\n`, 0o444);
  w.file(`${d}/vendor`, `${p.vendor}\n`, 0o444);
  w.file(`${d}/device`, `${p.device}\n`, 0o444);
  w.file(`${d}/class`, `${p.class}\n`, 0o444);
  w.file(`${d}/irq`, `${p.intx ?? 0}\n`, 0o444);
  const cls = p.class.replace(/^0x/, '').replace(/^0+(?=.)/, '').toUpperCase();
  const [v, dv] = [hex4(p.vendor), hex4(p.device)];
  const cl = p.class.replace(/^0x/, '').padStart(6, '0').toUpperCase();
  w.file(
    `${d}/uevent`,
    (p.driver ? `DRIVER=${p.driver}\n` : '') +
      `PCI_CLASS=${cls}\nPCI_ID=${v}:${dv}\nPCI_SUBSYS_ID=${v}:${dv}\nPCI_SLOT_NAME=${p.pci}\n` +
      `MODALIAS=pci:v0000${v}d0000${dv}sv0000${v}sd0000${dv}bc${cl.slice(0, 2)}sc${cl.slice(2, 4)}i${cl.slice(4, 6)}\n`,
  );
  if (p.driver) {
    const drv = `/sys/bus/pci/drivers/${p.driver}`;
    w.dir(drv);
    w.link(`${d}/driver`, drv);
    w.link(`${drv}/${p.pci}`, d);
  }
  w.link(`/sys/bus/pci/devices/${p.pci}`, d);
  if (p.irqs.length > 0) w.dir(`${d}/msi_irqs`);
  for (const irq of p.irqs) w.file(`${d}/msi_irqs/${irq}`, 'msix\n', 0o444);
  if (p.virtio) {
    const vd = `${d}/virtio${p.virtio.index}`;
    const vdrv = `/sys/bus/virtio/drivers/${p.virtio.driver}`;
    w.file(`${vd}/vendor`, '0x1af4\n', 0o444);
    w.file(`${vd}/device`, `${p.virtio.device}\n`, 0o444);
    w.file(`${vd}/uevent`, `DRIVER=${p.virtio.driver}\nMODALIAS=virtio:d0000${hex4(p.virtio.device)}v00001AF4\n`);
    w.dir(vdrv);
    w.link(`${vd}/driver`, vdrv);
    w.link(`/sys/bus/virtio/devices/virtio${p.virtio.index}`, vd);
  }
}

interface NetRec {
  name: string;
  dir: string;
  device: string | null;
  ifindex: number;
  mac: string;
  mtu: number;
  type: number;
  flags: string;
  operstate: string;
  rx: number;
  tx: number;
  /** num_tx_queues (allocated), which decides whether xps_cpus answers. */
  numTx: number;
  rps: number[];
  xps: number[];
}

function writeNet(w: TreeWriter, machine: FixtureMachine, n: NetRec): void {
  const nr = machine.nrCpuIds;
  w.link(`/sys/class/net/${n.name}`, n.dir);
  w.file(`${n.dir}/ifindex`, `${n.ifindex}\n`, 0o444);
  w.file(`${n.dir}/iflink`, `${n.ifindex}\n`, 0o444);
  w.file(`${n.dir}/address`, `${n.mac}\n`, 0o444);
  w.file(`${n.dir}/addr_len`, '6\n', 0o444);
  w.file(`${n.dir}/operstate`, `${n.operstate}\n`, 0o444);
  w.file(`${n.dir}/flags`, `${n.flags}\n`);
  w.file(`${n.dir}/mtu`, `${n.mtu}\n`);
  w.file(`${n.dir}/type`, `${n.type}\n`, 0o444);
  w.file(`${n.dir}/tx_queue_len`, '1000\n');
  if (n.device) w.link(`${n.dir}/device`, n.device);
  const rps = `${kernelMask(n.rps, nr)}\n`;
  for (let i = 0; i < n.rx; i++) {
    w.file(`${n.dir}/queues/rx-${i}/rps_cpus`, rps);
    w.file(`${n.dir}/queues/rx-${i}/rps_flow_cnt`, '0\n');
  }
  const xps = `${kernelMask(n.xps, nr)}\n`;
  const rxqs = `${kernelMask([], n.rx)}\n`;
  for (let i = 0; i < n.tx; i++) {
    const q = `${n.dir}/queues/tx-${i}`;
    if (n.numTx > 1) {
      w.file(`${q}/xps_cpus`, xps);
      w.file(`${q}/traffic_class`, '0\n', 0o444);
    } else {
      w.enoent(`${q}/xps_cpus`);
      w.enoent(`${q}/traffic_class`);
    }
    w.file(`${q}/xps_rxqs`, rxqs);
    w.file(`${q}/tx_maxrate`, '0\n');
    w.file(`${q}/tx_timeout`, '0\n', 0o444);
    const bql = `${q}/byte_queue_limits`;
    w.file(`${bql}/hold_time`, '1000\n');
    w.file(`${bql}/inflight`, '0\n', 0o444);
    w.file(`${bql}/limit`, '0\n');
    w.file(`${bql}/limit_max`, '1879048192\n');
    w.file(`${bql}/limit_min`, '0\n');
    w.file(`${bql}/stall_cnt`, '0\n', 0o444);
    w.file(`${bql}/stall_max`, '0\n');
    w.file(`${bql}/stall_thrs`, '0\n');
  }
}

function macFor(i: number): string {
  return `02:00:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
}

/**
 * Write /proc/interrupts, /proc/irq, /sys/kernel/irq, PCI functions and netdevs for `dev`
 * on `machine`. Returns the NICs as written (ifindex/mac filled in).
 */
export function writeDeviceTree(w: TreeWriter, machine: FixtureMachine, dev: FixtureDevices): FixtureNic[] {
  const nr = machine.nrCpuIds;
  const metal = machine.platform === 'metal';
  const msiChip = (bdf: string): string => `${metal ? 'IR-' : ''}PCI-MSIX-${bdf}`;
  const ioapic = metal ? 'IR-IO-APIC' : 'IO-APIC';

  // IRQ numbers: explicit ones first, then the rest in order from firstIrq, skipping taken.
  const taken = new Set<number>();
  for (const o of dev.otherIrqs) {
    if (o.irq === undefined) continue;
    if (!Number.isInteger(o.irq) || o.irq < 0) throw new Error(`fixture: IRQ "${o.name}": invalid number ${o.irq}`);
    if (taken.has(o.irq)) throw new Error(`fixture: IRQ ${o.irq} given twice (at "${o.name}")`);
    taken.add(o.irq);
  }
  let cursor = dev.firstIrq ?? Math.max(24, ...[...taken].map((i) => i + 1));
  const alloc = (): number => {
    while (taken.has(cursor)) cursor++;
    taken.add(cursor);
    return cursor++;
  };

  const pcis = new Map<string, PciRec>();
  const declare = (p: FixturePciDevice): PciRec => {
    pciDir(p.pci); // validates
    if (pcis.has(p.pci)) throw new Error(`fixture: PCI function ${p.pci} declared twice`);
    if (w.exists(pciDir(p.pci)) || w.exists(`/sys/bus/pci/devices/${p.pci}`)) {
      throw new Error(`fixture: PCI function ${p.pci} already exists in ${w.root}`);
    }
    if (p.virtio && w.exists(`/sys/bus/virtio/devices/virtio${p.virtio.index}`)) {
      throw new Error(`fixture: virtio${p.virtio.index} already exists in ${w.root}`);
    }
    const ids = PCI_IDS[p.driver ?? ''] ?? ['0x8086', '0x0001'];
    const rec: PciRec = {
      pci: p.pci,
      driver: p.driver ?? null,
      vendor: p.vendor ?? ids[0],
      device: p.device ?? ids[1],
      class: p.class ?? '0x020000',
      node: p.node ?? -1,
      virtio: p.virtio ?? null,
      irqs: [],
    };
    pcis.set(p.pci, rec);
    return rec;
  };
  for (const p of dev.pciDevices) declare(p);

  // Default affinities depend on the node only: share one array per node.
  const byNode = new Map<number, number[]>();
  const affinity = (node: number, given: number[] | undefined): number[] => {
    if (given) return irqAffinity(machine, node, given);
    let a = byNode.get(node);
    if (!a) byNode.set(node, (a = irqAffinity(machine, node, undefined)));
    return a;
  };
  // x86 effective affinity is one CPU of the mask; the guest shows the first one.
  const effective = (aff: number[]): number[] => (aff.length === 0 ? [] : single(aff[0]!));

  const irqs: IrqRec[] = [];
  for (const o of dev.otherIrqs) {
    const irq = o.irq ?? alloc();
    let chip = o.chip ?? ioapic;
    let hwirq = o.hwirq ?? irq;
    let node = o.node ?? -1;
    if (o.pci) {
      const p = pcis.get(o.pci) ?? declare({ pci: o.pci });
      chip = o.chip ?? msiChip(o.pci);
      hwirq = o.hwirq ?? p.irqs.length;
      node = o.node ?? p.node;
      p.irqs.push(irq);
    }
    irqs.push({
      irq,
      action: o.name,
      chip,
      hwirq,
      flow: o.flow ?? 'edge',
      node,
      affinity: affinity(node, o.affinity),
      effective: effective(affinity(node, o.affinity)),
      hint: [],
      managed: o.managed ?? false,
    });
  }

  const usedIfindex = new Set<number>([1]);
  for (const n of [...dev.nics, ...dev.virtualNics]) if (n.ifindex !== undefined) usedIfindex.add(n.ifindex);
  let nextIfindex = 2;
  const ifindex = (given: number | undefined): number => {
    if (given !== undefined) return given;
    while (usedIfindex.has(nextIfindex)) nextIfindex++;
    usedIfindex.add(nextIfindex);
    return nextIfindex++;
  };

  const names = new Set<string>();
  const nets: NetRec[] = [];
  const claimName = (name: string): void => {
    if (!/^[^/\s:]{1,15}$/.test(name)) throw new Error(`fixture: invalid interface name "${name}"`);
    if (names.has(name) || w.exists(`/sys/class/net/${name}`)) throw new Error(`fixture: interface ${name} already exists`);
    names.add(name);
  };
  if (!w.exists('/sys/class/net/lo')) {
    claimName('lo');
    nets.push({
      name: 'lo', dir: '/sys/devices/virtual/net/lo', device: null, ifindex: 1, mac: '00:00:00:00:00:00',
      mtu: 65536, type: 772, flags: '0x9', operstate: 'unknown', rx: 1, tx: 1, numTx: 1, rps: [], xps: [],
    });
  }
  for (const v of dev.virtualNics) {
    claimName(v.name);
    nets.push({
      name: v.name, dir: `/sys/devices/virtual/net/${v.name}`, device: null, ifindex: ifindex(v.ifindex),
      // ifb devices sit down until tc redirects to them (as on the guest: flags 0x82).
      mac: v.mac ?? macFor(0xf000 + nets.length), mtu: 1500, type: 1,
      flags: v.kind === 'ifb' ? '0x82' : '0x1003', operstate: v.kind === 'ifb' ? 'down' : 'up',
      rx: 1, tx: 1, numTx: v.kind === 'veth' ? nr : 1, rps: [], xps: [],
    });
  }

  const written: FixtureNic[] = [];
  dev.nics.forEach((nic, k) => {
    claimName(nic.name);
    checkCount(nic.queues, `NIC ${nic.name}: queues`, 1);
    const rx = checkCount(nic.rxQueues ?? nic.queues, `NIC ${nic.name}: rxQueues`, 1);
    const tx = checkCount(nic.txQueues ?? nic.queues, `NIC ${nic.name}: txQueues`, 1);
    if (nic.node >= 0 && !machine.nodes.some((n) => n.id === nic.node)) {
      throw new Error(`fixture: NIC ${nic.name}: node ${nic.node} does not exist`);
    }
    const isVirtio = nic.naming === 'virtio';
    const virtioIndex = nic.virtioIndex ?? 0;
    const p = declare({
      pci: nic.pci,
      driver: isVirtio ? 'virtio-pci' : nic.driver,
      node: nic.node,
      ...(isVirtio ? { virtio: { index: virtioIndex, driver: nic.driver, device: '0x0001' } } : {}),
    });
    const aff = affinity(nic.node, undefined);
    if (nic.naming === 'intx') {
      const irq = alloc();
      p.intx = irq;
      irqs.push({ irq, action: nic.name, chip: ioapic, hwirq: irq, flow: 'fasteoi', node: nic.node, affinity: aff, effective: effective(aff), hint: [], managed: false });
    } else nicVectors({ ...nic, virtioIndex }, machine, rx, tx).forEach((v, hw) => {
      const irq = alloc();
      p.irqs.push(irq);
      irqs.push({
        irq, action: v.action, chip: msiChip(nic.pci), hwirq: hw, flow: 'edge', node: nic.node,
        affinity: aff, effective: effective(aff), hint: v.hint, managed: false,
      });
    });
    const parent = isVirtio ? `${pciDir(nic.pci)}/virtio${virtioIndex}` : pciDir(nic.pci);
    const rec: NetRec = {
      name: nic.name, dir: `${parent}/net/${nic.name}`, device: parent, ifindex: ifindex(nic.ifindex),
      mac: nic.mac ?? macFor(k + 1), mtu: nic.mtu ?? 1500, type: 1, flags: '0x1003', operstate: 'up',
      rx, tx, numTx: tx,
      rps: nic.rps ? parseMask(nic.rps, `NIC ${nic.name} rps`) : [],
      xps: nic.xps ? parseMask(nic.xps, `NIC ${nic.name} xps`) : [],
    };
    nets.push(rec);
    written.push({ ...nic, ifindex: rec.ifindex, mac: rec.mac, mtu: rec.mtu, ...(isVirtio ? { virtioIndex } : {}) });
  });

  irqs.sort((a, b) => a.irq - b.irq);
  const texts = new MaskTexts(nr);
  for (const r of irqs) writeIrq(w, machine, texts, r);
  writeInterrupts(w, machine, irqs);
  w.file('/proc/irq/default_smp_affinity', `${kernelMask(machine.defaultAffinity, nr)}\n`);
  for (const p of pcis.values()) writePci(w, machine, p);
  for (const n of nets) writeNet(w, machine, n);
  if (!w.exists('/proc/sys/net/core/rps_sock_flow_entries')) w.file('/proc/sys/net/core/rps_sock_flow_entries', '0\n');
  return written;
}

// ---------------------------------------------------------------------------------------
// Public entry points

function defaultCmdline(spec: FixtureSpec): string {
  const base =
    spec.platform === 'kvm'
      ? 'console=ttyS0 quiet reboot=k panic=1 nomodule'
      : 'BOOT_IMAGE=/boot/vmlinuz-6.8.0-45-generic root=/dev/mapper/vg0-root ro quiet';
  const extra: string[] = [];
  if (spec.isolated && spec.isolated.length > 0) extra.push(`isolcpus=${kernelList(spec.isolated)}`);
  if (spec.nohzFull && spec.nohzFull.length > 0) extra.push(`nohz_full=${kernelList(spec.nohzFull)}`);
  return [base, ...extra].join(' ');
}

/**
 * Where new fixture roots go: $AFFINITYD_FIXTURE_TMPDIR, else /dev/shm when it is a writable
 * tmpfs, else os.tmpdir(). A big tree is ~160k tiny files; on this VM's disk-backed /tmp
 * each create costs ~0.5 ms (80 s for big1024) against ~8 µs on tmpfs.
 */
export function fixtureTmpDir(): string {
  const env = process.env['AFFINITYD_FIXTURE_TMPDIR'];
  if (env) return env;
  try {
    const TMPFS_MAGIC = 0x01021994;
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    if (fs.statfsSync('/dev/shm').type === TMPFS_MAGIC) return '/dev/shm';
  } catch {
    // no usable /dev/shm: fall through
  }
  return os.tmpdir();
}

/** Generate a fixture root from `spec`; returns its path (a new temp dir unless `dir` is given). */
export function buildFixture(spec: FixtureSpec, dir?: string): string {
  const slots = layoutCpus(spec);
  const nr = slots.length;
  const possible = slots.map((s) => s.cpu);
  const offline = new Set(checkCpus(spec.offline, nr, 'offline'));
  const online = possible.filter((c) => !offline.has(c));
  if (online.length === 0) throw new Error('fixture: every CPU is offline');
  const cmdline = spec.cmdline ?? defaultCmdline(spec);
  const irqaff = /(?:^|\s)irqaffinity=(\S+)/.exec(cmdline);
  const defaultAffinity = irqaff ? checkCpus(parseList(irqaff[1]!, 'cmdline irqaffinity='), nr, 'cmdline irqaffinity=') : possible;
  const nodes: { id: number; cpus: number[] }[] = [];
  for (let id = 0; id < spec.nodes; id++) nodes.push({ id, cpus: slots.filter((s) => s.node === id).map((s) => s.cpu) });
  const machine: FixtureMachine = {
    nrCpuIds: nr,
    possible,
    online,
    nodes,
    defaultAffinity,
    initialAffinity: spec.initialAffinity ?? 'all',
    platform: spec.platform ?? 'metal',
  };

  let root: string;
  if (dir === undefined) {
    root = fs.mkdtempSync(path.join(fixtureTmpDir(), 'affinityd-fx-'));
  } else {
    root = path.resolve(dir);
    fs.mkdirSync(root, { recursive: true });
    if (fs.readdirSync(root).length > 0) throw new Error(`fixture: target directory ${root} is not empty`);
  }
  try {
    fs.writeFileSync(path.join(root, FIXTURE_MARKER), 'generated by test/helpers/fixture.ts\n');
    const w = new TreeWriter(root);
    writeCpus(w, spec, slots, machine, cmdline);
    writeDeviceTree(w, machine, {
      nics: spec.nics ?? [],
      otherIrqs: spec.otherIrqs ?? [],
      pciDevices: spec.pciDevices ?? [],
      virtualNics: spec.virtualNics ?? [],
      ...(spec.firstIrq !== undefined ? { firstIrq: spec.firstIrq } : {}),
    });
  } catch (err) {
    fs.rmSync(root, { recursive: true, force: true });
    throw err;
  }
  return root;
}

/** Delete a tree made by buildFixture or unpackHwloc (refuses anything without the marker). */
export function removeFixture(root: string): void {
  const abs = path.resolve(root);
  if (abs === '/' || !fs.existsSync(path.join(abs, FIXTURE_MARKER))) {
    throw new Error(`fixture: refusing to remove ${abs}: not a fixture root (no ${FIXTURE_MARKER})`);
  }
  fs.rmSync(abs, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------
// Presets

function range(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let i = lo; i <= hi; i++) out.push(i);
  return out;
}

export const presets = {
  /** This VM (6.18 KVM guest): 2 vCPUs, node 0, virtio-net eth0 = virtio2 on 0000:00:03.0. */
  vm2: (): FixtureSpec => ({
    sockets: 1,
    coresPerSocket: 2,
    threadsPerCore: 1,
    nodes: 1,
    platform: 'kvm',
    cmdline: 'mitigations=auto,no_guest_host,no_guest_guest console=ttyS0 quiet reboot=k panic=1 nomodule',
    firstIrq: 37,
    pciDevices: [
      { pci: '0000:00:00.0', vendor: '0x8086', device: '0x0d57', class: '0x060000' },
      { pci: '0000:00:01.0', driver: 'virtio-pci', device: '0x1045', class: '0xffff00', virtio: { index: 0, driver: 'virtio_balloon', device: '0x0005' } },
      { pci: '0000:00:02.0', driver: 'virtio-pci', device: '0x1042', class: '0x018000', virtio: { index: 1, driver: 'virtio_blk', device: '0x0002' } },
      { pci: '0000:00:04.0', driver: 'virtio-pci', device: '0x1053', class: '0xffff00', virtio: { index: 3, driver: 'vmw_vsock_virtio_transport', device: '0x0013' } },
      { pci: '0000:00:05.0', driver: 'virtio-pci', device: '0x1044', class: '0xffff00', virtio: { index: 4, driver: 'virtio_rng', device: '0x0004' } },
    ],
    otherIrqs: [
      { irq: 24, name: 'ACPI:Ged', hwirq: 5 },
      { irq: 25, name: 'ACPI:Ged', hwirq: 6 },
      { irq: 26, name: 'ttyS0', hwirq: 4 },
      ...['config', 'inflate', 'deflate', 'stats', 'reporting_vq'].map((n, i) => ({ irq: 28 + i, name: `virtio0-${n}`, pci: '0000:00:01.0' })),
      { irq: 33, name: 'virtio4-config', pci: '0000:00:05.0' },
      { irq: 34, name: 'virtio4-input', pci: '0000:00:05.0' },
      { irq: 35, name: 'virtio1-config', pci: '0000:00:02.0', node: 0 },
      { irq: 36, name: 'virtio1-req.0', pci: '0000:00:02.0', node: 0, managed: true, affinity: [0, 1] },
      ...['config', 'rx', 'tx', 'event'].map((n, i) => ({ irq: 40 + i, name: `virtio3-${n}`, pci: '0000:00:04.0' })),
    ],
    nics: [
      { name: 'eth0', driver: 'virtio_net', pci: '0000:00:03.0', node: -1, queues: 1, naming: 'virtio', virtioIndex: 2, mac: '02:fc:00:00:00:01', ifindex: 4, mtu: 1400 },
    ],
    virtualNics: [
      { name: 'ifb0', kind: 'ifb', ifindex: 2 },
      { name: 'ifb1', kind: 'ifb', ifindex: 3 },
    ],
  }),

  /** 2 sockets × 8 cores × 2 threads = 32 CPUs, node0 = 0-7,16-23, node1 = 8-15,24-31. */
  server2s: (): FixtureSpec => ({
    sockets: 2,
    coresPerSocket: 8,
    threadsPerCore: 2,
    nodes: 2,
    firstIrq: 64,
    otherIrqs: [
      { irq: 0, name: 'timer', hwirq: 2 },
      { irq: 4, name: 'ttyS0', hwirq: 4 },
      { irq: 8, name: 'rtc0', hwirq: 8 },
      { irq: 9, name: 'acpi', hwirq: 9, flow: 'fasteoi' },
      { name: 'nvme0q0', pci: '0000:d8:00.0' },
      // blk-mq spreads managed vectors over nodes: 8 queues × 4 CPUs, node-local groups.
      ...[0, 1, 2, 3, 4, 5, 6, 7].map((q) => {
        const node = q < 4 ? 0 : 1;
        const cores = range(node * 8 + (q % 4) * 2, node * 8 + (q % 4) * 2 + 1);
        return { name: `nvme0q${q + 1}`, pci: '0000:d8:00.0', managed: true, node, affinity: [...cores, ...cores.map((c) => c + 16)] };
      }),
    ],
    pciDevices: [{ pci: '0000:d8:00.0', driver: 'nvme', class: '0x010802', node: 1 }],
    nics: [
      { name: 'ens1', driver: 'i40e', pci: '0000:3b:00.0', node: 0, queues: 16, naming: 'i40e' },
      { name: 'ens2', driver: 'ixgbe', pci: '0000:86:00.0', node: 1, queues: 16, naming: 'TxRx' },
      { name: 'ens3', driver: 'mlx5_core', pci: '0000:5e:00.0', node: 0, queues: 8, naming: 'mlx5' },
    ],
  }),

  /** 1024 CPUs: 8 sockets × 64 cores × 2 threads, 8 nodes, L3 per 8 cores; 8 NICs × 512 queues. */
  big1024: (): FixtureSpec => ({
    sockets: 8,
    coresPerSocket: 64,
    threadsPerCore: 2,
    nodes: 8,
    l3CoresPerGroup: 8,
    firstIrq: 1000,
    otherIrqs: [
      { irq: 0, name: 'timer', hwirq: 2 },
      { irq: 4, name: 'ttyS0', hwirq: 4 },
      { irq: 9, name: 'acpi', hwirq: 9, flow: 'fasteoi' },
    ],
    nics: range(0, 7).map((k) => {
      const bus = (0x10 + k * 0x20).toString(16).padStart(2, '0');
      const naming: NicNaming = k % 2 === 0 ? 'mlx5' : 'ice';
      return {
        name: `ens${k + 1}f0np0`,
        driver: naming === 'mlx5' ? 'mlx5_core' : 'ice',
        pci: `0000:${bus}:00.0`,
        node: k,
        queues: 512,
        naming,
      };
    }),
  }),
};
