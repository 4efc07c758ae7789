// applier — the write path: perform the writes a diff produced, read each back to verify it,
// and sort every failure by what it means for the next step (modelled on irqbalance's
// activate.c, which irqbalance users learnt the hard way).
//
// On x86 `effective_affinity` changes only when the device next interrupts, so a write is
// verified against smp_affinity_list and effective_affinity is reported, not required.

//
// Where: every write goes through FsRoot.writablePath (links resolved inside --root, a path
// that would leave it refused) and is opened with O_NOFOLLOW|O_NONBLOCK, then must be a
// regular file — procfs and sysfs attributes are; a FIFO, a device or a link planted in a
// fixture tree is a per-target failure, never a write outside the tree or a hang.
// Nothing in here throws: any unexpected error is that target's failure, so a run always
// ends with a per-target report, audit records and state.

import * as fs from 'node:fs';
import { equalSets, parseCpuList, parseCpuMask } from '../cpumask/cpumask.js';
import { FsRoot, PathEscapeError, readRegularFile } from '../snapshot/fsroot.js';
import type { Write } from './diff.js';
import { clip } from '../text/printable.js';

export type Outcome =
  | 'applied'
  | 'dry-run'
  | 'skipped-managed'
  | 'skipped-vanished'
  | 'needs-replan'
  | 'failed'
  | 'permission-denied'
  | 'not-attempted';

export interface ChangeResult {
  write: Write;
  outcome: Outcome;
  /** errno code (EPERM…) or a verification mismatch description. */
  error?: string;
  /** effective_affinity_list read after the write (IRQs only). */
  effective?: string;
}

export interface ApplyReport {
  changes: ChangeResult[];
  /** IRQs the kernel refused (kernel-managed): do not plan them again. */
  managed: number[];
  /** A CPU went offline between snapshot and write: take a new snapshot and re-plan. */
  needsReplan: boolean;
  /** Not root or read-only /proc or /sys: one message for the whole run. */
  permissionError: string | null;
}

function errnoOf(e: unknown): string {
  return (e as NodeJS.ErrnoException)?.code ?? 'EUNKNOWN';
}

/** A target that is not a regular file (FIFO, device, socket, directory): never written. */
class NotRegularError extends Error {
  readonly code = 'ENOTREG';
}

/**
 * Write without O_CREAT: a vanished /proc/irq/N must fail with ENOENT, not create a file.
 * O_TRUNC is what the shell's `echo >` does: ignored by procfs/sysfs (and by FIFOs and
 * devices), needed on fixture trees. O_NONBLOCK: opening a FIFO must not wait for a reader.
 */
function writeExisting(p: string, value: string): void {
  const fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    if (!fs.fstatSync(fd).isFile()) throw new NotRegularError(`${p}: not a regular file`);
    fs.writeSync(fd, value);
  } finally {
    fs.closeSync(fd);
  }
}

/** null when the read-back matches; what went wrong otherwise (never throws). */
function verify(file: string, w: Write): string | null {
  let text: string;
  try {
    text = readRegularFile(file, 64 * 1024, fs.constants.O_NOFOLLOW).trim();
  } catch {
    return 'could not read back';
  }
  if (w.cpus === null) return text === w.value ? null : `read back ${clip(text, 40)}`;
  let got: number[];
  try {
    got = w.path.endsWith('_list') ? parseCpuList(text) : parseCpuMask(text);
  } catch {
    return `read back unparseable value "${clip(text, 40)}"`;
  }
  return equalSets(got, w.cpus) ? null : `read back ${clip(text, 40)}`;
}

const CAP_NET_ADMIN = 12;

/**
 * Whether this process holds CAP_NET_ADMIN (what sysfs wants for rps_cpus/xps_cpus). With it,
 * an EPERM on one queue is that queue's problem (a driver refusing), not "run as root".
 */
export function hasCapNetAdmin(): boolean {
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1];
    return hex !== undefined && ((BigInt('0x' + hex) >> BigInt(CAP_NET_ADMIN)) & 1n) === 1n;
  } catch {
    return process.geteuid?.() === 0;
  }
}

export interface ApplyOptions {
  root?: string;
  dryRun?: boolean;
  /** Whether EPERM on sysfs means "no CAP_NET_ADMIN" (default: read from /proc/self/status). */
  netAdmin?: boolean;
  /** The write itself (tests inject errno failures the kernel gives only on real hardware). */
  writeFile?: (file: string, value: string) => void;
}

export function applyWrites(writes: Write[], opts: ApplyOptions = {}): ApplyReport {
  const root = new FsRoot(opts.root ?? '/');
  const report: ApplyReport = { changes: [], managed: [], needsReplan: false, permissionError: null };
  let netAdmin: boolean | undefined = opts.netAdmin;
  const write = opts.writeFile ?? writeExisting;
  for (const w of writes) {
    if (opts.dryRun) {
      report.changes.push({ write: w, outcome: 'dry-run' });
      continue;
    }
    if (report.permissionError !== null) {
      report.changes.push({ write: w, outcome: 'not-attempted' });
      continue;
    }
    let file = '';
    try {
      file = root.writablePath(w.path);
      write(file, w.value);
    } catch (e) {
      const code = errnoOf(e);
      switch (code) {
        case 'EPERM':
        case 'EIO':
          if (w.kind === 'irq') {
            // The kernel answers EPERM for a kernel-managed IRQ and EIO when the chip cannot
            // move it: remember it so the planner stops asking (the state forgets it after a
            // while, see reconcile: an immutable file or a transient refusal gets retried).
            report.changes.push({ write: w, outcome: 'skipped-managed', error: code });
            report.managed.push(w.irq!);
            break;
          }
          // sysfs RPS/XPS: EPERM without CAP_NET_ADMIN is a permission problem for the whole
          // run; with it, and EIO always, it is this queue's failure (a driver refusing).
          netAdmin ??= hasCapNetAdmin();
          if (code === 'EPERM' && !netAdmin) {
            report.permissionError = `${w.path}: ${code} (needs root / CAP_NET_ADMIN)`;
            report.changes.push({ write: w, outcome: 'permission-denied', error: code });
          } else {
            report.changes.push({ write: w, outcome: 'failed', error: code });
          }
          break;
        case 'ENOENT':
        case 'ENODEV':
          // The IRQ or queue went away (driver unbound, NIC removed): the next event re-plans.
          report.changes.push({ write: w, outcome: 'skipped-vanished', error: code });
          break;
        case 'EINVAL':
        case 'EOVERFLOW':
          // The mask no longer intersects the online CPUs: a CPU went offline under us.
          report.needsReplan = true;
          report.changes.push({ write: w, outcome: 'needs-replan', error: code });
          break;
        case 'EACCES':
        case 'EROFS':
          // Not root, or /proc and /sys mounted read-only (a container, ProtectKernelTunables=):
          // every further write would fail the same way.
          report.permissionError = `${w.path}: ${code === 'EROFS' ? 'read-only filesystem' : 'permission denied'} (run as root, outside a read-only /proc,/sys)`;
          report.changes.push({ write: w, outcome: 'permission-denied', error: code });
          break;
        case 'EXDEV':
        case 'ELOOP':
        case 'ENOTREG':
        case 'ENXIO':
          // A link that leaves --root or loops, a link as the last component (O_NOFOLLOW), a
          // FIFO (ENXIO: no reader), a device: the tree is not a kernel tree here. Refused.
          report.changes.push({ write: w, outcome: 'failed', error: `${code}: ${refusal(e, code)}` });
          break;
        default:
          // ENOSPC: interrupt vectors exhausted on the target CPU; others are unexpected.
          report.changes.push({ write: w, outcome: 'failed', error: code });
      }
      continue;
    }
    const mismatch = verify(file, w);
    const effective = w.kind === 'irq' ? (root.readTrim(`/proc/irq/${w.irq}/effective_affinity_list`) ?? undefined) : undefined;
    report.changes.push({
      write: w,
      outcome: mismatch === null ? 'applied' : 'failed',
      ...(mismatch !== null ? { error: `verification failed: ${mismatch}` } : {}),
      ...(effective !== undefined ? { effective: clip(effective, 40) } : {}),
    });
  }
  return report;
}

function refusal(e: unknown, code: string): string {
  if (e instanceof PathEscapeError) return e.message.slice(e.file.length + 2);
  if (code === 'ELOOP') return 'the target is a symbolic link: refused';
  if (code === 'ENXIO') return 'the target is a FIFO: refused';
  return 'the target is not a regular file: refused';
}
