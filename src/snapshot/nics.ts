// snapshot/nics — network interfaces, the device that owns their interrupt vectors, and
// their rx/tx queues' steering masks, from /sys/class/net and /sys/bus/pci.
//
// The owning PCI function is not always `IF/device`: virtio-net's `device` is a virtio bus
// device (`virtio2`) whose *parent* is the PCI function holding the MSI-X vectors; a USB
// NIC's is a USB interface under a host controller. We walk up the canonical device path to
// the nearest PCI function (`DDDD:BB:DD.F`).

import * as path from 'node:path';
import type { NicInfo, RxQueue, TxQueue } from '../types.js';
import type { FsRoot } from './fsroot.js';
import { readCpus } from './cpus.js';

const NET = '/sys/class/net';
const PCI_ADDR = /^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;

/** Virtual net devices that steer nothing useful; never managed unless a policy names them. */
const STACKED_DEVTYPES = new Set(['bridge', 'bond', 'vlan', 'macvlan', 'ipvlan', 'team', 'vxlan', 'geneve', 'wlan']);

export interface DeviceRef {
  /** Canonical in-root sysfs path of the device. */
  path: string;
  pci: string | null;
  /** In-root path of the PCI function, when there is one. */
  pciPath: string | null;
  virtio: string | null;
  driver: string | null;
}

/** Driver of a device directory: `driver` symlink basename, else DRIVER= in uevent. */
export function readDriver(fs: FsRoot, devPath: string): string | null {
  const link = fs.readlink(`${devPath}/driver`);
  if (link) return path.posix.basename(link);
  const uevent = fs.read(`${devPath}/uevent`) ?? '';
  const m = /^DRIVER=(.+)$/m.exec(uevent);
  return m ? m[1]!.trim() : null;
}

/** Resolve a device path up to its PCI function and virtio hop. */
export function resolveDevice(fs: FsRoot, devLinkPath: string): DeviceRef | null {
  const canonical = fs.resolve(devLinkPath);
  if (canonical === null || !fs.exists(canonical)) return null;
  const parts = canonical.split('/');
  let pci: string | null = null;
  let pciPath: string | null = null;
  let virtio: string | null = null;
  for (let i = parts.length - 1; i >= 0; i--) {
    const name = parts[i]!;
    if (virtio === null && pci === null && /^virtio\d+$/.test(name)) virtio = name;
    if (PCI_ADDR.test(name)) {
      pci = name.toLowerCase();
      pciPath = parts.slice(0, i + 1).join('/');
      break;
    }
  }
  return { path: canonical, pci, pciPath, virtio, driver: readDriver(fs, canonical) };
}

/** IRQ numbers of a PCI function's MSI/MSI-X vectors (file or, on old kernels, directory each). */
export function readMsiIrqs(fs: FsRoot, pciPath: string): number[] {
  return fs
    .list(`${pciPath}/msi_irqs`)
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}

function readQueues(fs: FsRoot, ifPath: string, warnings: string[]): { rx: RxQueue[]; tx: TxQueue[] } {
  const rx: RxQueue[] = [];
  const tx: TxQueue[] = [];
  for (const q of fs.list(`${ifPath}/queues`)) {
    const m = /^(rx|tx)-(\d+)$/.exec(q);
    if (!m) continue;
    const dir = `${ifPath}/queues/${q}`;
    const index = Number(m[2]);
    if (m[1] === 'rx') {
      rx.push({ index, rpsCpus: readCpus(fs, `${dir}/rps_cpus`, warnings, 'mask'), rpsFlowCnt: fs.readInt(`${dir}/rps_flow_cnt`) });
    } else {
      tx.push({ index, xpsCpus: readCpus(fs, `${dir}/xps_cpus`, warnings, 'mask') });
    }
  }
  rx.sort((a, b) => a.index - b.index);
  tx.sort((a, b) => a.index - b.index);
  return { rx, tx };
}

/**
 * All network interfaces worth steering: those backed by a device (PCI, virtio, USB…) and
 * veth pairs (their receive path goes through the per-CPU backlog, which RPS spreads).
 * Loopback and stacked devices (bridge, bond, vlan…) are skipped: their packets were
 * already steered on the lower device.
 */
export function readNics(fs: FsRoot, warnings: string[]): NicInfo[] {
  const nics: NicInfo[] = [];
  for (const name of fs.list(NET)) {
    const ifPath = `${NET}/${name}`;
    if (!fs.isDir(ifPath)) continue; // bonding_masters and similar plain files
    const uevent = fs.read(`${ifPath}/uevent`) ?? '';
    const devtype = /^DEVTYPE=(.+)$/m.exec(uevent)?.[1]?.trim() ?? null;
    const ifindex = fs.readInt(`${ifPath}/ifindex`) ?? -1;
    const iflink = fs.readInt(`${ifPath}/iflink`);
    const type = fs.readInt(`${ifPath}/type`);
    const dev = fs.exists(`${ifPath}/device`) ? resolveDevice(fs, `${ifPath}/device`) : null;
    let driver: string | null = dev?.driver ?? null;
    if (dev === null) {
      if (name === 'lo' || type === 772 /* ARPHRD_LOOPBACK */) continue;
      if (devtype !== null && STACKED_DEVTYPES.has(devtype)) continue;
      // Software Ethernet devices that carry traffic of their own: a veth's iflink is its
      // peer's ifindex — but ifindexes are per namespace, so a peer in another namespace can
      // have the same number. The other sign is a name given at creation (name_assign_type
      // readable: user- or kernel-enumerated), which module-created placeholders such as
      // ifb0/dummy0 lack (NET_NAME_UNKNOWN reads EINVAL). Tunnels and tun are not ARPHRD_ETHER.
      if (devtype !== null || type !== 1 /* ARPHRD_ETHER */) continue;
      const named = fs.readTrim(`${ifPath}/name_assign_type`) !== null;
      if (!named && (iflink === null || iflink === ifindex)) continue;
      driver = iflink !== null && iflink !== ifindex ? 'veth' : 'virtual';
    }
    let numaNode = -1;
    let localCpus: number[] | null = null;
    let msiIrqs: number[] = [];
    let legacyIrq: number | null = null;
    if (dev?.pciPath) {
      numaNode = fs.readInt(`${dev.pciPath}/numa_node`) ?? -1;
      localCpus = readCpus(fs, `${dev.pciPath}/local_cpulist`, warnings);
      msiIrqs = readMsiIrqs(fs, dev.pciPath);
      // Without MSI the function interrupts on its INTx line; `irq` names it (0: none routed).
      if (msiIrqs.length === 0) legacyIrq = fs.readInt(`${dev.pciPath}/irq`) || null;
    }
    const { rx, tx } = readQueues(fs, ifPath, warnings);
    nics.push({
      name,
      ifindex,
      mac: fs.readTrim(`${ifPath}/address`)?.toLowerCase() ?? null,
      driver,
      pci: dev?.pci ?? null,
      virtio: dev?.virtio ?? null,
      numaNode,
      localCpus,
      msiIrqs,
      legacyIrq,
      rx,
      tx,
    });
  }
  return nics;
}
