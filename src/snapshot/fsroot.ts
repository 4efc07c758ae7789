// fsroot — the only way the snapshot readers touch the filesystem. Every path is relative to
// a root directory so that the same readers run against the live system ("/") and against a
// fixture tree (a hwloc capture, a generated test tree). Reads are synchronous on purpose:
// sysfs/procfs files are tiny, the snapshot must be a consistent moment, and a synchronous
// pass of a few thousand small reads takes milliseconds.

import * as fs from 'node:fs';
import * as path from 'node:path';

export class FsRoot {
  readonly root: string;

  constructor(root = '/') {
    this.root = path.resolve(root);
  }

  /** Absolute host path for an absolute in-root path ("/proc/irq/38"). */
  abs(p: string): string {
    return this.root === '/' ? p : path.join(this.root, p);
  }

  /** File text, or null when it does not exist or cannot be read (vanished IRQ, no perms). */
  read(p: string): string | null {
    try {
      return fs.readFileSync(this.abs(p), 'utf8');
    } catch {
      return null;
    }
  }

  /** Trimmed file text or null. */
  readTrim(p: string): string | null {
    const t = this.read(p);
    return t === null ? null : t.trim();
  }

  readInt(p: string): number | null {
    const t = this.readTrim(p);
    if (t === null || !/^-?\d+$/.test(t)) return null;
    return Number(t);
  }

  exists(p: string): boolean {
    return fs.existsSync(this.abs(p));
  }

  isDir(p: string): boolean {
    try {
      return fs.statSync(this.abs(p)).isDirectory();
    } catch {
      return false;
    }
  }

  /** Directory entries, sorted; [] when absent. */
  list(p: string): string[] {
    try {
      return fs.readdirSync(this.abs(p)).sort();
    } catch {
      return [];
    }
  }

  /** readlink target (may be relative, may dangle — captures often have dangling links). */
  readlink(p: string): string | null {
    try {
      return fs.readlinkSync(this.abs(p));
    } catch {
      return null;
    }
  }

  /**
   * Resolve a symlinked sysfs path to its in-root canonical form ("/sys/class/net/eth0" →
   * "/sys/devices/pci0000:00/0000:00:03.0/virtio2/net/eth0"), resolving link by link so
   * that links which are absolute inside a capture stay inside the root.
   */
  resolve(p: string): string | null {
    const parts = p.split('/').filter(Boolean);
    let cur = '/';
    for (let hops = 0, i = 0; i < parts.length; i++) {
      const next = path.posix.join(cur, parts[i]!);
      const link = this.readlink(next);
      if (link === null) {
        cur = next;
        continue;
      }
      if (++hops > 40) return null;
      const target = link.startsWith('/') ? link : path.posix.join(cur, link);
      // Re-resolve the target's own components, then continue with the rest.
      const resolved = this.resolve(path.posix.normalize(target));
      if (resolved === null) return null;
      cur = resolved;
    }
    return cur;
  }
}
