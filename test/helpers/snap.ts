// In-memory Snapshot builder for planner tests: the planner is pure, so most of its tests need
// no files at all. (Readers are tested on generated fixture trees: fixture/fixture.ts.)

import type { CpuInfo, IrqInfo, NicInfo, Snapshot } from '../../src/types.js';

export interface SnapSpec {
  sockets: number;
  coresPerSocket: number;
  threadsPerCore: number;
  /** nodes per socket (default 1) */
  nodesPerSocket?: number;
  offline?: number[];
  isolated?: number[];
  nics?: { name: string; node: number; queues: number; virtio?: boolean; rx?: number; tx?: number; driver?: string }[];
}

/** CPU numbering like Linux on Intel: thread t of core c on socket s = t*(total cores) + s*cores + c. */
export function snap(spec: SnapSpec): Snapshot {
  const totalCores = spec.sockets * spec.coresPerSocket;
  const n = totalCores * spec.threadsPerCore;
  const nodesPer = spec.nodesPerSocket ?? 1;
  const offline = new Set(spec.offline ?? []);
  const cpus: CpuInfo[] = [];
  const nodes = new Map<number, number[]>();
  for (let cpu = 0; cpu < n; cpu++) {
    const coreGlobal = cpu % totalCores;
    const s = Math.floor(coreGlobal / spec.coresPerSocket);
    const c = coreGlobal % spec.coresPerSocket;
    const node = s * nodesPer + Math.floor((c * nodesPer) / spec.coresPerSocket);
    const siblings = Array.from({ length: spec.threadsPerCore }, (_, t) => t * totalCores + coreGlobal);
    cpus.push({ cpu, online: !offline.has(cpu), package: s, die: 0, core: c, coreKey: `${s}:0:${c}`, siblings, llc: s, node });
    nodes.set(node, [...(nodes.get(node) ?? []), cpu]);
  }
  const online = cpus.filter((c) => c.online).map((c) => c.cpu);
  const irqs: IrqInfo[] = [];
  const nics: NicInfo[] = [];
  let irqNo = 100;
  const all = online;
  for (const [k, nic] of (spec.nics ?? []).entries()) {
    const rxN = nic.rx ?? nic.queues;
    const txN = nic.tx ?? nic.queues;
    const msi: number[] = [];
    const pci = `0000:${(0x10 + k).toString(16)}:00.0`;
    for (let q = 0; q < nic.queues; q++) {
      const roles = nic.virtio ? (['rx', 'tx'] as const) : (['rxtx'] as const);
      for (const role of roles) {
        const irq = irqNo++;
        msi.push(irq);
        const name = nic.virtio ? `virtio${k}-${role === 'rx' ? 'input' : 'output'}.${q}` : `${nic.name}-TxRx-${q}`;
        irqs.push({
          irq,
          name,
          actions: [name],
          chip: `IR-PCI-MSIX-${pci}`,
          counts: {},
          total: 0,
          affinity: all,
          effective: [all[0] ?? 0],
          node: nic.node,
          hint: null,
          pci,
          virtio: nic.virtio ? `virtio${k}` : null,
          queue: { role, queue: q, interface: nic.name },
        });
      }
    }
    nics.push({
      name: nic.name,
      ifindex: k + 2,
      mac: `02:00:00:00:00:${(k + 1).toString(16).padStart(2, '0')}`,
      driver: nic.driver ?? (nic.virtio ? 'virtio_net' : 'i40e'),
      pci,
      virtio: nic.virtio ? `virtio${k}` : null,
      numaNode: nic.node,
      localCpus: nic.node >= 0 ? (nodes.get(nic.node) ?? []) : all,
      msiIrqs: msi,
      rx: Array.from({ length: rxN }, (_, index) => ({ index, rpsCpus: [], rpsFlowCnt: 0 })),
      tx: Array.from({ length: txN }, (_, index) => ({ index, xpsCpus: txN > 1 ? [] : null })),
    });
  }
  return {
    root: '/nonexistent',
    topology: {
      nrCpuIds: n,
      possible: cpus.map((c) => c.cpu),
      present: cpus.map((c) => c.cpu),
      online,
      isolated: spec.isolated ?? [],
      nohzFull: [],
      irqAffinityDefault: null,
      cpus,
      nodes: [...nodes].map(([id, c]) => ({ id, cpus: c })).sort((a, b) => a.id - b.id),
    },
    irqs,
    nics,
    rpsSockFlowEntries: 0,
    warnings: [],
  };
}

/** The same machine with a different online set (CPU hotplug), keeping IRQs and NICs. */
export function withOnline(s: Snapshot, online: number[]): Snapshot {
  const on = new Set(online);
  return {
    ...s,
    topology: { ...s.topology, online: [...online].sort((a, b) => a - b), cpus: s.topology.cpus.map((c) => ({ ...c, online: on.has(c.cpu) })) },
  };
}
