// records — the audit record kinds and how each maps onto journal fields (pure, no I/O).
//
// Every kind has a fixed MESSAGE_ID so that operators can select one kind across hosts and
// versions (`journalctl MESSAGE_ID=adbed3ae…`) and catalogs can attach explanations. The ids
// were generated once with uuid4 and must never change: changing one silently breaks every
// saved query and alert that uses it.

import { isoTime } from '../text/iso-time.js';

export type AuditKind =
  | 'applied'
  | 'skipped-managed'
  | 'skipped-vanished'
  | 'failed'
  | 'plan-summary'
  | 'policy-loaded'
  | 'policy-rejected'
  | 'drift-at-start';

export interface AuditRecord {
  kind: AuditKind;
  /** One human line, e.g. "irq 38 (eth0 rx-0) 0-1 -> 1: cpu1 online". */
  message: string;
  /** syslog priority 0 (emerg) … 7 (debug); defaults per kind (DEFAULT_PRIORITY). */
  priority?: number;
  /** What was written: "/proc/irq/38/smp_affinity", "eth0 rx-0 rps", … */
  target?: string;
  irq?: number;
  interface?: string;
  /** Queue as the kernel names its directory: "rx-0", "tx-3". */
  queue?: string;
  /** Old and new value, as cpulists. */
  old?: string;
  new?: string;
  /** The event that caused the pass: "cpu1 online", "eth1 added", "SIGHUP", "startup". */
  trigger?: string;
  /** Policy section or file that decided it. */
  policy?: string;
  error?: string;
}

export const MESSAGE_IDS: Readonly<Record<AuditKind, string>> = Object.freeze({
  'applied': 'adbed3ae85264f38b2d1759c67d89440',
  'skipped-managed': 'fc7c990ea5ef4237b56dc80a5c354d02',
  'skipped-vanished': '2743eff1a2cb4d2ca5fcc095e53f9f30',
  'failed': 'efba513ff71840ec890261f9a4e5e0eb',
  'plan-summary': '73c342e8c04e493f9aa1e3f9a5cc5cec',
  'policy-loaded': '3e97c6108ff54f71884e50ba4ca68c8b',
  'policy-rejected': 'ab5804c687ec4e6a82c460ff5a478493',
  'drift-at-start': '7d4dae9edd6b4f75a35f7eb2d3287823',
});

export const AUDIT_KINDS = Object.keys(MESSAGE_IDS) as AuditKind[];

const KIND_BY_ID: ReadonlyMap<string, AuditKind> = new Map(
  AUDIT_KINDS.map((k) => [MESSAGE_IDS[k], k] as const),
);

/** The kind a MESSAGE_ID stands for, or null for ids that are not ours. */
export function kindOfMessageId(id: string): AuditKind | null {
  return KIND_BY_ID.get(id.toLowerCase()) ?? null;
}

// syslog priorities (sd-daemon.h): only the ones the kinds use.
export const PRIORITY = { err: 3, warning: 4, notice: 5, info: 6, debug: 7 } as const;

/**
 * Changes to the machine are notices (worth reading, not a problem); a write the kernel refused
 * or a policy we could not load is an error; an IRQ the kernel manages itself, or one that went
 * away between snapshot and write, is routine and stays at info so it does not drown real issues.
 */
export const DEFAULT_PRIORITY: Readonly<Record<AuditKind, number>> = Object.freeze({
  'applied': PRIORITY.notice,
  'skipped-managed': PRIORITY.info,
  'skipped-vanished': PRIORITY.info,
  'failed': PRIORITY.err,
  'plan-summary': PRIORITY.info,
  'policy-loaded': PRIORITY.info,
  'policy-rejected': PRIORITY.err,
  'drift-at-start': PRIORITY.warning,
});

export const SYSLOG_IDENTIFIER = 'affinityd';

/** Optional record fields in the order they are written, with their journal field names. */
export const RECORD_FIELDS = [
  ['target', 'AFFINITYD_TARGET'],
  ['irq', 'AFFINITYD_IRQ'],
  ['interface', 'AFFINITYD_INTERFACE'],
  ['queue', 'AFFINITYD_QUEUE'],
  ['old', 'AFFINITYD_OLD'],
  ['new', 'AFFINITYD_NEW'],
  ['trigger', 'AFFINITYD_TRIGGER'],
  ['policy', 'AFFINITYD_POLICY'],
  ['error', 'AFFINITYD_ERROR'],
] as const satisfies readonly (readonly [keyof AuditRecord, string])[];

export function priorityOf(r: AuditRecord): number {
  const p = r.priority;
  // `+ 0` turns -0 (an integer in [0, 7] to Number.isInteger) into the 0 that JSON and the
  // journal write, so that every form of the record carries the same number.
  return p !== undefined && Number.isInteger(p) && p >= 0 && p <= 7 ? p + 0 : DEFAULT_PRIORITY[r.kind];
}

export function toJournalFields(r: AuditRecord): Record<string, string> {
  const id = MESSAGE_IDS[r.kind];
  if (id === undefined) throw new Error(`audit: unknown record kind "${String(r.kind)}"`);
  const out: Record<string, string> = {
    MESSAGE: r.message,
    PRIORITY: String(priorityOf(r)),
    MESSAGE_ID: id,
    SYSLOG_IDENTIFIER,
  };
  for (const [key, field] of RECORD_FIELDS) {
    const v = r[key];
    if (v !== undefined && v !== null && v !== '') out[field] = String(v);
  }
  return out;
}

/** The operational-log level name a syslog priority reads as in a JSON line. */
export function levelOf(priority: number): 'fatal' | 'error' | 'warn' | 'info' | 'debug' {
  if (priority <= 2) return 'fatal';
  if (priority === 3) return 'error';
  if (priority === 4) return 'warn';
  return priority === 7 ? 'debug' : 'info';
}

/**
 * A record as one JSON line (stdout sink, and the journal sink's fallback form): level, time,
 * kind, message_id and priority first, then the set fields in RECORD_FIELDS order, then the
 * message, so that lines read alike whichever sink wrote them.
 */
export function toJsonLine(r: AuditRecord, time: Date): string {
  const id = MESSAGE_IDS[r.kind];
  if (id === undefined) throw new Error(`audit: unknown record kind "${String(r.kind)}"`);
  const priority = priorityOf(r);
  const obj: Record<string, unknown> = { level: levelOf(priority), time: isoTime(time), kind: r.kind, message_id: id, priority };
  for (const [key] of RECORD_FIELDS) if (r[key] !== undefined) obj[key] = r[key];
  obj.message = r.message;
  return `${JSON.stringify(obj)}\n`;
}

/**
 * The message shape every change record uses, so that lines read alike in `journalctl`:
 * "irq 38 (eth0 rx-0) 0-1 -> 1: cpu1 online", "eth0 rx-0 rps 0-3 -> 2-3: eth1 added".
 */
export function changeMessage(subject: string, oldList: string, newList: string, trigger?: string): string {
  const show = (s: string): string => (s === '' ? '(none)' : s);
  const base = `${subject} ${show(oldList)} -> ${show(newList)}`;
  return trigger ? `${base}: ${trigger}` : base;
}

/** "irq 38 (eth0 rx-0)" / "irq 4 (ttyS0)" / "irq 9". */
export function irqSubject(irq: number, detail?: string): string {
  return detail ? `irq ${irq} (${detail})` : `irq ${irq}`;
}
