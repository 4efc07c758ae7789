// state — the last applied plan, kept across restarts and reboots so that (1) a re-plan keeps
// queues where they were (stability), (2) IRQs the kernel refused are not retried, and (3)
// at start the agent can report what the kernel reset since (drift).
// Written atomically (temp file + rename in the same directory) so a crash mid-write never
// leaves a truncated state behind.

import * as fs from 'node:fs';
import * as path from 'node:path';

export interface AppliedState {
  version: 1;
  appliedAt: string;
  trigger: string;
  /** Unit placement: "eth0/0" → 1, "irq/26" → 0. */
  assignment: Record<string, number>;
  /** IRQs that refused writes (kernel-managed). Keyed by IRQ number; names guard against renumbering. */
  managed: Record<string, string>;
  /** Every target's desired value as last applied: target → cpulist (or number). */
  targets: Record<string, string>;
}

export function emptyState(): AppliedState {
  return { version: 1, appliedAt: '', trigger: '', assignment: {}, managed: {}, targets: {} };
}

/** Read the state; a missing, unreadable or corrupt file is an empty state plus a reason. */
export function readState(file: string): { state: AppliedState; problem: string | null } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { state: emptyState(), problem: code === 'ENOENT' ? null : `${file}: ${code}` };
  }
  try {
    const parsed = JSON.parse(text) as Partial<AppliedState>;
    if (parsed.version !== 1 || typeof parsed.assignment !== 'object') throw new Error('unknown format');
    return { state: { ...emptyState(), ...parsed } as AppliedState, problem: null };
  } catch (e) {
    return { state: emptyState(), problem: `${file}: ignored, ${(e as Error).message}` };
  }
}

export function writeState(file: string, state: AppliedState): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeSync(fd, JSON.stringify(state, null, 1) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
