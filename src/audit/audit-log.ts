// audit-log — where audit records go: the journal (native fields) when it exists, else JSON
// lines on stdout (a terminal or a container without journald).
//
// record() hands the journal client the record's fields (toJournalFields) directly; the JSON
// line (toJsonLine) is only their fallback form, used should the journal never take them.
// No logger sits in between: pino serves the operational log, and routing audit records
// through it meant encoding each one to JSON only to pass it on. A record is queued for the
// journal before record() returns, so that flush() at shutdown really covers it.
//
// No silent loss: a record the journal client gives up on (journal dead or wedged for the
// client's giveUpMs, queue full, refused, left at close) is written to the fallback stream as
// the same JSON line the stdout sink would have written, and one line on stderr says how many
// and why.

import { once } from 'node:events';
import { JournalClient, isJournalAvailable, DEFAULT_JOURNAL_SOCKET, type JournalClientOptions, type JournalStats, type UndeliveredRecord } from './journald.js';
import { printable } from '../text/printable.js';
import { toJournalFields, toJsonLine, type AuditRecord } from './records.js';

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
  /** Clock for the JSON lines' time (tests). */
  now?: () => Date;
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

export function createAuditLog(opts: AuditLogOptions = {}): AuditLog {
  const mode = opts.journal ?? 'auto';
  if (mode !== 'auto' && mode !== 'on' && mode !== 'off') {
    throw new Error(`audit: journal must be auto, on or off, got "${String(mode)}"`);
  }
  const socketPath = opts.socketPath ?? DEFAULT_JOURNAL_SOCKET;
  const flushTimeoutMs = opts.flushTimeoutMs ?? 5000;
  const useJournal = mode === 'on' || (mode === 'auto' && isJournalAvailable(socketPath));
  // process.stdout and process.stderr are getters that build a stream on first use (for a pipe
  // or the journal's stream socket: node's net and stream modules and a dozen more, which a
  // running agent then keeps in its RSS, issue 14). An agent whose records all reach the
  // journal never needs them, so the defaults are resolved only when a line is written.
  const out = (): NodeJS.WritableStream => opts.stdout ?? process.stdout;
  const now = opts.now ?? (() => new Date());

  const warn = (): NodeJS.WritableStream => opts.warn ?? process.stderr;
  const fallbackName = (): string => {
    const o = out();
    return o === process.stderr ? 'stderr' : o === process.stdout ? 'stdout' : 'the fallback stream';
  };
  const undelivered = (records: UndeliveredRecord[], reason: string): void => {
    const stdout = out();
    for (const r of records) if (r.fallback !== undefined) stdout.write(printable(r.fallback));
    warn().write(`affinityd: ${records.length} audit record(s) not delivered to the journal: ${reason}; written to ${fallbackName()} as JSON lines\n`);
  };
  const client = useJournal ? new JournalClient({ ...opts.client, socketPath, onUndelivered: undelivered }) : null;
  let closed = false;
  const flushStdout = async (): Promise<void> => {
    const w = out() as NodeJS.WritableStream & { writableNeedDrain?: boolean };
    if (w.writableNeedDrain) await once(w, 'drain');
  };

  return {
    sink: client ? 'journal' : 'stdout',
    record(r: AuditRecord): void {
      if (closed) throw new Error('audit: record() after close()');
      const line = toJsonLine(r, now()); // throws on a kind without a MESSAGE_ID
      if (client) client.send(toJournalFields(r), line);
      // JSON.stringify escapes C0 controls but leaves C1 (0x9b is CSI to some terminals) and
      // bidi overrides raw; printable() writes them as \uXXXX, still valid JSON.
      else out().write(printable(line));
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
