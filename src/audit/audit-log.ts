// audit-log — where audit records go: the journal (native fields) when it exists, else JSON
// lines on stdout (a terminal or a container without journald).
//
// The journal fields are made from the record itself (toJournalFields), never parsed back out
// of a JSON line. pino, the project's logger, writes the JSON lines: on stdout when there is
// no journal, and in journal mode only as each record's fallback form, handed to the journal
// client with the fields (the destination is called synchronously in-process, so the line
// and the record meet in record()). No worker-thread transport: a record must be queued for
// the journal before record() returns, so that flush() at shutdown really covers it.
//
// No silent loss: a record the journal client gives up on (journal dead or wedged for the
// client's giveUpMs, queue full, refused, left at close) is written to the fallback stream as
// the same JSON line the stdout sink would have written, and one line on stderr says how many
// and why.

import { once } from 'node:events';
import { pino, type Logger } from 'pino';
import { JournalClient, isJournalAvailable, DEFAULT_JOURNAL_SOCKET, type JournalClientOptions, type JournalStats, type UndeliveredRecord } from './journald.js';
import { printable } from '../text/printable.js';
import { MESSAGE_IDS, RECORD_FIELDS, priorityOf, toJournalFields, type AuditRecord } from './records.js';

export type { AuditRecord } from './records.js';

export interface AuditLogOptions {
  /** auto: journal when its socket exists at start, else stdout. on: journal even if absent now. */
  journal?: 'auto' | 'on' | 'off';
  /** Where JSON lines go when the journal is not used (default process.stdout). */
  stdout?: NodeJS.WritableStream;
  socketPath?: string;
  /** Queue bound, retry backoff… of the journal client. */
  client?: Omit<JournalClientOptions, 'socketPath'>;
  /** How long flush()/close() wait for an absent journal before giving up (ms). */
  flushTimeoutMs?: number;
  /** Where the "N audit records not delivered" line goes (default process.stderr). */
  warn?: NodeJS.WritableStream;
}

export interface AuditLog {
  readonly sink: 'journal' | 'stdout';
  record(r: AuditRecord): void;
  /** Wait until every record was handed to the journal (or written to stdout), bounded. */
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Journal delivery counters; null for stdout. */
  stats(): JournalStats | null;
}

/**
 * A pino destination for journal mode: the record's journal fields were set by record() just
 * before pino wrote the line, which becomes their fallback form should the journal never take them.
 */
function journalDestination(client: JournalClient, take: () => Record<string, string>): { write(line: string): void } {
  return {
    write(line: string): void {
      client.send(take(), line.endsWith('\n') ? line : `${line}\n`);
    },
  };
}

/**
 * JSON lines for a terminal: JSON.stringify escapes C0 controls but leaves C1 (0x9b is CSI to
 * some terminals) and bidi overrides raw; printable() writes them as \uXXXX, still valid JSON.
 */
function printableLines(stream: NodeJS.WritableStream): { write(line: string): void } {
  return { write: (line: string) => void stream.write(printable(line)) };
}

function levelFor(priority: number): 'fatal' | 'error' | 'warn' | 'info' | 'debug' {
  if (priority <= 2) return 'fatal';
  if (priority === 3) return 'error';
  if (priority === 4) return 'warn';
  return priority === 7 ? 'debug' : 'info';
}

export function createAuditLog(opts: AuditLogOptions = {}): AuditLog {
  const mode = opts.journal ?? 'auto';
  if (mode !== 'auto' && mode !== 'on' && mode !== 'off') {
    throw new Error(`audit: journal must be auto, on or off, got "${String(mode)}"`);
  }
  const socketPath = opts.socketPath ?? DEFAULT_JOURNAL_SOCKET;
  const flushTimeoutMs = opts.flushTimeoutMs ?? 5000;
  const useJournal = mode === 'on' || (mode === 'auto' && isJournalAvailable(socketPath));
  const stdout = opts.stdout ?? process.stdout;

  const warn = opts.warn ?? process.stderr;
  const fallbackName = stdout === process.stderr ? 'stderr' : stdout === process.stdout ? 'stdout' : 'the fallback stream';
  const undelivered = (records: UndeliveredRecord[], reason: string): void => {
    for (const r of records) if (r.fallback !== undefined) stdout.write(printable(r.fallback));
    warn.write(`affinityd: ${records.length} audit record(s) not delivered to the journal: ${reason}; written to ${fallbackName} as JSON lines\n`);
  };
  const client = useJournal ? new JournalClient({ ...opts.client, socketPath, onUndelivered: undelivered }) : null;
  // The journal fields of the record being written (journal mode), for journalDestination.
  let pending: Record<string, string> | null = null;
  const logger: Logger = pino(
    {
      level: 'trace', // audit records are never filtered by level
      base: null, // pid/hostname: the journal adds trusted ones; on stdout they are noise
      messageKey: 'message',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    client ? journalDestination(client, () => pending!) : printableLines(stdout),
  );

  let closed = false;
  const flushStdout = async (): Promise<void> => {
    const w = stdout as NodeJS.WritableStream & { writableNeedDrain?: boolean };
    if (w.writableNeedDrain) await once(w, 'drain');
  };

  return {
    sink: client ? 'journal' : 'stdout',
    record(r: AuditRecord): void {
      if (closed) throw new Error('audit: record() after close()');
      const id = MESSAGE_IDS[r.kind];
      if (id === undefined) throw new Error(`audit: unknown record kind "${String(r.kind)}"`);
      const priority = priorityOf(r);
      const obj: Record<string, unknown> = { kind: r.kind, message_id: id, priority };
      for (const [key] of RECORD_FIELDS) if (r[key] !== undefined) obj[key] = r[key];
      pending = client ? toJournalFields({ ...r, priority }) : null;
      try {
        logger[levelFor(priority)](obj, r.message);
      } finally {
        pending = null;
      }
    },
    async flush(): Promise<void> {
      if (client) await client.flush(flushTimeoutMs);
      else await flushStdout();
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (client) await client.close(flushTimeoutMs);
      else await flushStdout();
    },
    stats(): JournalStats | null {
      return client ? client.stats : null;
    },
  };
}
