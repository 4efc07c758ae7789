// snapshot — one consistent picture of CPUs, IRQs and NICs under a root directory.
// The only entry point the shell uses; everything downstream (planner) is pure.

import type { Snapshot } from '../types.js';
import { readCpuTopology } from './cpus.js';
import { FsRoot } from './fsroot.js';
import { readIrqs } from './irqs.js';
import { readNics } from './nics.js';

export function takeSnapshot(root = '/'): Snapshot {
  const fs = new FsRoot(root);
  const warnings: string[] = [];
  const topology = readCpuTopology(fs, warnings);
  const nics = readNics(fs, warnings);
  const irqs = readIrqs(fs, nics, warnings);
  return {
    root: fs.root,
    topology,
    irqs,
    nics,
    rpsSockFlowEntries: fs.readInt('/proc/sys/net/core/rps_sock_flow_entries'),
    warnings,
  };
}
