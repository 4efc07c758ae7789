// fsroot — the only way the snapshot readers touch the filesystem. Every path is relative to
// a root directory so that the same readers run against the live system ("/") and against a
// fixture tree (a hwloc capture, a generated test tree). Reads are synchronous on purpose:
// sysfs/procfs files are tiny, the snapshot must be a consistent moment, and a synchronous
// pass of a few thousand small reads takes milliseconds.

//
// Hostile trees (a capture made with `cp -a`, a fixture built by someone else) are expected:
//   * a FIFO, a socket or /dev/zero where a sysfs file should be would hang or fill the heap,
//     so reads open with O_NONBLOCK, refuse anything but a regular file and stop at a size cap
//     (each refusal is one warning in `problems`);
//   * a link cycle (a -> b -> a) must end: link resolution has one hop budget per path, as the
//     kernel's MAXSYMLINKS, not one per recursion level;
//   * a write must land inside the root whatever links the tree holds: writablePath() resolves
//     with RESOLVE_IN_ROOT semantics (absolute links are relative to the root) and refuses a
//     path whose `..` would climb out of it (RESOLVE_BENEATH's EXDEV).

import * as fs from 'node:fs';
import * as path from 'node:path';

/** Kernel's MAXSYMLINKS: links followed while resolving one path. */
export const MAX_LINK_HOPS = 40;

/**
 * Largest file a reader takes. /proc/interrupts is the big one: 1152 CPUs × ~11 bytes per
 * count × a few thousand IRQs stays under it; anything larger is not a kernel file.
 */
export const MAX_READ_BYTES = 32 * 1024 * 1024;

/** A file that is there but must not be read (FIFO, device, too large): code says why. */
export class UnreadableFileError extends Error {
  constructor(
    readonly file: string,
    readonly code: 'ENOTREG' | 'EFBIG',
    why: string,
  ) {
    super(`${file}: ${why}`);
    this.name = 'UnreadableFileError';
  }
}

function kindOf(st: fs.Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

const scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Text of a regular file, at most `maxBytes` long. Opens with O_NONBLOCK so that a FIFO
 * cannot block the open, then refuses any non-regular file before reading a byte.
 * procfs/sysfs files report st_size 0 or 4096, so the size is counted while reading.
 * Throws the errno error of open() (ENOENT…) or an UnreadableFileError.
 */
export function readRegularFile(file: string, maxBytes = MAX_READ_BYTES, flags = 0): string {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | flags);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new UnreadableFileError(file, 'ENOTREG', `${kindOf(st)}, not a regular file: refused`);
    if (st.size > maxBytes) throw new UnreadableFileError(file, 'EFBIG', `${st.size} bytes, larger than the ${maxBytes}-byte limit: refused`);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const n = fs.readSync(fd, scratch, 0, scratch.length, null);
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw new UnreadableFileError(file, 'EFBIG', `larger than the ${maxBytes}-byte limit: refused`);
      chunks.push(Buffer.from(scratch.subarray(0, n)));
      if (n < scratch.length && st.size !== 0 && total >= st.size) break;
    }
    return chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, total).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** A path that resolved outside the root, or through too many links: refused for writing. */
export class PathEscapeError extends Error {
  constructor(
    readonly file: string,
    readonly code: 'EXDEV' | 'ELOOP',
    why: string,
  ) {
    super(`${file}: ${why}`);
    this.name = 'PathEscapeError';
  }
}

export class FsRoot {
  readonly root: string;
  /** Files refused while reading (special files, oversized): one line each, for warnings. */
  readonly problems: string[] = [];

  constructor(root = '/') {
    this.root = path.resolve(root);
  }

  /** Absolute host path for an absolute in-root path ("/proc/irq/38"). */
  abs(p: string): string {
    return this.root === '/' ? p : path.join(this.root, p);
  }

  /**
   * File text, or null when it does not exist or cannot be read (vanished IRQ, no perms). A
   * special file or an oversized one is null too, and says so once in `problems`.
   */
  read(p: string): string | null {
    try {
      return readRegularFile(this.abs(p));
    } catch (e) {
      if (e instanceof UnreadableFileError && this.problems.length < 100) this.problems.push(`${p}: ${e.message.slice(e.file.length + 2)}`);
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

  /**
   * The target when `p` is a symbolic link, else null — lstat first: a readlink of a plain
   * file or directory fails, and the exception Node builds for it cost ~30 µs per path
   * component, most of a write's path check (issue 14: the writes after a CPU event).
   */
  private linkTarget(p: string): string | null {
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(this.abs(p), { throwIfNoEntry: false });
    } catch {
      return null;
    }
    return st?.isSymbolicLink() ? this.readlink(p) : null;
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
   * that links which are absolute inside a capture stay inside the root (`..` above the root
   * stays at the root, as for "/.."). null when the links loop or exceed MAX_LINK_HOPS.
   */
  resolve(p: string): string | null {
    const r = this.walk(p, false);
    return typeof r === 'string' ? r : null;
  }

  /**
   * Host path to write the in-root path `p` to, resolved with RESOLVE_IN_ROOT semantics:
   * every link is followed inside the root (an absolute link is relative to the root), and a
   * `..` — written in `p` or in a link — that would climb above the root is refused, as are
   * link loops. The last component is resolved too, so the caller can open the result with
   * O_NOFOLLOW: a link swapped in afterwards fails the open instead of being followed.
   */
  writablePath(p: string): string {
    const r = this.walk(p, true);
    if (typeof r !== 'string') throw new PathEscapeError(p, r.code, r.why);
    return this.abs(r);
  }

  /**
   * One walk over the components with a single hop budget for the whole path (a per-call
   * counter let `a -> b -> a` recurse until the stack overflowed). Components still to visit
   * are a stack, so a link's target is spliced in front of the rest of the path.
   */
  private walk(p: string, beneath: boolean): string | { code: 'EXDEV' | 'ELOOP'; why: string } {
    const todo = p.split('/').filter(Boolean).reverse();
    const cur: string[] = [];
    let hops = 0;
    while (todo.length > 0) {
      const c = todo.pop()!;
      if (c === '.') continue;
      if (c === '..') {
        if (cur.length === 0) {
          if (beneath) return { code: 'EXDEV', why: 'resolves outside the root (a ".." climbs above it): refused' };
          continue;
        }
        cur.pop();
        continue;
      }
      cur.push(c);
      const link = this.linkTarget('/' + cur.join('/'));
      if (link === null) continue;
      if (++hops > MAX_LINK_HOPS) return { code: 'ELOOP', why: `more than ${MAX_LINK_HOPS} symbolic links (a link loop?): refused` };
      cur.pop();
      if (link.startsWith('/')) cur.length = 0;
      const parts = link.split('/').filter(Boolean);
      for (let i = parts.length - 1; i >= 0; i--) todo.push(parts[i]!);
    }
    return '/' + cur.join('/');
  }
}
