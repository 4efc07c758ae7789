// snapshot — one consistent picture of CPUs, IRQs and NICs under a root directory.
// The only entry point the shell uses; everything downstream (planner) is pure.

import type { Snapshot } from '../types.js';
import { readCpuTopology, type TopologyCache } from './cpus.js';
import { FsRoot } from './fsroot.js';
import { readIrqs } from './irqs.js';
import { readNics } from './nics.js';
import { readStuckBacklogs } from './softnet.js';
import { readSysfsPorts } from './serial.js';

export interface SnapshotOptions {
  /** Keep static per-CPU topology between snapshots (the agent). */
  topologyCache?: TopologyCache;
  /** Read serial ports (default true); the agent skips them when no [serial:*] section exists. */
  serial?: boolean;
}

export function takeSnapshot(root = '/', opts: SnapshotOptions = {}): Snapshot {
  const fs = new FsRoot(root);
  const warnings: string[] = [];
  const topology = readCpuTopology(fs, warnings, opts.topologyCache);
  const nics = readNics(fs, warnings);
  const irqs = readIrqs(fs, nics, warnings);
  // sysfs, not udev: synchronous, and it already shows a USB adapter whose kernel uevent
  // woke the agent before udev has processed it.
  const serial = opts.serial === false ? [] : readSysfsPorts(fs, new Set(irqs.map((i) => i.irq)));
  const stuckBacklogCpus = readStuckBacklogs(fs, topology.online);
  const rpsSockFlowEntries = fs.readInt('/proc/sys/net/core/rps_sock_flow_entries');
  // FIFOs, devices and oversized files met on the way (each read as absent).
  warnings.push(...fs.problems);
  return {
    root: fs.root,
    topology,
    irqs,
    nics,
    serial,
    stuckBacklogCpus,
    rpsSockFlowEntries,
    warnings,
  };
}
