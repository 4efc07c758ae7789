// journald — client for the systemd journal's native protocol (transport layer only).
//
// Each record is one datagram on an AF_UNIX SOCK_DGRAM socket (/run/systemd/journal/socket),
// holding `KEY=value\n` fields; a value containing a newline uses the binary-safe form
// `KEY\n` + 64-bit little-endian length + bytes + `\n` (systemd's "Native Journal Protocol").
// Node has no AF_UNIX datagram sockets, hence the `unix-dgram` addon.
//
// Delivery: sends never block and never throw. While journald is away (restart: ECONNREFUSED;
// not started yet: ENOENT; its queue is full: EAGAIN — net.unix.max_dgram_qlen is only 10 on
// hosts where systemd's sysctl defaults are absent) records wait in a bounded in-memory queue
// and are retried with backoff, in order. When the bound is hit the OLDEST record is dropped:
// the newest records describe the state an operator is looking at. A note saying how many were
// dropped is sent once delivery resumes, so a gap in the trail is never silent.
// What the client cannot see: a datagram the kernel accepted but journald never read. Under
// systemd that cannot be lost by a restart — systemd-journald.socket owns the socket, so its
// queue outlives the journald process; a journald that bound the socket itself (no PID 1)
// takes up to net.unix.max_dgram_qlen queued datagrams with it when it exits.
//
// Giving up: records wait only while there is hope. When no datagram has been accepted for
// `giveUpMs` (a journald that died and left its socket, one that is wedged and never reads),
// everything queued is handed to `onUndelivered` — the audit log writes it to its fallback
// stream and says how many on stderr — and the retry timer stops: nothing wakes the CPU while
// nothing is queued. The next record tries the journal again. close() does the same with what
// it could not deliver in time, and so does a permanent refusal (EACCES) or a full queue: no
// record leaves this client without either reaching journald or reaching `onUndelivered`.
//
// Large records: the protocol's fallback for datagrams over the socket limit passes a sealed
// memfd with SCM_RIGHTS, which neither Node nor unix-dgram can do; such records are cut down to
// fit, and AFFINITYD_TRUNCATED says how many bytes were cut.

import { statSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';

export const DEFAULT_JOURNAL_SOCKET = '/run/systemd/journal/socket';

/** The slice of unix-dgram we use (the package ships no types). */
interface DgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error & { code?: number }) => void): void;
  close(): void;
  on(event: 'error', listener: (err: Error) => void): void;
}
interface UnixDgram {
  createSocket(type: 'unix_dgram'): DgramSocket;
}
const require = createRequire(import.meta.url);
let unixDgram: UnixDgram | null = null;
function loadUnixDgram(): UnixDgram {
  unixDgram ??= require('unix-dgram') as UnixDgram;
  return unixDgram;
}

/** True when a journal socket exists at `socketPath` (journald may still be restarting). */
export function isJournalAvailable(socketPath: string = DEFAULT_JOURNAL_SOCKET): boolean {
  try {
    return statSync(socketPath).isSocket();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------
// Encoding

const FIELD_NAME = /^[A-Z0-9][A-Z0-9_]{0,63}$/;

/**
 * journald's rule (journal_field_valid): A-Z, 0-9 and "_", at most 64 chars, not starting with
 * "_" (those are trusted fields journald adds itself and would drop) nor with a digit.
 */
export function isValidFieldName(name: string): boolean {
  return FIELD_NAME.test(name) && !/^[0-9]/.test(name);
}

export type JournalFields = Record<string, string | Buffer>;

function asBuffer(v: string | Buffer): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

/** Encode one record; throws on an invalid field name (a programming error, not input). */
export function encodeJournalFields(fields: JournalFields): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (!isValidFieldName(name)) throw new Error(`journal: invalid field name "${name}"`);
    const bytes = asBuffer(value);
    if (bytes.includes(0x0a)) {
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(bytes.length));
      parts.push(Buffer.from(`${name}\n`, 'ascii'), len, bytes, Buffer.from('\n'));
    } else {
      parts.push(Buffer.from(`${name}=`, 'ascii'), bytes, Buffer.from('\n'));
    }
  }
  return Buffer.concat(parts);
}

/** Longest prefix of `b` no longer than `max` bytes that does not split a UTF-8 character. */
function utf8Prefix(b: Buffer, max: number): Buffer {
  if (b.length <= max) return b;
  let end = Math.max(0, max);
  // Step back over continuation bytes (10xxxxxx) so the cut lands on a character start.
  while (end > 0 && ((b[end] ?? 0) & 0xc0) === 0x80) end--;
  return b.subarray(0, end);
}

/**
 * Cut the largest values until the encoded record fits in `maxBytes`, appending a note to each
 * value cut and adding AFFINITYD_TRUNCATED=<bytes removed>. Field names are kept, so a
 * truncated record is still found by the same journalctl matches.
 */
export function truncateToFit(fields: JournalFields, maxBytes: number): { fields: JournalFields; cut: number } {
  const values = new Map<string, Buffer>(Object.entries(fields).map(([k, v]) => [k, asBuffer(v)]));
  const NOTE_RESERVE = 128;
  let size = encodeJournalFields(Object.fromEntries(values)).length;
  if (size <= maxBytes) return { fields, cut: 0 };
  let cut = 0;
  const budget = maxBytes - NOTE_RESERVE;
  const cutNames = new Set<string>();
  while (size > budget) {
    let largest: [string, Buffer] | null = null;
    for (const e of values) if (!largest || e[1].length > largest[1].length) largest = e;
    if (!largest || largest[1].length === 0) break; // only names left: nothing more to cut
    const [name, buf] = largest;
    const keep = utf8Prefix(buf, Math.max(0, buf.length - (size - budget) - 48));
    cut += buf.length - keep.length;
    values.set(name, keep);
    cutNames.add(name);
    size = encodeJournalFields(Object.fromEntries(values)).length;
  }
  const out: JournalFields = {};
  for (const [name, original] of Object.entries(fields)) {
    const v = values.get(name) ?? Buffer.alloc(0);
    out[name] = cutNames.has(name) ? Buffer.concat([v, Buffer.from(' [truncated]')]) : original;
  }
  out.AFFINITYD_TRUNCATED = String(cut);
  return { fields: out, cut };
}

/**
 * Largest datagram an AF_UNIX socket accepts: the sender's SO_SNDBUF (net.core.wmem_default,
 * which unix-dgram cannot raise) minus 32 bytes of kernel overhead (unix_dgram_sendmsg), with
 * some slack for accounting differences between kernels.
 */
export function defaultMaxDatagram(): number {
  let wmem = 212_992;
  try {
    const n = Number(readFileSync('/proc/sys/net/core/wmem_default', 'utf8').trim());
    if (Number.isInteger(n) && n > 4096) wmem = n;
  } catch {
    /* not Linux, or /proc hidden: use the kernel's default */
  }
  return wmem - 32 - 1024;
}

// ---------------------------------------------------------------------------------------
// Client

const E = osConstants.errno;
/** journald absent or busy: keep the record and try again later. */
const RETRYABLE = new Set<number>([
  E.ECONNREFUSED, // socket file left behind by a stopped journald (restart in progress)
  E.ENOENT, // journald not started yet (early boot) or its runtime dir was removed
  E.EAGAIN, // journald's receive queue is full; it will drain
  E.EWOULDBLOCK,
  E.ENOBUFS, // kernel short of memory for the skb: transient
  E.ECONNRESET,
  E.ENOTCONN,
]);

export interface JournalClientOptions {
  socketPath?: string;
  /** Records kept while journald is away; oldest dropped beyond it. */
  maxQueue?: number;
  /** Datagram size limit; records above it are truncated. */
  maxDatagram?: number;
  /** Backoff bounds for retries while journald is away (ms). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Socket closed after this long with nothing queued, so an idle client does not hold the event loop open. */
  idleCloseMs?: number;
  /** SYSLOG_IDENTIFIER of the "records dropped" note. */
  identifier?: string;
  /** Give up on what is queued after this long without a successful send (ms). */
  giveUpMs?: number;
  /**
   * Records that leave the client undelivered (given up, queue full, refused for good, left at
   * close), with their `fallback` payload and why. Without it they are only counted as dropped.
   */
  onUndelivered?: (records: UndeliveredRecord[], reason: string) => void;
}

export interface UndeliveredRecord {
  fields: JournalFields;
  /** What send() was given to stand for the record elsewhere (the audit log's JSON line). */
  fallback: string | undefined;
}

export interface JournalStats {
  sent: number;
  queued: number;
  dropped: number;
  truncated: number;
  /** Records the journal refused for good (e.g. EACCES); the last such error is kept. */
  failed: number;
  /** Records handed to onUndelivered (fallback stream) instead of the journal. */
  undelivered: number;
  lastError: string | null;
}

interface Pending {
  fields: JournalFields;
  buf: Buffer;
  fallback: string | undefined;
}

export class JournalClient {
  readonly socketPath: string;
  private readonly maxQueue: number;
  private maxDatagram: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly idleCloseMs: number;
  private readonly identifier: string;
  private readonly giveUpMs: number;
  private readonly onUndelivered: ((records: UndeliveredRecord[], reason: string) => void) | undefined;
  /** When the first send failed since the last success (0: not stalled). */
  private stalledSince = 0;
  private readonly queue: Pending[] = [];
  private socket: DgramSocket | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private backoffMs = 0;
  private droppedUnreported = 0;
  private waiters: ((delivered: boolean) => void)[] = [];
  /** Something was handed to onUndelivered since the last flush() began. */
  private lostSinceFlush = false;
  private closed = false;
  private readonly s: JournalStats = { sent: 0, queued: 0, dropped: 0, truncated: 0, failed: 0, undelivered: 0, lastError: null };

  constructor(opts: JournalClientOptions = {}) {
    this.socketPath = opts.socketPath ?? DEFAULT_JOURNAL_SOCKET;
    this.maxQueue = opts.maxQueue ?? 10_000;
    this.maxDatagram = opts.maxDatagram ?? defaultMaxDatagram();
    this.retryMinMs = opts.retryMinMs ?? 20;
    this.retryMaxMs = opts.retryMaxMs ?? 1000;
    this.idleCloseMs = opts.idleCloseMs ?? 200;
    this.identifier = opts.identifier ?? 'affinityd';
    this.giveUpMs = opts.giveUpMs ?? 30_000;
    this.onUndelivered = opts.onUndelivered;
    if (!(this.maxQueue >= 1)) throw new Error(`journal: maxQueue must be >= 1, got ${this.maxQueue}`);
    if (!(this.maxDatagram >= 1024)) throw new Error(`journal: maxDatagram must be >= 1024, got ${this.maxDatagram}`);
    if (!(this.retryMinMs > 0 && this.retryMaxMs >= this.retryMinMs)) {
      throw new Error(`journal: need 0 < retryMinMs <= retryMaxMs, got ${this.retryMinMs}/${this.retryMaxMs}`);
    }
  }

  get stats(): JournalStats {
    return { ...this.s, queued: this.queue.length };
  }

  /**
   * Queue one record for delivery; never throws on I/O, only on an invalid field name.
   * `fallback` stands for the record if it has to go elsewhere (see onUndelivered).
   */
  send(fields: JournalFields, fallback?: string): void {
    if (this.closed) throw new Error('journal: send() after close()');
    const pending = this.prepare(fields, fallback);
    if (this.queue.length >= this.maxQueue) {
      const oldest = this.queue.shift()!;
      this.s.dropped++;
      this.droppedUnreported++;
      this.giveAway([oldest], `the journal queue is full (${this.maxQueue} records)`);
    }
    this.queue.push(pending);
    // Keep order: only the drain loop sends, and it does so now unless a retry is pending.
    if (this.retryTimer === null) this.drain();
  }

  /**
   * Resolves true once every queued record was handed to journald; false when the queue was
   * given up meanwhile (records went to onUndelivered) or after `timeoutMs`.
   */
  flush(timeoutMs = 5000): Promise<boolean> {
    this.lostSinceFlush = false;
    if (this.queue.length === 0) return Promise.resolve(true);
    // Someone is waiting: try now instead of at the end of a long backoff.
    this.retryNow();
    if (this.queue.length === 0) return Promise.resolve(!this.lostSinceFlush);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = (delivered: boolean): void => {
        clearTimeout(timer);
        resolve(delivered);
      };
      this.waiters.push(done);
    });
  }

  /**
   * Flush (bounded by `timeoutMs`), then release the socket; later sends throw. What is still
   * queued then goes to onUndelivered. True when everything reached journald.
   */
  async close(timeoutMs = 5000): Promise<boolean> {
    const ok = await this.flush(timeoutMs);
    this.closed = true;
    this.clearTimers();
    this.closeSocket();
    if (this.queue.length > 0) this.giveAway(this.queue.splice(0), `the journal did not accept them within ${timeoutMs} ms`);
    return ok && this.queue.length === 0;
  }

  private prepare(fields: JournalFields, fallback: string | undefined): Pending {
    const buf = encodeJournalFields(fields);
    if (buf.length <= this.maxDatagram) return { fields, buf, fallback };
    const t = truncateToFit(fields, this.maxDatagram);
    this.s.truncated++;
    return { fields: t.fields, buf: encodeJournalFields(t.fields), fallback };
  }

  /** Records leave the client undelivered: to onUndelivered, counted either way. */
  private giveAway(records: Pending[], reason: string): void {
    if (records.length === 0) return;
    this.lostSinceFlush = true;
    this.s.undelivered += records.length;
    try {
      this.onUndelivered?.(
        records.map((r) => ({ fields: r.fields, fallback: r.fallback })),
        reason,
      );
    } catch {
      /* a failing fallback must not break the audit path; the count is in stats */
    }
  }

  /** Nothing was accepted for giveUpMs: hand the queue over and stop retrying until the next send. */
  private giveUp(lastCode: number): void {
    const records = this.queue.splice(0);
    this.stalledSince = 0;
    this.backoffMs = 0;
    this.closeSocket();
    this.giveAway(records, `the journal accepted nothing for ${Math.round(this.giveUpMs / 1000)} s (${errnoName(lastCode)} on ${this.socketPath})`);
    this.wakeWaiters(false);
  }

  private wakeWaiters(delivered: boolean): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(delivered);
  }

  private retryNow(): void {
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    this.drain();
  }

  private openSocket(): DgramSocket {
    if (this.socket) return this.socket;
    const sock = loadUnixDgram().createSocket('unix_dgram');
    // Errors arrive through send callbacks; an 'error' event without a listener would throw.
    sock.on('error', () => {});
    this.socket = sock;
    return sock;
  }

  private closeSocket(): void {
    if (!this.socket) return;
    try {
      this.socket.close();
    } catch {
      /* already closed */
    }
    this.socket = null;
  }

  /** Send one datagram; returns the errno (positive) or 0. unix-dgram calls back synchronously. */
  private sendOne(buf: Buffer): number {
    let code = 0;
    try {
      this.openSocket().send(buf, 0, buf.length, this.socketPath, (err) => {
        if (err) code = Math.abs(Number(err.code ?? E.EIO));
      });
    } catch {
      code = E.EMFILE; // socket() failed: treat as transient, fds may free up
      this.closeSocket();
    }
    return code;
  }

  private drain(): void {
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    while (this.queue.length > 0) {
      if (this.droppedUnreported > 0) {
        // Report the gap first, in order, so it sits where the records went missing.
        const where = this.onUndelivered ? ' (written to the fallback stream instead)' : '';
        const note = this.prepare(
          {
            MESSAGE: `${this.droppedUnreported} audit records were dropped while the journal was unavailable${where}`,
            PRIORITY: '4',
            SYSLOG_IDENTIFIER: this.identifier,
            AFFINITYD_DROPPED: String(this.droppedUnreported),
          },
          undefined,
        );
        const code = this.sendOne(note.buf);
        if (code !== 0 && this.onError(code, note, true)) return;
        this.droppedUnreported = 0;
        continue;
      }
      const head = this.queue[0]!;
      const code = this.sendOne(head.buf);
      if (code === 0) {
        this.queue.shift();
        this.s.sent++;
        this.backoffMs = 0;
        this.stalledSince = 0;
        continue;
      }
      if (this.onError(code, head, false)) return;
    }
    this.wakeWaiters(!this.lostSinceFlush);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.queue.length === 0) this.closeSocket();
    }, this.idleCloseMs);
    this.idleTimer.unref();
  }

  /** Handle a send error; returns true when draining must pause for a retry. */
  private onError(code: number, p: Pending, isNote: boolean): boolean {
    if (code === E.EMSGSIZE && p.buf.length > 1024) {
      // The socket limit is lower than we assumed (wmem_default lowered): shrink and resend.
      this.maxDatagram = Math.max(1024, Math.floor(p.buf.length / 2));
      const t = truncateToFit(p.fields, this.maxDatagram);
      p.fields = t.fields;
      p.buf = encodeJournalFields(t.fields);
      if (!isNote) this.s.truncated++;
      return false;
    }
    if (RETRYABLE.has(code)) {
      // A fresh socket after ENOENT/ECONNREFUSED is not needed for sendto(), but closing it
      // releases the fd during a long outage.
      if (code !== E.EAGAIN && code !== E.EWOULDBLOCK) this.closeSocket();
      this.s.lastError = `sendto ${this.socketPath}: ${errnoName(code)}`;
      const now = Date.now();
      if (this.stalledSince === 0) this.stalledSince = now;
      else if (now - this.stalledSince >= this.giveUpMs) {
        this.giveUp(code);
        return true;
      }
      this.scheduleRetry(code === E.EAGAIN || code === E.EWOULDBLOCK);
      return true;
    }
    // Permanent (EACCES, EPERM, ENOTSOCK…): waiting will not help; this record goes elsewhere.
    this.s.failed++;
    this.s.lastError = `sendto ${this.socketPath}: ${errnoName(code)}`;
    if (isNote) this.droppedUnreported = 0;
    else this.giveAway([this.queue.shift()!], `the journal refused it (${errnoName(code)})`);
    return false;
  }

  private scheduleRetry(busy: boolean): void {
    // A full queue drains in microseconds; an absent journald takes a restart's time.
    const start = busy ? 1 : this.retryMinMs;
    const cap = busy ? Math.min(50, this.retryMaxMs) : this.retryMaxMs;
    this.backoffMs = this.backoffMs === 0 ? start : Math.min(cap, this.backoffMs * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.drain();
    }, this.backoffMs);
    // Do not keep a process alive for the journal alone; callers that care await flush().
    this.retryTimer.unref();
  }

  private clearTimers(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.retryTimer = this.idleTimer = null;
  }
}

function errnoName(code: number): string {
  for (const [name, n] of Object.entries(E)) if (n === code) return name;
  return `errno ${code}`;
}
