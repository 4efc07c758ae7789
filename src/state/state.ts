// state — the last applied plan, kept across restarts and reboots so that (1) a re-plan keeps
// queues where they were (stability), (2) IRQs the kernel refused are not retried on every
// pass, and (3) at start the agent can report what the kernel reset since (drift).
// Written atomically (temp file + rename in the same directory) so a crash mid-write never
// leaves a truncated state behind.
//
// The file is input like any other: it may be hand-edited, truncated, replaced by a FIFO or a
// link, or have the right syntax and the wrong shape ("managed": null). Every field is checked
// on read; anything wrong makes the whole file an empty state plus one problem line — the
// next pass re-plans from the system itself, which is always safe. The temp file is created
// with O_EXCL|O_NOFOLLOW, so a link planted at its name is never followed.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { MAX_CPUS } from '../cpumask/cpumask.js';
import { FsRoot, readRegularFile, UnreadableFileError } from '../snapshot/fsroot.js';
import { clip } from '../text/printable.js';
import { removeFileIfPresent } from '../remove-file.js';

export interface AppliedState {
  version: 1;
  appliedAt: string;
  trigger: string;
  /** Unit placement: "eth0/0" → 1, "irq/26" → 0. */
  assignment: Record<string, number>;
  /** IRQs that refused writes (kernel-managed). Keyed by IRQ number; names guard against renumbering. */
  managed: Record<string, string>;
  /**
   * When each `managed` IRQ last refused (ISO time). A refusal is retried once it is older
   * than MANAGED_RETRY_MS, so an EPERM from an immutable file or a transient one is not
   * remembered forever. Absent in files written before it existed (then: appliedAt).
   */
  managedSince?: Record<string, string>;
  /** Every target's value as last applied and verified: target → cpulist (or number). */
  targets: Record<string, string>;
}

/** State files are a few hundred KB even for 4096 queues; anything far larger is not ours. */
export const MAX_STATE_BYTES = 16 * 1024 * 1024;

export function emptyState(): AppliedState {
  return { version: 1, appliedAt: '', trigger: '', assignment: {}, managed: {}, targets: {} };
}

/**
 * Host path of the state file for `--root`: the directory is resolved inside the root
 * (FsRoot.writablePath: links followed in-root, a `..` out of it refused with PathEscapeError),
 * so a fixture tree whose /var/lib links elsewhere cannot make apply write outside it.
 */
export function stateFilePath(root: string, stateFile: string): string {
  if (root === '/' || path.resolve(root) === '/') return stateFile;
  const dir = new FsRoot(root).writablePath(path.posix.dirname(stateFile));
  return path.join(dir, path.posix.basename(stateFile));
}

class ShapeError extends Error {}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function record<T>(v: unknown, field: string, check: (key: string, value: unknown) => value is T): Record<string, T> {
  if (!isObject(v)) throw new ShapeError(`"${field}" is ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}, expected an object`);
  const out: Record<string, T> = {};
  for (const [k, x] of Object.entries(v)) {
    if (!check(k, x)) throw new ShapeError(`"${field}" entry "${clip(k, 40)}": ${clip(JSON.stringify(x) ?? String(x), 40)} is not valid here`);
    Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

const isCpu = (_k: string, x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < MAX_CPUS;
const isIrqName = (k: string, x: unknown): x is string => /^\d{1,10}$/.test(k) && typeof x === 'string';
const isText = (_k: string, x: unknown): x is string => typeof x === 'string';
const isTime = (k: string, x: unknown): x is string => /^\d{1,10}$/.test(k) && typeof x === 'string' && !Number.isNaN(Date.parse(x));

/** Check every field; throws ShapeError naming the first bad one. */
export function validateState(v: unknown): AppliedState {
  if (!isObject(v)) throw new ShapeError(`top level is ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}, expected an object`);
  if (v.version !== 1) throw new ShapeError(`unknown format (version ${clip(JSON.stringify(v.version) ?? 'missing', 20)}, expected 1)`);
  const text = (field: 'appliedAt' | 'trigger'): string => {
    const x = v[field];
    if (x === undefined) return '';
    if (typeof x !== 'string') throw new ShapeError(`"${field}" is not a string`);
    return x;
  };
  const state: AppliedState = {
    version: 1,
    appliedAt: text('appliedAt'),
    trigger: text('trigger'),
    assignment: record(v.assignment, 'assignment', isCpu),
    managed: v.managed === undefined ? {} : record(v.managed, 'managed', isIrqName),
    targets: v.targets === undefined ? {} : record(v.targets, 'targets', isText),
  };
  if (v.managedSince !== undefined) state.managedSince = record(v.managedSince, 'managedSince', isTime);
  return state;
}

/** Read the state; a missing, unreadable, special, oversized or malformed file is an empty state plus a reason. */
export function readState(file: string): { state: AppliedState; problem: string | null } {
  let text: string;
  try {
    // O_NOFOLLOW: a state file replaced by a link (to /etc/shadow, to a FIFO) is not read.
    text = readRegularFile(file, MAX_STATE_BYTES, fs.constants.O_NOFOLLOW);
  } catch (e) {
    if (e instanceof UnreadableFileError) return { state: emptyState(), problem: `${e.message.replace(/refused$/, 'ignored')}, starting from an empty state` };
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { state: emptyState(), problem: null };
    const why = code === 'ELOOP' ? 'is a symbolic link' : code;
    return { state: emptyState(), problem: `${file}: ${why}: ignored, starting from an empty state` };
  }
  try {
    return { state: validateState(JSON.parse(text)), problem: null };
  } catch (e) {
    const why = e instanceof ShapeError ? e.message : `not JSON (${clip((e as Error).message, 60)})`;
    return { state: emptyState(), problem: `${file}: ignored, ${why}; starting from an empty state` };
  }
}

/**
 * `bytes` random bytes from the kernel's CSPRNG, as hex. Read from /dev/urandom rather than
 * node:crypto's randomBytes(): loading node:crypto (and OpenSSL's set-up with it) adds 2.6 MB
 * of RSS to a bare node, kept by a running agent for these six bytes per pass (issue 14). The
 * unit's PrivateDevices= keeps /dev/urandom.
 */
function unpredictableHex(bytes: number): string {
  const buf = Buffer.alloc(bytes);
  let fd: number;
  try {
    fd = fs.openSync('/dev/urandom', 'r');
  } catch {
    // No /dev (a bare chroot or container): node:crypto, loaded only then, rather than no state.
    return (createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto')).randomBytes(bytes).toString('hex');
  }
  try {
    if (fs.readSync(fd, buf, 0, bytes, null) !== bytes) throw new Error('/dev/urandom: short read');
  } finally {
    fs.closeSync(fd);
  }
  return buf.toString('hex');
}

export function writeState(file: string, state: AppliedState): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const existing = fs.lstatSync(file, { throwIfNoEntry: false });
  // rename() would replace a directory's or a FIFO's name with our file: not ours to replace.
  if (existing && !existing.isFile() && !existing.isSymbolicLink()) {
    throw Object.assign(new Error(`${file}: exists and is not a regular file`), { code: 'ENOTREG' });
  }
  // A name no one can predict, created exclusively and never through a link: a planted
  // `state.json.<pid>.tmp -> /etc/passwd` cannot redirect the write.
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${unpredictableHex(6)}.tmp`);
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o644);
  try {
    try {
      fs.writeSync(fd, JSON.stringify(state, null, 1) + '\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    // rename() replaces a link at `file` itself, never what it points to.
    fs.renameSync(tmp, file);
  } catch (e) {
    removeFileIfPresent(tmp);
    throw e;
  }
}
