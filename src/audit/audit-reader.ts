// audit-reader — reads the audit trail back from the journal (`affinityd audit`).
//
// journalctl does the querying (matches, --since, file formats, rotation, permissions); this
// module only builds its command line, parses `-o json` and formats a table. Field matches on
// different fields are ANDed by journalctl, which is what "irq 38 on eth0 since 1h" means.
//
// Its output is read as a stream, one line at a time: a host's years of history (200 000
// records and more) never sit in one buffer, and a journalctl that stops talking without
// exiting is stopped after `idleTimeoutMs`. Journals collected from many hosts
// (systemd-journal-remote, `--directory`/`--file`) carry each record's _HOSTNAME: the HOST
// column.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { isoTime } from '../text/iso-time.js';
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
  /** Read journal files from this directory (journalctl -D), e.g. systemd-journal-remote's output. */
  directory?: string;
  /** Read this journal file (journalctl --file), e.g. one remote-<host>.journal. */
  file?: string;
  /** Stop journalctl when it prints nothing for this long without exiting (default 60 s). */
  idleTimeoutMs?: number;
  /** Told about lines that were skipped (not journal entries); default: ignored. */
  onWarning?: (message: string) => void;
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
  /** _HOSTNAME: the host that wrote the record (journals collected from a fleet). */
  host?: string;
}

const OUTPUT_FIELDS = ['MESSAGE', 'PRIORITY', 'MESSAGE_ID', '_HOSTNAME', ...RECORD_FIELDS.map(([, f]) => f)];

/** Default idle bound: journalctl streams continuously while it reads; a minute of silence is a hang. */
export const IDLE_TIMEOUT_MS = 60_000;

export function journalctlArgs(opts: ReadAuditOptions): string[] {
  // --all: without it journalctl prints fields over 4096 bytes as null.
  const args = ['-o', 'json', `--output-fields=${OUTPUT_FIELDS.join(',')}`, '--all', '--no-pager', '-q'];
  if (opts.directory !== undefined) args.push(`--directory=${opts.directory}`);
  if (opts.file !== undefined) args.push(`--file=${opts.file}`);
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
  // Numbers, booleans, objects: never String(v) — an object's own toString can be anything
  // (`{"toString":0}` makes String() throw a TypeError).
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/**
 * One line of `journalctl -o json`: an entry, or null when the line is not a journal entry
 * (not JSON, or JSON that is not an object — `null`, a number, an array). Never throws.
 */
export function parseJournalLine(line: string): AuditEntry | null {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return null;
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return null;
  const r = o as Record<string, unknown>;
  const us = Number(fieldText(r.__REALTIME_TIMESTAMP) ?? NaN);
  const id = fieldText(r.MESSAGE_ID) ?? null;
  const prio = fieldText(r.PRIORITY);
  const host = fieldText(r._HOSTNAME);
  const e: AuditEntry = {
    time: new Date(Number.isFinite(us) ? Math.floor(us / 1000) : 0),
    kind: id ? kindOfMessageId(id) : null,
    messageId: id,
    priority: prio !== undefined && /^[0-7]$/.test(prio) ? Number(prio) : null,
    message: fieldText(r.MESSAGE) ?? '',
    ...(host !== undefined ? { host } : {}),
  };
  for (const [key, field] of RECORD_FIELDS) {
    const v = fieldText(r[field]);
    if (v === undefined) continue;
    if (key === 'irq') {
      if (/^\d+$/.test(v)) e.irq = Number(v);
    } else {
      e[key] = v;
    }
  }
  return e;
}

/** Every entry of a whole `journalctl -o json` text; lines that are not entries are skipped. */
export function parseJournalJson(text: string, skipped?: (line: string) => void): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const e = parseJournalLine(line);
    if (e === null) skipped?.(line);
    else out.push(e);
  }
  return out;
}

const JOURNAL_MAGIC = Buffer.from('LPKSHHRH');

function isJournalFile(file: string): boolean {
  let fd: number | null = null;
  try {
    fd = fs.openSync(file, 'r');
    const b = Buffer.alloc(8);
    return fs.readSync(fd, b, 0, 8, 0) === 8 && b.equals(JOURNAL_MAGIC);
  } catch {
    return false;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

/**
 * journalctl answers a missing or empty directory with "-- No entries --" and exit 0 (or
 * nothing at all with -q): the operator would think the fleet was quiet. Say what is wrong.
 */
export function checkJournalSource(opts: Pick<ReadAuditOptions, 'directory' | 'file'>): void {
  if (opts.directory !== undefined && opts.file !== undefined) throw new AuditReadError('audit: give --directory or --file, not both');
  if (opts.directory !== undefined) {
    const d = opts.directory;
    const st = fs.statSync(d, { throwIfNoEntry: false });
    if (!st) throw new AuditReadError(`audit --directory ${d}: no such directory`);
    if (!st.isDirectory()) throw new AuditReadError(`audit --directory ${d}: not a directory (use --file for one journal file)`);
    // journalctl -D reads the directory and its machine-id subdirectories.
    const found = (dir: string, depth: number): boolean => {
      let names: fs.Dirent[];
      try {
        names = fs.readdirSync(dir, { withFileTypes: true });
      } catch (e) {
        throw new AuditReadError(`audit --directory ${dir}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      for (const n of names) {
        const p = path.join(dir, n.name);
        if (n.isFile() && /\.journal~?$/.test(n.name) && isJournalFile(p)) return true;
        if (n.isDirectory() && depth > 0 && found(p, depth - 1)) return true;
      }
      return false;
    };
    if (!found(d, 1)) throw new AuditReadError(`audit --directory ${d}: no journal files in it (expected *.journal, as systemd-journal-remote writes them)`);
  }
  if (opts.file !== undefined) {
    const f = opts.file;
    const st = fs.statSync(f, { throwIfNoEntry: false });
    if (!st) throw new AuditReadError(`audit --file ${f}: no such file`);
    if (!st.isFile() || !isJournalFile(f)) throw new AuditReadError(`audit --file ${f}: not a journal file`);
  }
}

/**
 * The entries journalctl prints, one at a time, as it prints them. Lines that are not
 * entries are counted and reported once through opts.onWarning. Bounded: journalctl is
 * killed (SIGKILL, by its PID) when it is silent for idleTimeoutMs without exiting.
 */
export async function* streamAudit(opts: ReadAuditOptions = {}): AsyncGenerator<AuditEntry> {
  const args = journalctlArgs(opts);
  checkJournalSource(opts);
  const bin = opts.journalctl ?? 'journalctl';
  const idleMs = opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let spawnError: NodeJS.ErrnoException | null = null;
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    if (stderr.length < 4096) stderr += c;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', (e) => {
      spawnError = e;
      resolve(null);
    });
    child.on('close', (code) => resolve(code));
  });
  let timedOut = false;
  let timer: NodeJS.Timeout | null = null;
  const arm = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, idleMs);
  };
  arm();
  child.stdout.on('data', arm);
  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
  let skipped = 0;
  let firstSkipped = '';
  try {
    for await (const line of lines) {
      if (line.trim() === '') continue;
      const e = parseJournalLine(line);
      if (e === null) {
        if (skipped++ === 0) firstSkipped = line.slice(0, 80);
        continue;
      }
      yield e;
    }
    const code = await exited;
    if (timedOut) throw new AuditReadError(`journalctl printed nothing for ${Math.round(idleMs / 1000)} s without exiting; stopped it (pid ${child.pid})`);
    if (spawnError !== null) {
      const err = spawnError as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') {
        throw new AuditReadError(`${bin} not found: reading the audit trail needs systemd's journalctl (without a journal, affinityd writes audit records as JSON lines to stdout)`);
      }
      if (err.code === 'EACCES') throw new AuditReadError(`${bin} is not executable`);
      throw new AuditReadError(`journalctl failed: ${err.message}`);
    }
    if (code !== 0) {
      const first = stderr.split('\n').map((l) => l.trim()).find((l) => l !== '');
      throw new AuditReadError(`journalctl failed: ${first ?? `exit status ${code}`}`);
    }
    if (skipped > 0) opts.onWarning?.(`skipped ${skipped} line(s) from journalctl that were not journal entries (first: ${firstSkipped})`);
  } finally {
    if (timer) clearTimeout(timer);
    lines.close();
    // The consumer stopped early (or we failed): do not leave journalctl running.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

export async function readAudit(opts: ReadAuditOptions = {}): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const e of streamAudit(opts)) out.push(e);
  return out;
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

export interface TableOptions {
  /** Show the HOST column (journals collected from several hosts); default: when entries name more than one host. */
  host?: boolean;
}

/**
 * The table, built one entry at a time: it keeps only each row's cells (not the entries),
 * since the column widths are known only at the end.
 */
export class AuditTable {
  private readonly rows: string[][] = [];
  private readonly widths = [4, 4, 4, 3, 6, 7]; // TIME HOST KIND IRQ DEVICE MESSAGE
  private readonly hosts = new Set<string>();

  constructor(private readonly opts: TableOptions = {}) {}

  add(e: AuditEntry): void {
    const host = e.host ?? '-';
    if (this.hosts.size < 2) this.hosts.add(host);
    const r = [
      formatTime(e.time),
      host,
      e.kind ?? e.messageId ?? '-',
      e.irq !== undefined ? String(e.irq) : '-',
      e.interface !== undefined ? (e.queue !== undefined ? `${e.interface} ${e.queue}` : e.interface) : '-',
      // One line per record: a multi-line error would break the columns.
      e.message.replace(/\s*\n\s*/g, ' ⏎ '),
    ];
    // A loop, not Math.max(...column): spreading 200 000 rows into arguments overflows the stack.
    for (let i = 0; i < r.length; i++) if (r[i]!.length > this.widths[i]!) this.widths[i] = r[i]!.length;
    this.rows.push(r);
  }

  /** Each line of the table, without its newline, made as it is taken. */
  *lines(): Generator<string> {
    if (this.rows.length === 0) {
      yield 'no audit records';
      return;
    }
    const withHost = this.opts.host ?? this.hosts.size > 1;
    const fmt = (r: string[]): string => {
      let line = '';
      for (let i = 0; i < r.length; i++) {
        if (i === 1 && !withHost) continue;
        line += i === r.length - 1 ? r[i] : r[i]!.padEnd(this.widths[i]!) + '  ';
      }
      return line.trimEnd();
    };
    yield fmt(['TIME', 'HOST', 'KIND', 'IRQ', 'DEVICE', 'MESSAGE']);
    for (const r of this.rows) yield fmt(r);
  }
}

export function formatAuditTable(entries: readonly AuditEntry[], opts: TableOptions = {}): string {
  const t = new AuditTable(opts);
  for (const e of entries) t.add(e);
  return [...t.lines()].join('\n') + '\n';
}

/** One --json line: the entry, its time in ISO 8601, and `host` always present (null when unknown). */
export function auditJsonLine(e: AuditEntry): string {
  return JSON.stringify({ ...e, time: isoTime(e.time), host: e.host ?? null });
}

/**
 * `affinityd audit [--since X] [--irq N] [--interface IF] [--directory DIR | --file F] [--json]`.
 * With `emit`, each output line goes there as soon as it is known — `--json` then holds no
 * history in memory at all — and the result is ''; without, the text is returned. Journals
 * read with --directory/--file come from journal-remote: the table always has HOST then.
 */
export async function auditCommand(opts: ReadAuditOptions & { json?: boolean }, emit?: (line: string) => void | Promise<void>): Promise<string> {
  const kept: string[] = [];
  const out = emit ?? ((l: string) => void kept.push(l));
  if (opts.json) {
    for await (const e of streamAudit(opts)) await out(auditJsonLine(e));
  } else {
    const table = new AuditTable(opts.directory !== undefined || opts.file !== undefined ? { host: true } : {});
    for await (const e of streamAudit(opts)) table.add(e);
    for (const l of table.lines()) await out(l);
  }
  return kept.length ? kept.join('\n') + '\n' : '';
}
