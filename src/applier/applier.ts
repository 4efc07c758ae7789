// applier — the write path: perform the writes a diff produced, read each back to verify it,
// and sort every failure by what it means for the next step (modelled on irqbalance's
// activate.c, which irqbalance users learnt the hard way).
//
// On x86 `effective_affinity` changes only when the device next interrupts, so a write is
// verified against smp_affinity_list and effective_affinity is reported, not required.

import * as fs from 'node:fs';
import { equalSets, parseCpuList, parseCpuMask } from '../cpumask/cpumask.js';
import { FsRoot } from '../snapshot/fsroot.js';
import type { Write } from './diff.js';

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

/**
 * Write without O_CREAT: a vanished /proc/irq/N must fail with ENOENT, not create a file.
 * O_TRUNC is what the shell's `echo >` does: ignored by procfs/sysfs, needed on fixture trees.
 */
function writeExisting(p: string, value: string): void {
  const fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_TRUNC);
  try {
    fs.writeSync(fd, value);
  } finally {
    fs.closeSync(fd);
  }
}

function verify(root: FsRoot, w: Write): string | null {
  const text = root.readTrim(w.path);
  if (text === null) return 'could not read back';
  if (w.cpus === null) return text === w.value ? null : `read back ${text}`;
  const got = w.path.endsWith('_list') ? parseCpuList(text) : parseCpuMask(text);
  return equalSets(got, w.cpus) ? null : `read back ${text}`;
}

export function applyWrites(writes: Write[], opts: { root?: string; dryRun?: boolean } = {}): ApplyReport {
  const root = new FsRoot(opts.root ?? '/');
  const report: ApplyReport = { changes: [], managed: [], needsReplan: false, permissionError: null };
  for (const w of writes) {
    if (opts.dryRun) {
      report.changes.push({ write: w, outcome: 'dry-run' });
      continue;
    }
    if (report.permissionError !== null) {
      report.changes.push({ write: w, outcome: 'not-attempted' });
      continue;
    }
    try {
      writeExisting(root.abs(w.path), w.value);
    } catch (e) {
      const code = errnoOf(e);
      switch (code) {
        case 'EPERM':
        case 'EIO':
          // Kernel-managed IRQ (or a chip that cannot move it): permanent; remember it so
          // the planner stops asking instead of retrying in a loop. For sysfs RPS/XPS, EPERM
          // means a missing CAP_NET_ADMIN, which is a permission problem.
          if (w.kind === 'irq') {
            report.changes.push({ write: w, outcome: 'skipped-managed', error: code });
            report.managed.push(w.irq!);
          } else {
            report.permissionError = `${w.path}: ${code} (needs root / CAP_NET_ADMIN)`;
            report.changes.push({ write: w, outcome: 'permission-denied', error: code });
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
        default:
          // ENOSPC: interrupt vectors exhausted on the target CPU; others are unexpected.
          report.changes.push({ write: w, outcome: 'failed', error: code });
      }
      continue;
    }
    const mismatch = verify(root, w);
    const effective = w.kind === 'irq' ? (root.readTrim(`/proc/irq/${w.irq}/effective_affinity_list`) ?? undefined) : undefined;
    report.changes.push({
      write: w,
      outcome: mismatch === null ? 'applied' : 'failed',
      ...(mismatch !== null ? { error: `verification failed: ${mismatch}` } : {}),
      ...(effective !== undefined ? { effective } : {}),
    });
  }
  return report;
}
