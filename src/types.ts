// types — the data that flows between the stages: snapshot → planner → applier → audit.
// Plain data only (no classes, no I/O handles) so that every stage can be tested with
// literals and a plan can be serialised to JSON unchanged.

import type { CpuSet } from './cpumask/cpumask.js';

// ---------------------------------------------------------------------------------------
// Snapshot: what the system looks like right now (read by src/snapshot/*).

export interface CpuInfo {
  cpu: number;
  online: boolean;
  /** physical_package_id; -1 when unknown (offline CPUs often have no topology dir). */
  package: number;
  die: number;
  /** core_id is only unique inside a package; `coreKey` is unique machine-wide. */
  core: number;
  coreKey: string;
  /** thread_siblings_list (includes the CPU itself). */
  siblings: number[];
  /** id of the last-level cache (highest cache index), -1 when unknown. */
  llc: number;
  /** NUMA node, -1 when the machine has no node directory for it. */
  node: number;
}

export interface CpuTopology {
  /** nr_cpu_ids: width of every hex mask the kernel prints. */
  nrCpuIds: number;
  possible: number[];
  present: number[];
  online: number[];
  /** From /sys/devices/system/cpu/isolated (isolcpus=). */
  isolated: number[];
  /** From /sys/devices/system/cpu/nohz_full (empty when absent). */
  nohzFull: number[];
  /** `irqaffinity=` on /proc/cmdline; null when not given. */
  irqAffinityDefault: number[] | null;
  /** Present CPUs, ascending. */
  cpus: CpuInfo[];
  /** NUMA nodes with their CPUs (may be a single node 0, or none on odd platforms). */
  nodes: { id: number; cpus: number[] }[];
}

export type QueueRole = 'rx' | 'tx' | 'rxtx';

/** What an IRQ's name says about which NIC queue it serves. */
export interface QueueRef {
  role: QueueRole;
  queue: number;
  /** Interface named in the IRQ name, if any (frozen at request time: may be stale). */
  ifname?: string;
  /** PCI address named in the IRQ name (mlx5_comp0@pci:0000:01:00.0), if any. */
  pci?: string;
  /** virtio device named in the IRQ name (virtio2-input.0), if any. */
  virtio?: string;
}

export interface IrqInfo {
  irq: number;
  /** Action names joined with ", " as in /proc/interrupts; "" when none. */
  name: string;
  actions: string[];
  chip: string;
  /** Interrupt count per online CPU (index = CPU number; undefined for absent columns). */
  counts: Record<number, number>;
  total: number;
  /** smp_affinity; null when /proc/irq/N is not readable (vanished). */
  affinity: number[] | null;
  effective: number[] | null;
  node: number | null;
  hint: number[] | null;
  /** Owning device: PCI address ("0000:00:03.0") or null. */
  pci: string | null;
  /** Owning virtio device ("virtio2"), when the PCI function is a virtio transport. */
  virtio: string | null;
  /** Resolved NIC queue, when this is a NIC queue IRQ. */
  queue: (QueueRef & { interface: string }) | null;
}

export interface RxQueue {
  index: number;
  rpsCpus: number[] | null;
  rpsFlowCnt: number | null;
}

export interface TxQueue {
  index: number;
  /** null when the file is absent (single-queue devices hide xps_cpus on new kernels). */
  xpsCpus: number[] | null;
}

export interface NicInfo {
  name: string;
  ifindex: number;
  mac: string | null;
  driver: string | null;
  /** PCI function that owns the NIC's vectors ("0000:00:03.0"), null for virtual NICs. */
  pci: string | null;
  /** virtio device between the netdev and the PCI function ("virtio2"), if any. */
  virtio: string | null;
  /** numa_node of the PCI function; -1 when firmware gives none or no device. */
  numaNode: number;
  localCpus: number[] | null;
  /** IRQs of the owning PCI function (msi_irqs), ascending. */
  msiIrqs: number[];
  /**
   * The PCI function's legacy INTx line (its `irq` file) when it has no MSI vectors: e1000,
   * and virtio-pci without MSI-X, as on the seed's Proxmox guest (IRQ 11). Optional so
   * captures and fixtures from before it keep their shape.
   */
  legacyIrq?: number | null;
  rx: RxQueue[];
  tx: TxQueue[];
}

/** A serial port backed by hardware (src/snapshot/serial.ts), with the IRQs that serve it. */
export interface SerialPortInfo {
  /** Device node ("/dev/ttyUSB0"). */
  path: string;
  /** tty name ("ttyUSB0"). */
  name: string;
  /** uart: a serial_core port with its own IRQ (8250, PL011…); usb: an adapter behind a USB host controller. */
  bus: 'uart' | 'usb' | 'other';
  /** Canonical in-root sysfs path of the port's device, null when it cannot be resolved. */
  device: string | null;
  /** Link names in /dev/serial/by-id pointing at this port ("usb-FTDI_FT232R_USB_UART_A1B2C3-if00-port0"). */
  byId: string[];
  /** USB idVendor / idProduct, 4 lower-case hex digits; null when not a USB port. */
  vendorId: string | null;
  productId: string | null;
  /** USB serial number string; null when the device has none. */
  serialNumber: string | null;
  manufacturer: string | null;
  /** PCI function that owns the IRQ (USB host controller, PCI UART card), if any. */
  pci: string | null;
  /** IRQs that serve the port, ascending; [] when none (polled UART, controller without a requested vector). */
  irqs: number[];
  /** Where `irqs` came from, for plan reasons ("ttyS0/irq", "msi_irqs of 0000:00:14.0", "polled (irq 0)"). */
  irqSource: string;
}

export interface Snapshot {
  root: string;
  topology: CpuTopology;
  irqs: IrqInfo[];
  nics: NicInfo[];
  /** Hardware serial ports; absent in hand-built snapshots (= none known). */
  serial?: SerialPortInfo[];
  /** CPUs whose NET_RX backlog holds packets but processes none (see snapshot/softnet.ts). */
  stuckBacklogCpus?: number[];
  /** net.core.rps_sock_flow_entries, null when not readable. */
  rpsSockFlowEntries: number | null;
  /** Non-fatal problems met while reading (missing files, odd lines): one line each. */
  warnings: string[];
}

// ---------------------------------------------------------------------------------------
// Policy: what the operator wants (read by src/policy/*).

export type Strategy = 'spread' | 'node' | 'pin' | 'ignore';
export type TriState = 'auto' | 'on' | 'off';

export interface Match {
  /** Interface name globs (eth*, eth0.100). */
  name?: string[];
  driver?: string[];
  /** PCI address globs. */
  pci?: string[];
  /** MAC addresses, lower case. */
  mac?: string[];
  /** IRQ action-name globs for non-NIC IRQs (ttyS0, virtio1-req.*). */
  irq?: string[];
}

export interface PolicySection {
  /** Section name as written in the file ([net:wan], [irq:serial]). */
  name: string;
  kind: 'net' | 'irq';
  match: Match;
  strategy: Strategy;
  pin: number[] | null;
  rps: TriState;
  xps: TriState;
  rpsFlowCnt: number | null;
  /** Allow this NIC's queue IRQs on other NUMA nodes when its own has no allowed CPUs left. */
  crossNode: boolean;
  file: string;
  line: number;
}

/** What a [serial:*] section matches on; every key given must match (AND), any glob of a key may (OR). */
export interface SerialMatch {
  /** Device path globs (/dev/ttyUSB*); a port's /dev/serial/by-id/ link paths count as its paths too. */
  path?: string[];
  /** Globs on /dev/serial/by-id link names. */
  byId?: string[];
  /** "vvvv:pppp" globs, lower case. */
  usbId?: string[];
  /** USB serial number globs (case-sensitive, as the device reports it). */
  serial?: string[];
}

export interface SerialSection {
  /** Section name as written in the file ([serial:gps]). */
  name: string;
  match: SerialMatch;
  strategy: 'pin' | 'ignore';
  pin: number[] | null;
  file: string;
  line: number;
}

export interface Policy {
  /** Files read, in order (later wins). Empty when built-in defaults were used. */
  files: string[];
  /** [cpus] cpus: null = all online. */
  cpus: number[] | null;
  excludeCpus: number[];
  allowIsolated: boolean;
  allowNohzFull: boolean;
  /** Online a CPU the agent sees hot-added (uevent `add`), as distributions' udev rules do. */
  onlineHotplugged: boolean;
  /** net.core.rps_sock_flow_entries to set; null = leave alone. */
  rpsSockFlowEntries: number | null;
  /** Defaults for NICs no section names. */
  defaults: Omit<PolicySection, 'name' | 'kind' | 'match' | 'file' | 'line'>;
  sections: PolicySection[];
  /**
   * [serial:*] sections in match order (last match wins). Present only when there is at
   * least one, so policies without serial sections keep their earlier shape.
   */
  serialSections?: SerialSection[];
  agent: {
    /** Settle window for coalescing an event burst (ms). */
    settleMs: number;
    /** Periodic full resync in seconds; 0 = off. */
    resyncIntervalS: number;
    stateFile: string;
  };
  metrics: {
    /** node_exporter textfile collector directory for affinityd.prom; null = off. */
    textfileDirectory: string | null;
    /** The opt-in HTTP /metrics listener, and where it was set (for errors); null = off. */
    listen: { host: string; port: number; file: string; line: number | null } | null;
  };
}

// ---------------------------------------------------------------------------------------
// Plan: what should change (produced by src/planner/*).

export interface PlannedIrq {
  irq: number;
  name: string;
  /** PCI address or virtio device, null for platform IRQs. */
  device: string | null;
  interface: string | null;
  queue: number | null;
  /** rx / tx / rxtx for NIC queue vectors. */
  role: QueueRole | null;
  node: number | null;
  current: CpuSet | null;
  /** null = left alone. */
  desired: CpuSet | null;
  reason: string;
  /** Policy section that matched, or "defaults"/null. */
  policy: string | null;
  /** Serial ports this IRQ serves ("/dev/ttyS0", or "/dev/ttyUSB0, /dev/ttyUSB1" behind one controller). */
  serial?: string;
}

export interface PlannedQueue {
  interface: string;
  queue: number;
  kind: 'rps' | 'xps';
  current: CpuSet | null;
  desired: CpuSet | null;
  /** rps_flow_cnt to set with rps (null = leave). */
  flowCnt: number | null;
  currentFlowCnt: number | null;
  policy: string | null;
}

export interface Plan {
  allowedCpus: number[];
  irqs: PlannedIrq[];
  queues: PlannedQueue[];
  rpsSockFlowEntries: { current: number | null; desired: number | null };
  warnings: string[];
}
