// snapshot/queue-names — what an IRQ action name says about the NIC queue it serves.
//
// Pure name matching, no I/O. A name is only a hint: drivers freeze it when they request the
// vector, so the interface in it may have been renamed since, and the same suffix means
// different numbering in different drivers. The caller decides ownership from sysfs
// (msi_irqs of the PCI function) and uses this only to pick the queue number and role.
//
// Driver naming schemes recognised (N = queue number as written in the name):
//   mlx5_compN@pci:<bdf>          rxtx, PCI only (no interface in the name)
//   mlx4-comp-N@pci:<bdf>         rxtx, PCI only
//   [i40e-|ice-|iavf-|idpf-]<if>-TxRx-N    rxtx (also ixgbe, igb, bnxt_en with no prefix)
//   <if>-Tx-Rx-N                  rxtx (ena; also -rxtx-N of nfp)
//   <drv>-<bdf>-TxRx-N            rxtx, PCI only (hns3 names vectors by PCI address)
//   <if>-rx-N / <if>-tx-N         rx / tx (igb/ixgbe split vectors, tg3, qlcnic)
//   <if>-tx-M-rx-N                rxtx, queue N (qlcnic's combined last vector)
//   <if>-N                        rxtx (bnx2, mlx4_en) — only for names that look like a NIC
//   virtioX-input.N / -output.N   rx / tx of virtio-net (X is the virtio device, not the NIC)
//
// Numbers are reported exactly as written. tg3 numbers its rx vectors from 1 (vector 0 is
// "<if>-tx-0"), which cannot be told from the name alone: the caller, knowing the driver,
// shifts them (see snapshot/irqs.ts).

import type { QueueRef } from '../types.js';

export type IrqNameClass =
  | { kind: 'queue'; ref: QueueRef }
  | { kind: 'nic-misc'; ifname?: string; pci?: string; virtio?: string }
  | { kind: 'other' };

const OTHER: IrqNameClass = { kind: 'other' };

/** PCI address: domain (4 hex digits, more for VMD domains), bus, device, function. */
const BDF = '[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]';

const MLX5_COMP = new RegExp(`^mlx5_comp(\\d+)@pci:(${BDF})$`);
/** mlx5_async_eq, mlx5_pages_eq, mlx5_cmd_eq, mlx5_async (s390), mlx5_async0 (new kernels). */
const MLX5_MISC = new RegExp(`^mlx5_[a-z_]+\\d*@pci:(${BDF})$`);
const MLX4_COMP = new RegExp(`^mlx4-comp-(\\d+)@pci:(${BDF})$`);
const MLX4_MISC = new RegExp(`^mlx4-[a-z]+@pci:(${BDF})$`);
const ENA_MGMT = new RegExp(`^ena-mgmnt@pci:(${BDF})$`);
/** Intel per-function vectors named by BDF: ":misc", ":fdir-TxRx-0", ":ctrl-TxRx-0", ":ll_ts". */
const INTEL_BDF_MISC = new RegExp(`^(?:i40e|ice|iavf|idpf)-(${BDF}):\\S+$`);
const BDF_QUEUE = new RegExp(`^[a-z0-9_]+-(${BDF})-(TxRx|Rx|Tx)-(\\d+)$`);

const VIRTIO_QUEUE = /^(virtio\d+)-(input|output)\.(\d+)$/;
/** Shared virtio vectors: NIC-or-not is the caller's call (virtio-blk has them too). */
const VIRTIO_MISC = /^(virtio\d+)-(config|virtqueues)$/;

/** Intel drivers prefix the interface with their own name ("ice-eno1-TxRx-0"). */
const DRIVER_PREFIX = /^(?:i40e|ice|iavf|idpf)-(.+)$/;

const COMBINED = /^(.+)-(?:TxRx|Tx-Rx|rxtx)-(\d+)$/;
const QLCNIC_COMBINED = /^(.+)-tx-\d+-rx-(\d+)$/;
const SPLIT = /^(.+)-(rx|tx)-(\d+)$/;
const PER_RING = /^(.+)-(\d+)$/;
const MISC = /^(.+)-misc$/;

/**
 * Names of other device classes whose vectors may end like NIC ones ("psp-1", "hpsa0-msix1",
 * "virtio3-rx" of vsock): never an interface.
 */
const NOT_A_NIC = /^(?:virtio\d*|nvme\d*(?:q\d+)?|megasas\d*|lpfc|hpsa\d*|mpt\d*sas\d*|ahci\d*|[xeou]hci_hcd|ioat|psp|dmar\d*|hpet\d*|AMD-Vi\d*|smartpqi|isci|idxd\d*|qat|snd_hda_intel|i915|amdgpu|nouveau|nvkm|radeon|rtc\d*|ttyS\d*|timer|acpi|i8042|ata_piix)$/i;

/**
 * Kernel and udev interface naming schemes (ethN, enoN, ensN, enpXsY, enPXpYsZ, enxMAC, emN,
 * pXpY, ibN, wl*, ww*, wlanN), optionally with a VLAN suffix. Used where the name shape alone
 * is too weak to say "NIC" (plain "<if>" and "<if>-N"): "hpsa0" or "psp-1" are not NICs.
 */
const STANDARD_IFNAME =
  /^(?:eth\d|em\d|ib\d|wlan\d|p\d+p\d|en(?:o\d|s\d|p\d|P\d|x[0-9a-fA-F]{12}|b\d|a\d|c\d|v\d|i\d)|w[lw](?:o\d|s\d|p\d|P\d|x[0-9a-fA-F]{12}))[A-Za-z0-9_]*(?:\.\d+)?$/;

/** What the kernel accepts as an interface name (dev_valid_name): 1-15 chars, no '/', ':' or blanks. */
export function isValidIfname(s: string): boolean {
  return s.length > 0 && s.length <= 15 && s !== '.' && s !== '..' && !/[/:\s,]/.test(s);
}

function plausibleIfname(s: string): boolean {
  return isValidIfname(s) && !NOT_A_NIC.test(s);
}

function looksLikeIfname(s: string, known: ReadonlySet<string> | undefined): boolean {
  if (!isValidIfname(s)) return false;
  if (known?.has(s)) return true;
  return STANDARD_IFNAME.test(s) && !NOT_A_NIC.test(s);
}

function queue(role: QueueRef['role'], n: string, extra: Omit<QueueRef, 'role' | 'queue'>): IrqNameClass {
  // No device has 2^53 queues: such a "number" is not a queue index.
  const index = Number(n);
  if (!Number.isSafeInteger(index)) return OTHER;
  return { kind: 'queue', ref: { role, queue: index, ...extra } };
}

/** Patterns built around an interface name; null when `s` does not fit any of them. */
function matchIfnamePatterns(s: string, known: ReadonlySet<string> | undefined): IrqNameClass | null {
  let m = COMBINED.exec(s);
  if (m && plausibleIfname(m[1]!)) return queue('rxtx', m[2]!, { ifname: m[1]! });
  m = QLCNIC_COMBINED.exec(s);
  if (m && plausibleIfname(m[1]!)) return queue('rxtx', m[2]!, { ifname: m[1]! });
  m = SPLIT.exec(s);
  if (m && plausibleIfname(m[1]!)) return queue(m[2] === 'rx' ? 'rx' : 'tx', m[3]!, { ifname: m[1]! });
  m = MISC.exec(s);
  if (m && looksLikeIfname(m[1]!, known)) return { kind: 'nic-misc', ifname: m[1]! };
  m = PER_RING.exec(s);
  if (m && looksLikeIfname(m[1]!, known)) return queue('rxtx', m[2]!, { ifname: m[1]! });
  // The link/other-cause vector of igb, ixgbe, e1000e… is named after the interface alone.
  if (looksLikeIfname(s, known)) return { kind: 'nic-misc', ifname: s };
  return null;
}

function classifyOne(name: string, known: ReadonlySet<string> | undefined): IrqNameClass {
  let m: RegExpExecArray | null;
  if ((m = MLX5_COMP.exec(name))) return queue('rxtx', m[1]!, { pci: m[2]!.toLowerCase() });
  if ((m = MLX5_MISC.exec(name))) return { kind: 'nic-misc', pci: m[1]!.toLowerCase() };
  if ((m = MLX4_COMP.exec(name))) return queue('rxtx', m[1]!, { pci: m[2]!.toLowerCase() });
  if ((m = MLX4_MISC.exec(name))) return { kind: 'nic-misc', pci: m[1]!.toLowerCase() };
  if ((m = ENA_MGMT.exec(name))) return { kind: 'nic-misc', pci: m[1]!.toLowerCase() };
  if ((m = INTEL_BDF_MISC.exec(name))) return { kind: 'nic-misc', pci: m[1]!.toLowerCase() };
  if ((m = BDF_QUEUE.exec(name))) {
    const role = m[2] === 'Rx' ? 'rx' : m[2] === 'Tx' ? 'tx' : 'rxtx';
    return queue(role, m[3]!, { pci: m[1]!.toLowerCase() });
  }
  if ((m = VIRTIO_QUEUE.exec(name))) return queue(m[2] === 'input' ? 'rx' : 'tx', m[3]!, { virtio: m[1]! });
  if ((m = VIRTIO_MISC.exec(name))) return { kind: 'nic-misc', virtio: m[1]! };
  // Any other virtioN-* (virtio1-req.0 block, virtio3-rx vsock, balloon, rng…) is not a NIC.
  if (/^virtio\d+(?:-|$)/.test(name)) return OTHER;
  const prefixed = DRIVER_PREFIX.exec(name);
  if (prefixed) {
    const r = matchIfnamePatterns(prefixed[1]!, known);
    if (r) return r;
  }
  return matchIfnamePatterns(name, known) ?? OTHER;
}

/**
 * Classify one IRQ action name. `knownIfnames` (the interfaces present now) lets custom
 * names such as "i210" or "genoa0net" count as NICs where the shape alone is ambiguous
 * (plain "<if>", "<if>-N", "<if>-misc"). A ", "-joined shared-line name is classified
 * action by action and the first non-"other" answer wins. Never throws.
 */
export function classifyIrqName(name: string, knownIfnames?: ReadonlySet<string>): IrqNameClass {
  const s = name.trim();
  if (s === '') return OTHER;
  if (s.includes(',')) {
    for (const part of s.split(',')) {
      const p = part.trim();
      if (p === '') continue;
      const r = classifyOne(p, knownIfnames);
      if (r.kind !== 'other') return r;
    }
    return OTHER;
  }
  return classifyOne(s, knownIfnames);
}
