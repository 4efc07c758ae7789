// applier/online — onlining CPUs that were hot-added ([cpus] online-hotplugged = true).
//
// The kernel registers a hot-added CPU offline and announces it with an `add` uevent; on
// hosts without a udev rule for it the CPU stays unused until someone writes its `online`
// file. These writes go through the same applier as every other target (write, read back,
// errno classification, audit record), so onlining is reported like any mask change.
// Only CPUs named by an `add` event are touched: a CPU an administrator took offline is
// not hot-added and is never brought back.

import { FsRoot } from '../snapshot/fsroot.js';
import { cpuOnlineTarget } from '../targets.js';
import type { Write } from './diff.js';

/** Writes that online each of `cpus` still offline (pure over what `root` reads now). */
export function onlineWrites(root: string, cpus: Iterable<number>): Write[] {
  const fs = new FsRoot(root);
  const out: Write[] = [];
  for (const cpu of [...new Set(cpus)].sort((a, b) => a - b)) {
    const file = `/sys/devices/system/cpu/cpu${cpu}/online`;
    if (fs.readTrim(file) !== '0') continue; // already online, or not hotpluggable (no file)
    out.push({ kind: 'cpu-online', target: cpuOnlineTarget(cpu), path: file, value: '1', old: '0', new: '1', cpus: null, policy: 'cpus', reason: 'online a hot-added CPU ([cpus] online-hotplugged)' });
  }
  return out;
}
