// Audit trail: record kinds → journal fields, the native protocol client against a real
// systemd-journald (started by test/helpers/journald.ts in its own journal namespace),
// delivery across a journald restart, the stdout fallback, and reading the trail back.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync, symlinkSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startJournald, journaldUnavailableReason, type TestJournald } from './helpers/journald.js';
import fc from 'fast-check';
import { runs } from './helpers/runs.js';
import { MESSAGE_IDS, AUDIT_KINDS, RECORD_FIELDS, toJournalFields, toJsonLine, levelOf, priorityOf, changeMessage, irqSubject, DEFAULT_PRIORITY, kindOfMessageId, type AuditRecord } from '../src/audit/records.js';
import { JournalClient, encodeJournalFields, isValidFieldName, isJournalAvailable, truncateToFit } from '../src/audit/journald.js';
import { createAuditLog } from '../src/audit/audit-log.js';
import { readAudit, formatAuditTable, journalctlArgs, parseJournalJson, AuditReadError, auditCommand } from '../src/audit/audit-reader.js';
import { setTimeout as sleep } from 'node:timers/promises';

const unixDgram = createRequire(import.meta.url)('unix-dgram') as { createSocket(t: 'unix_dgram'): { bind(p: string): void; close(): void } };

/** A Writable that keeps what was written, for the stdout fallback. */
function sink(): { stream: Writable; lines: () => Record<string, unknown>[]; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      text += chunk.toString();
      cb();
    },
  });
  return { stream, lines: () => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>), text: () => text };
}

describe('records (pure)', () => {
  it('has a distinct 128-bit MESSAGE_ID per kind', () => {
    const ids = AUDIT_KINDS.map((k) => MESSAGE_IDS[k]);
    assert.equal(ids.length, 8);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
    for (const k of AUDIT_KINDS) assert.equal(kindOfMessageId(MESSAGE_IDS[k]), k);
    assert.equal(kindOfMessageId('00000000000000000000000000000000'), null);
  });

  it('maps a record to journal fields, leaving out absent ones', () => {
    const r: AuditRecord = {
      kind: 'applied',
      message: changeMessage(irqSubject(38, 'eth0 rx-0'), '0-1', '1', 'cpu1 online'),
      irq: 38,
      interface: 'eth0',
      queue: 'rx-0',
      old: '0-1',
      new: '1',
      trigger: 'cpu1 online',
      target: '/proc/irq/38/smp_affinity',
    };
    assert.equal(r.message, 'irq 38 (eth0 rx-0) 0-1 -> 1: cpu1 online');
    assert.deepEqual(toJournalFields(r), {
      MESSAGE: 'irq 38 (eth0 rx-0) 0-1 -> 1: cpu1 online',
      PRIORITY: '5',
      MESSAGE_ID: MESSAGE_IDS.applied,
      SYSLOG_IDENTIFIER: 'affinityd',
      AFFINITYD_TARGET: '/proc/irq/38/smp_affinity',
      AFFINITYD_IRQ: '38',
      AFFINITYD_INTERFACE: 'eth0',
      AFFINITYD_QUEUE: 'rx-0',
      AFFINITYD_OLD: '0-1',
      AFFINITYD_NEW: '1',
      AFFINITYD_TRIGGER: 'cpu1 online',
    });
    assert.equal(toJournalFields({ kind: 'failed', message: 'x', priority: 2 }).PRIORITY, '2');
    assert.equal(toJournalFields({ kind: 'failed', message: 'x', priority: 9 }).PRIORITY, String(DEFAULT_PRIORITY.failed));
    assert.equal(changeMessage('eth0 rx-0 rps', '', '2-3'), 'eth0 rx-0 rps (none) -> 2-3');
    assert.throws(() => toJournalFields({ kind: 'bogus' as 'applied', message: 'x' }), /unknown record kind "bogus"/);
  });
  // The JSON line is the journal record's fallback form (and the stdout sink's output): the two
  // must carry the same facts, or a record the journal missed would come back changed.
  it('writes a JSON line that carries the same fields as the journal record, for any record', () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    const record = fc.record(
      {
        kind: fc.constantFrom(...AUDIT_KINDS),
        message: text,
        priority: fc.oneof(fc.integer({ min: -2, max: 9 }), fc.double()),
        target: text,
        irq: fc.nat(100_000),
        interface: text,
        queue: text,
        old: text,
        new: text,
        trigger: text,
        policy: text,
        error: text,
      },
      { requiredKeys: ['kind', 'message'] },
    ) as fc.Arbitrary<AuditRecord>;
    fc.assert(
      fc.property(record, fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }), (r, when) => {
        const line = toJsonLine(r, when);
        assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'), 'one line');
        const j = JSON.parse(line) as Record<string, unknown>;
        const f = toJournalFields(r);
        assert.equal(j.message, f.MESSAGE);
        assert.equal(j.priority, priorityOf(r));
        assert.equal(String(j.priority), f.PRIORITY);
        assert.equal(j.level, levelOf(priorityOf(r)));
        assert.equal(j.message_id, f.MESSAGE_ID);
        assert.equal(j.kind, r.kind);
        assert.equal(j.time, when.toISOString());
        for (const [key, field] of RECORD_FIELDS) {
          assert.deepEqual(j[key], r[key], key);
          if (r[key] !== undefined && r[key] !== '') assert.equal(String(j[key]), f[field], field);
          else assert.equal(f[field], undefined, field);
        }
      }),
      { numRuns: runs(300) },
    );
    assert.deepEqual([0, 2, 3, 4, 5, 6, 7].map(levelOf), ['fatal', 'fatal', 'error', 'warn', 'info', 'info', 'debug']);
    assert.deepEqual(Object.keys(JSON.parse(toJsonLine({ kind: 'failed', message: 'm', error: 'e', irq: 9 }, new Date(0))) as object),
      ['level', 'time', 'kind', 'message_id', 'priority', 'irq', 'error', 'message']);
    assert.throws(() => toJsonLine({ kind: 'bogus' as 'applied', message: 'x' }, new Date(0)), /unknown record kind "bogus"/);
  });
});

describe('native protocol encoding (pure)', () => {
  it('uses KEY=value for plain values and the length-prefixed form for values with newlines', () => {
    const buf = encodeJournalFields({ MESSAGE: 'hi', AFFINITYD_ERROR: 'a\nb' });
    const expected = Buffer.concat([
      Buffer.from('MESSAGE=hi\nAFFINITYD_ERROR\n'),
      Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from('a\nb\n'),
    ]);
    assert.deepEqual(buf, expected);
  });

  it('accepts journald field names only', () => {
    for (const ok of ['MESSAGE', 'AFFINITYD_IRQ', 'A1_B']) assert.ok(isValidFieldName(ok), ok);
    for (const bad of ['_PID', 'lower', '1ABC', 'A-B', '', 'X'.repeat(65)]) assert.ok(!isValidFieldName(bad), bad);
    assert.throws(() => encodeJournalFields({ _PID: '1' }), /invalid field name "_PID"/);
  });

  it('truncates a record above the datagram limit without splitting UTF-8', () => {
    const big = 'é'.repeat(5000); // 10000 bytes
    const { fields, cut } = truncateToFit({ MESSAGE: big, AFFINITYD_IRQ: '38' }, 4096);
    const enc = encodeJournalFields(fields);
    assert.ok(enc.length <= 4096, `encoded ${enc.length}`);
    assert.ok(cut > 5000);
    assert.equal(fields.AFFINITYD_IRQ, '38');
    assert.equal(fields.AFFINITYD_TRUNCATED, String(cut));
    const msg = Buffer.from(fields.MESSAGE as Buffer).toString('utf8');
    assert.ok(!msg.includes('\uFFFD'), 'no replacement character from a split code point');
    assert.ok(msg.endsWith(' [truncated]'));
  });

  it('reports no journal for a missing socket', () => {
    assert.equal(isJournalAvailable('/nonexistent/affinityd/socket'), false);
  });
});

describe('stdout fallback', () => {
  it('writes JSON lines when the journal socket is absent', async () => {
    const out = sink();
    const log = createAuditLog({ journal: 'auto', socketPath: '/nonexistent/affinityd/socket', stdout: out.stream });
    assert.equal(log.sink, 'stdout');
    log.record({ kind: 'applied', message: 'irq 38 (eth0 rx-0) 0-1 -> 1: cpu1 online', irq: 38, old: '0-1', new: '1', trigger: 'cpu1 online' });
    log.record({ kind: 'failed', message: 'irq 9: EIO', irq: 9, error: 'EIO\nkernel-managed' });
    await log.close();
    const [a, b] = out.lines();
    assert.equal(out.lines().length, 2);
    assert.equal(a!.kind, 'applied');
    assert.equal(a!.message_id, MESSAGE_IDS.applied);
    assert.equal(a!.message, 'irq 38 (eth0 rx-0) 0-1 -> 1: cpu1 online');
    assert.equal(a!.irq, 38);
    assert.equal(a!.new, '1');
    assert.equal(a!.level, 'info');
    assert.equal(typeof a!.time, 'string');
    assert.equal(b!.level, 'error');
    assert.equal(b!.error, 'EIO\nkernel-managed');
    assert.equal(log.stats(), null);
    assert.throws(() => log.record({ kind: 'applied', message: 'late' }), /after close/);
  });

  it('journal off writes to stdout even when a socket is given', () => {
    const out = sink();
    const log = createAuditLog({ journal: 'off', stdout: out.stream });
    assert.equal(log.sink, 'stdout');
    assert.throws(() => createAuditLog({ journal: 'maybe' as 'on' }), /journal must be auto, on or off/);
  });
});

describe('audit reader (pure)', () => {
  it('builds journalctl arguments from the filters', () => {
    assert.deepEqual(journalctlArgs({ irq: 38, interface: 'eth0', since: '1h ago', directory: '/tmp/j' }).slice(6), [
      '--directory=/tmp/j',
      '--since=1h ago',
      'SYSLOG_IDENTIFIER=affinityd',
      'AFFINITYD_IRQ=38',
      'AFFINITYD_INTERFACE=eth0',
    ]);
    assert.throws(() => journalctlArgs({ irq: -1 }), /irq must be a non-negative integer/);
    assert.throws(() => journalctlArgs({ interface: 'a=b' }), /invalid interface name/);
    assert.throws(() => journalctlArgs({ kind: 'nope' as 'applied' }), /unknown kind "nope"/);
  });

  it('parses journalctl JSON including byte-array and repeated values', () => {
    const line = JSON.stringify({
      __REALTIME_TIMESTAMP: '1700000000000000',
      MESSAGE: [104, 105],
      MESSAGE_ID: MESSAGE_IDS['skipped-managed'],
      PRIORITY: '6',
      AFFINITYD_IRQ: '40',
      AFFINITYD_ERROR: ['x', 'y'],
    });
    const [e] = parseJournalJson(line + '\n');
    assert.equal(e!.message, 'hi');
    assert.equal(e!.kind, 'skipped-managed');
    assert.equal(e!.irq, 40);
    assert.equal(e!.error, 'x | y');
    assert.equal(e!.time.getTime(), 1700000000000);
    assert.match(formatAuditTable([e!]), /^TIME +KIND +IRQ +DEVICE +MESSAGE\n.* skipped-managed +40 +- +hi\n$/);
    assert.equal(formatAuditTable([]), 'no audit records\n');
  });

  it('gives a one-line error when journalctl is missing', async () => {
    await assert.rejects(readAudit({ journalctl: '/nonexistent/journalctl' }), (err: Error) => {
      assert.ok(err instanceof AuditReadError);
      assert.match(err.message, /^\/nonexistent\/journalctl not found: reading the audit trail needs systemd's journalctl/);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  });
});

describe('real journald', () => {
  let jd: TestJournald | null = null;
  const skipReason = journaldUnavailableReason();

  before(async () => {
    if (skipReason === null) jd = await startJournald();
  });
  after(async () => {
    await jd?.cleanup();
  });

  it('stores every record kind with its fields', async (t) => {
    if (!jd) return t.skip(skipReason ?? 'journald not started');
    const log = createAuditLog({ journal: 'auto', socketPath: jd.socketPath });
    assert.equal(log.sink, 'journal');
    for (const kind of AUDIT_KINDS) {
      log.record({
        kind,
        message: `irq 38 (eth0 rx-0) 0-1 -> 1: ${kind}`,
        irq: 38,
        interface: 'eth0',
        queue: 'rx-0',
        old: '0-1',
        new: '1',
        trigger: 'cpu1 online',
        policy: '[net:wan]',
        target: '/proc/irq/38/smp_affinity',
        error: kind === 'failed' ? 'EIO' : undefined,
      });
    }
    await log.close();
    assert.deepEqual(log.stats(), { sent: 8, queued: 0, dropped: 0, truncated: 0, failed: 0, undelivered: 0, lastError: null });
    for (const kind of AUDIT_KINDS) {
      const got = await jd.waitFor([`MESSAGE_ID=${MESSAGE_IDS[kind]}`, 'AFFINITYD_IRQ=38'], 1);
      assert.equal(got.length, 1, kind);
      const e = got[0]!;
      assert.equal(e.MESSAGE, `irq 38 (eth0 rx-0) 0-1 -> 1: ${kind}`);
      assert.equal(e.PRIORITY, String(DEFAULT_PRIORITY[kind]));
      assert.equal(e.SYSLOG_IDENTIFIER, 'affinityd');
      assert.equal(e.AFFINITYD_IRQ, '38');
      assert.equal(e.AFFINITYD_INTERFACE, 'eth0');
      assert.equal(e.AFFINITYD_QUEUE, 'rx-0');
      assert.equal(e.AFFINITYD_OLD, '0-1');
      assert.equal(e.AFFINITYD_NEW, '1');
      assert.equal(e.AFFINITYD_TRIGGER, 'cpu1 online');
      assert.equal(e.AFFINITYD_POLICY, '[net:wan]');
      assert.equal(e.AFFINITYD_TARGET, '/proc/irq/38/smp_affinity');
      assert.equal(e.AFFINITYD_ERROR, kind === 'failed' ? 'EIO' : undefined);
      assert.equal(e._TRANSPORT, 'journal');
      assert.equal(Number(e._PID), process.pid);
    }
  });

  it('keeps a value with newlines intact (binary-safe form)', async (t) => {
    if (!jd) return t.skip(skipReason ?? 'journald not started');
    const client = new JournalClient({ socketPath: jd.socketPath });
    const value = 'write failed:\nEIO\n\tline=3 ümlaut =x';
    client.send({ MESSAGE: 'binary-safe', SYSLOG_IDENTIFIER: 'affinityd', AFFINITYD_ERROR: value, AFFINITYD_TRIGGER: 'bin-test' });
    assert.equal(await client.close(), true);
    const [e] = await jd.waitFor(['AFFINITYD_TRIGGER=bin-test'], 1);
    assert.ok(e, 'record not found');
    // journalctl prints values with control characters other than \n as byte arrays.
    const got = Array.isArray(e.AFFINITYD_ERROR) ? Buffer.from(e.AFFINITYD_ERROR as number[]).toString('utf8') : e.AFFINITYD_ERROR;
    assert.equal(got, value);
    assert.equal(e.MESSAGE, 'binary-safe');
  });

  it('truncates a record larger than a datagram, with a note', async (t) => {
    if (!jd) return t.skip(skipReason ?? 'journald not started');
    const client = new JournalClient({ socketPath: jd.socketPath });
    client.send({ MESSAGE: 'x'.repeat(1024 * 1024), SYSLOG_IDENTIFIER: 'affinityd', AFFINITYD_TRIGGER: 'big-test' });
    assert.equal(await client.close(), true);
    assert.equal(client.stats.truncated, 1);
    const [e] = await jd.waitFor(['AFFINITYD_TRIGGER=big-test'], 1);
    assert.ok(e, 'record not found');
    const msg = String(e.MESSAGE ?? '');
    assert.ok(msg.endsWith('x [truncated]'), msg.slice(-40));
    assert.ok(Number(e.AFFINITYD_TRUNCATED) > 800_000);
  });

  it('loses no record when journald restarts mid-stream', async (t) => {
    if (!jd) return t.skip(skipReason ?? 'journald not started');
    const client = new JournalClient({ socketPath: jd.socketPath, retryMinMs: 10, retryMaxMs: 100 });
    const tag = `restart-${process.pid}`;
    const total = 600;
    let down = false;
    for (let i = 0; i < total; i++) {
      client.send({ MESSAGE: `seq ${i}`, SYSLOG_IDENTIFIER: 'affinityd', AFFINITYD_TRIGGER: tag, AFFINITYD_QUEUE: String(i) });
      if (i === 200) {
        // Stop while records are in flight; the next 200 are sent while nothing listens.
        await jd.stopDaemon();
        down = true;
      }
      if (i === 400) {
        // The socket (held like systemd-journald.socket) takes ~max_dgram_qlen; the rest wait here.
        assert.ok(client.stats.queued >= 150, `queued while down: ${client.stats.queued}`);
        await jd.startDaemon();
        down = false;
      }
      if (i % 20 === 0) await sleep(1);
    }
    assert.equal(down, false);
    assert.equal(await client.close(10_000), true);
    assert.equal(client.stats.dropped, 0);
    assert.equal(client.stats.sent, total);
    const got = await jd.waitFor([`AFFINITYD_TRIGGER=${tag}`], total, 10_000);
    const seqs = got.map((e) => Number(e.AFFINITYD_QUEUE));
    const missing = [...Array(total).keys()].filter((i) => !seqs.includes(i));
    assert.deepEqual(missing, []);
    // In order, too: the queue preserves the order records were made in.
    assert.deepEqual(seqs, [...Array(total).keys()]);
  });

  it('bounds the queue while the socket is absent and reports the drops', async (t) => {
    if (!jd) return t.skip(skipReason ?? 'journald not started');
    const tag = `bound-${process.pid}`;
    // ENOENT until the link appears: journald not started yet (early boot).
    const dir = mkdtempSync(join(tmpdir(), 'affd-audit-'));
    const link = join(dir, 'socket');
    try {
      const client = new JournalClient({ socketPath: link, maxQueue: 5, retryMinMs: 10, retryMaxMs: 50 });
      for (let i = 0; i < 12; i++) client.send({ MESSAGE: `b ${i}`, SYSLOG_IDENTIFIER: 'affinityd', AFFINITYD_TRIGGER: tag, AFFINITYD_QUEUE: String(i) });
      assert.equal(client.stats.queued, 5);
      assert.equal(client.stats.dropped, 7);
      assert.equal(await client.flush(100), false, 'flush cannot finish while the socket is absent');
      symlinkSync(jd.socketPath, link);
      assert.equal(await client.close(5000), true);
      assert.equal(client.stats.sent, 5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const got = await jd.waitFor([`AFFINITYD_TRIGGER=${tag}`], 5);
    assert.deepEqual(got.map((e) => e.AFFINITYD_QUEUE), ['7', '8', '9', '10', '11'], 'the newest records are kept');
    const [note] = await jd.waitFor(['AFFINITYD_DROPPED=7'], 1);
    assert.ok(note, 'drop note missing');
    assert.match(String(note.MESSAGE), /^7 audit records were dropped/);
  });

  it('retries after ECONNREFUSED (a socket file nobody listens on)', async (t) => {
    if (!jd) return t.skip(skipReason ?? 'journald not started');
    const dir = mkdtempSync(join(tmpdir(), 'affd-audit-'));
    const stale = join(dir, 'stale');
    const link = join(dir, 'socket');
    try {
      // What a journald that bound its own socket leaves behind when it stops.
      const s = unixDgram.createSocket('unix_dgram');
      s.bind(stale);
      s.close();
      symlinkSync(stale, link);
      const client = new JournalClient({ socketPath: link, retryMinMs: 10, retryMaxMs: 20 });
      client.send({ MESSAGE: 'refused first', SYSLOG_IDENTIFIER: 'affinityd', AFFINITYD_TRIGGER: `refused-${process.pid}` });
      assert.equal(client.stats.queued, 1);
      assert.equal(await client.flush(60), false);
      // "journald is back": the path now leads to a listening socket.
      symlinkSync(jd.socketPath, `${link}.new`);
      renameSync(`${link}.new`, link);
      assert.equal(await client.close(5000), true);
      assert.equal(client.stats.failed, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal((await jd.waitFor([`AFFINITYD_TRIGGER=refused-${process.pid}`], 1)).length, 1);
  });

  it('audit log "on" queues until the socket appears', async (t) => {
    if (!jd) return t.skip(skipReason ?? 'journald not started');
    const out = sink();
    const warn = sink();
    const log = createAuditLog({ journal: 'on', socketPath: '/nonexistent/affinityd/socket', flushTimeoutMs: 50, stdout: out.stream, warn: warn.stream, client: { retryMinMs: 10, retryMaxMs: 20 } });
    assert.equal(log.sink, 'journal');
    log.record({ kind: 'plan-summary', message: 'nothing to do' });
    await log.close();
    // Still absent at close: the record goes to the fallback stream, and stderr says so.
    assert.equal(log.stats()?.queued, 0);
    assert.equal(log.stats()?.undelivered, 1);
    assert.deepEqual(out.lines().map((l) => l.message), ['nothing to do']);
    assert.match(warn.text(), /^affinityd: 1 audit record\(s\) not delivered to the journal: the journal did not accept them within 50 ms/);
  });

  it('readAudit filters by irq, interface, kind and since', async (t) => {
    if (!jd) return t.skip(skipReason ?? 'journald not started');
    const log = createAuditLog({ journal: 'on', socketPath: jd.socketPath });
    log.record({ kind: 'applied', message: 'irq 1038 (ethx9 rx-0) 0 -> 1: reader', irq: 1038, interface: 'ethx9', queue: 'rx-0' });
    log.record({ kind: 'applied', message: 'irq 1039 (ethx9 rx-1) 0 -> 1: reader', irq: 1039, interface: 'ethx9', queue: 'rx-1' });
    log.record({ kind: 'failed', message: 'irq 1040 (ethy9 rx-0): EIO', irq: 1040, interface: 'ethy9', error: 'EIO' });
    await log.close();
    const ns = jd.namespace ?? undefined;
    await jd.waitFor(['AFFINITYD_INTERFACE=ethy9'], 1);

    const byIrq = await readAudit({ namespace: ns, irq: 1038 });
    assert.deepEqual(byIrq.map((e) => [e.irq, e.kind, e.interface, e.queue]), [[1038, 'applied', 'ethx9', 'rx-0']]);
    const byIf = await readAudit({ namespace: ns, interface: 'ethx9' });
    assert.deepEqual(byIf.map((e) => e.irq), [1038, 1039]);
    const failed = await readAudit({ namespace: ns, kind: 'failed', interface: 'ethy9' });
    assert.deepEqual(failed.map((e) => [e.irq, e.error, e.priority]), [[1040, 'EIO', 3]]);
    assert.equal((await readAudit({ namespace: ns, irq: 1038, since: '1 hour ago' })).length, 1);
    assert.equal((await readAudit({ namespace: ns, irq: 1038, since: 'tomorrow' })).length, 0);
    const table = await auditCommand({ namespace: ns, interface: 'ethx9' });
    assert.match(table, /^TIME +KIND +IRQ +DEVICE +MESSAGE\n/);
    assert.match(table, /applied +1038 +ethx9 rx-0 +irq 1038 \(ethx9 rx-0\) 0 -> 1: reader/);
    await assert.rejects(readAudit({ namespace: ns, since: 'not a time' }), /^AuditReadError: journalctl failed: .*timestamp/i);
  });

  it('works on the default socket (reusing a running journald, or starting one)', async (t) => {
    if (!jd) return t.skip(skipReason ?? 'journald not started');
    const def = await startJournald({ namespace: null });
    try {
      const log = createAuditLog({ journal: 'auto' });
      assert.equal(log.sink, 'journal');
      const tag = `default-${process.pid}`;
      log.record({ kind: 'policy-loaded', message: 'policy /etc/affinityd/affinityd.conf loaded', policy: '/etc/affinityd/affinityd.conf', trigger: tag });
      await log.close();
      const [e] = await def.waitFor([`AFFINITYD_TRIGGER=${tag}`], 1);
      assert.ok(e, 'record not found on the default journal');
      assert.equal(e.MESSAGE_ID, MESSAGE_IDS['policy-loaded']);
    } finally {
      await def.cleanup();
    }
  });
});
