// audit-reader — reads the audit trail back from the journal (`affinityd audit`).
//
// journalctl does the querying (matches, --since, file formats, rotation, permissions); this
// module only builds its command line, parses `-o json` and formats a table. Field matches on
// different fields are ANDed by journalctl, which is what "irq 38 on eth0 since 1h" means.

import { execFile } from 'node:child_process';
import { kindOfMessageId, RECORD_FIELDS, SYSLOG_IDENTIFIER, MESSAGE_IDS, AUDIT_KINDS, type AuditKind, type AuditRecord } from './records.js';

export class AuditReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditReadError';
  }
}

export interface ReadAuditOptions {
  /** Anything journalctl --since accepts: "1h ago", "today", "2025-01-31 12:00". */
  since?: string;
  irq?: number;
  interface?: string;
  kind?: AuditKind;
  /** Read journal files from this directory (journalctl -D), e.g. a copied /var/log/journal. */
  directory?: string;
  /** Read a journal namespace (journalctl --namespace), e.g. the test harness's instance. */
  namespace?: string;
  /** journalctl binary (default: found on PATH). */
  journalctl?: string;
  /** Only the newest N entries. */
  lines?: number;
}

/** A record read back: the record's own fields (AFFINITYD_*) plus what journald adds. */
export interface AuditEntry extends Omit<AuditRecord, 'kind' | 'priority'> {
  /** When journald received it (__REALTIME_TIMESTAMP). */
  time: Date;
  /** null for records with a MESSAGE_ID this version does not know (newer writer). */
  kind: AuditKind | null;
  messageId: string | null;
  priority: number | null;
}

const OUTPUT_FIELDS = ['MESSAGE', 'PRIORITY', 'MESSAGE_ID', ...RECORD_FIELDS.map(([, f]) => f)];

export function journalctlArgs(opts: ReadAuditOptions): string[] {
  // --all: without it journalctl prints fields over 4096 bytes as null.
  const args = ['-o', 'json', `--output-fields=${OUTPUT_FIELDS.join(',')}`, '--all', '--no-pager', '-q'];
  if (opts.directory !== undefined) args.push(`--directory=${opts.directory}`);
  if (opts.namespace !== undefined) args.push(`--namespace=${opts.namespace}`);
  if (opts.since !== undefined) {
    if (opts.since.trim() === '') throw new AuditReadError('audit: --since must not be empty');
    args.push(`--since=${opts.since}`);
  }
  if (opts.lines !== undefined) {
    if (!Number.isInteger(opts.lines) || opts.lines < 1) throw new AuditReadError(`audit: lines must be a positive integer, got ${opts.lines}`);
    args.push(`--lines=${opts.lines}`);
  }
  args.push(`SYSLOG_IDENTIFIER=${SYSLOG_IDENTIFIER}`);
  if (opts.irq !== undefined) {
    if (!Number.isInteger(opts.irq) || opts.irq < 0) throw new AuditReadError(`audit: irq must be a non-negative integer, got ${opts.irq}`);
    args.push(`AFFINITYD_IRQ=${opts.irq}`);
  }
  if (opts.interface !== undefined) {
    if (!/^[^\s/=]{1,15}$/.test(opts.interface)) throw new AuditReadError(`audit: invalid interface name "${opts.interface}"`);
    args.push(`AFFINITYD_INTERFACE=${opts.interface}`);
  }
  if (opts.kind !== undefined) {
    const id = MESSAGE_IDS[opts.kind];
    if (id === undefined) throw new AuditReadError(`audit: unknown kind "${opts.kind}" (one of ${AUDIT_KINDS.join(', ')})`);
    args.push(`MESSAGE_ID=${id}`);
  }
  return args;
}

/**
 * journalctl -o json prints a field as a string, as an array of byte values when it is not
 * valid UTF-8 or has control characters, as an array of those when the field repeats, and as
 * null when it was too large to show.
 */
function fieldText(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (v === null) return '[value too large]';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'number')) return Buffer.from(v as number[]).toString('utf8');
    return v.map(fieldText).filter((x) => x !== undefined).join(' | ');
  }
  return String(v);
}

export function parseJournalJson(text: string): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new AuditReadError(`journalctl printed a line that is not JSON: ${line.slice(0, 80)}`);
    }
    const us = Number(fieldText(o.__REALTIME_TIMESTAMP) ?? NaN);
    const id = fieldText(o.MESSAGE_ID) ?? null;
    const prio = fieldText(o.PRIORITY);
    const e: AuditEntry = {
      time: new Date(Number.isFinite(us) ? Math.floor(us / 1000) : 0),
      kind: id ? kindOfMessageId(id) : null,
      messageId: id,
      priority: prio !== undefined && /^[0-7]$/.test(prio) ? Number(prio) : null,
      message: fieldText(o.MESSAGE) ?? '',
    };
    for (const [key, field] of RECORD_FIELDS) {
      const v = fieldText(o[field]);
      if (v === undefined) continue;
      if (key === 'irq') {
        if (/^\d+$/.test(v)) e.irq = Number(v);
      } else {
        e[key] = v;
      }
    }
    out.push(e);
  }
  return out;
}

function runJournalctl(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        return reject(new AuditReadError(`${bin} not found: reading the audit trail needs systemd's journalctl (without a journal, affinityd writes audit records as JSON lines to stdout)`));
      }
      if (code === 'EACCES') return reject(new AuditReadError(`${bin} is not executable`));
      const first = stderr.split('\n').map((l) => l.trim()).find((l) => l !== '');
      reject(new AuditReadError(`journalctl failed: ${first ?? err.message.split('\n')[0]}`));
    });
  });
}

export async function readAudit(opts: ReadAuditOptions = {}): Promise<AuditEntry[]> {
  const args = journalctlArgs(opts);
  return parseJournalJson(await runJournalctl(opts.journalctl ?? 'journalctl', args));
}

// ---------------------------------------------------------------------------------------
// Table

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** Local time, second precision: what an operator compares with other logs on the host. */
function formatTime(d: Date): string {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

export function formatAuditTable(entries: readonly AuditEntry[]): string {
  if (entries.length === 0) return 'no audit records\n';
  const rows = entries.map((e) => [
    formatTime(e.time),
    e.kind ?? e.messageId ?? '-',
    e.irq !== undefined ? String(e.irq) : '-',
    e.interface !== undefined ? (e.queue !== undefined ? `${e.interface} ${e.queue}` : e.interface) : '-',
    // One line per record: a multi-line error would break the columns.
    e.message.replace(/\s*\n\s*/g, ' ⏎ '),
  ]);
  const header = ['TIME', 'KIND', 'IRQ', 'DEVICE', 'MESSAGE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]): string =>
    r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n') + '\n';
}

/** `affinityd audit [--since X] [--irq N] [--interface IF] [--json]`: text to print. */
export async function auditCommand(opts: ReadAuditOptions & { json?: boolean }): Promise<string> {
  const entries = await readAudit(opts);
  if (opts.json) return entries.map((e) => JSON.stringify({ ...e, time: e.time.toISOString() })).join('\n') + (entries.length ? '\n' : '');
  return formatAuditTable(entries);
}
