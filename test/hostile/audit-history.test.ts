// hostile: the audit reader with a large or hostile history (issue 10, class 8): journalctl's output
// is streamed (200 000 records neither overflow the stack nor a buffer), lines that are not
// entries (`null`, junk) are skipped with one warning instead of a TypeError, a journalctl
// that never exits is stopped after the idle bound, and --directory/--file refuse what is
// not a journal with one line and exit 1. Fake journalctl scripts stand in for the binary.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { AuditReadError, auditCommand, parseJournalLine, readAudit, streamAudit } from '../../src/audit/audit-reader.js';
import { MESSAGE_IDS } from '../../src/audit/records.js';
import { EXECUTABLE } from '../../src/cli/executable.js';

const CLI = EXECUTABLE;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-audit-stream-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A fake journalctl: a node script that ignores its arguments and runs `body`. */
function fakeJournalctl(name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!${process.execPath}\n${body}\n`, { mode: 0o755 });
  return file;
}

const entry = (i: number): string =>
  JSON.stringify({
    __REALTIME_TIMESTAMP: String(1_700_000_000_000_000 + i * 1000),
    MESSAGE: `irq ${i % 64} (eth0 rx-${i % 8}) 0-1 -> ${i % 2}: cpu1 online`,
    MESSAGE_ID: MESSAGE_IDS.applied,
    PRIORITY: '6',
    _HOSTNAME: `gw${i % 3}`,
    AFFINITYD_IRQ: String(i % 64),
    AFFINITYD_INTERFACE: 'eth0',
    AFFINITYD_QUEUE: `rx-${i % 8}`,
  });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('audit reader: large and hostile journalctl output', () => {
  test('200 000 records: streamed, counted, tabled and printed as JSON without overflow', async () => {
    const N = 200_000;
    // Three hosts' lines, cycled; written with back-pressure like a real journalctl on a pipe.
    const bin = fakeJournalctl(
      'big',
      `const lines = ${JSON.stringify([0, 1, 2].map(entry))}; let i = 0; const N = ${N};
       function more() { let ok = true; while (i < N && ok) ok = process.stdout.write(lines[i++ % 3] + '\\n'); if (i < N) process.stdout.once('drain', more); }
       more();`,
    );
    // --json: each line leaves as soon as it is parsed; nothing is kept.
    let n = 0;
    let lastJson = '';
    const hosts = new Set<unknown>();
    await auditCommand({ journalctl: bin, json: true }, (line) => {
      n++;
      lastJson = line;
      if (n <= 3) hosts.add(JSON.parse(line).host);
    });
    assert.equal(n, N);
    assert.deepEqual([...hosts].sort(), ['gw0', 'gw1', 'gw2']);
    assert.equal(JSON.parse(lastJson).host, `gw${(N - 1) % 3}`);
    // The table: widths need every row, so rows (not entries) are kept.
    const lines: string[] = [];
    await auditCommand({ journalctl: bin }, (line) => void lines.push(line));
    assert.equal(lines.length, N + 1, 'header + N rows');
    assert.match(lines[0]!, /^TIME +HOST +KIND +IRQ +DEVICE +MESSAGE$/, 'several hosts: HOST column');
    assert.match(lines[N]!, new RegExp(`^\\S+ \\S+ +gw${(N - 1) % 3} +applied +`));
  });

  test('a `null` line, junk and non-object JSON are skipped with one warning, not a TypeError', async () => {
    const bin = fakeJournalctl('nulls', `console.log('null'); console.log(${JSON.stringify(entry(1))}); console.log('[1,2]'); console.log('42'); console.log('not json'); console.log(${JSON.stringify(entry(2))});`);
    const warnings: string[] = [];
    const entries = await readAudit({ journalctl: bin, onWarning: (w) => warnings.push(w) });
    assert.equal(entries.length, 2);
    assert.deepEqual(warnings, ['skipped 4 line(s) from journalctl that were not journal entries (first: null)']);
  });

  test('generated: parseJournalLine never throws, whatever the line', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v))), (line) => {
        const e = parseJournalLine(line);
        return e === null || (e.time instanceof Date && typeof e.message === 'string');
      }),
      { numRuns: 2000 },
    );
    // Objects with fields of every JSON type journalctl could print.
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('MESSAGE', 'MESSAGE_ID', 'PRIORITY', '_HOSTNAME', '__REALTIME_TIMESTAMP', 'AFFINITYD_IRQ', 'AFFINITYD_ERROR'), fc.jsonValue()), (o) => {
        const e = parseJournalLine(JSON.stringify(o));
        return e !== null && typeof e.message === 'string';
      }),
      { numRuns: 2000 },
    );
  });

  test('a journalctl that never exits is stopped after the idle bound (and killed by its PID)', async () => {
    const bin = fakeJournalctl('hang', `console.log(${JSON.stringify(entry(1))}); setInterval(() => {}, 1000);`);
    const t0 = Date.now();
    let pid = 0;
    await assert.rejects(readAudit({ journalctl: bin, idleTimeoutMs: 1500 }), (e: Error) => {
      assert.ok(e instanceof AuditReadError);
      const m = /^journalctl printed nothing for 2 s without exiting; stopped it \(pid (\d+)\)$/.exec(e.message);
      assert.ok(m, e.message);
      pid = Number(m[1]);
      return true;
    });
    assert.ok(Date.now() - t0 < 20_000, 'bounded');
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!alive(pid), `fake journalctl ${pid} was killed`);
  });

  test('a consumer that stops early does not leave journalctl running', async () => {
    const pidFile = path.join(dir, 'early.pid');
    const bin = fakeJournalctl('early', `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); const e = ${JSON.stringify(entry(1))}; setInterval(() => console.log(e), 5);`);
    for await (const e of streamAudit({ journalctl: bin })) {
      assert.ok(e);
      break;
    }
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!alive(pid));
  });

  test('journalctl failing: its first stderr line, one line', async () => {
    const bin = fakeJournalctl('fail', `process.stderr.write('Failed to parse timestamp: yesterdayy\\nmore\\n'); process.exit(1);`);
    await assert.rejects(readAudit({ journalctl: bin }), /^AuditReadError: journalctl failed: Failed to parse timestamp: yesterdayy$/);
  });
});

describe('audit --directory / --file on what is not a journal', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'audit', ...args], { encoding: 'utf8' });
  test('missing directory, empty directory, a file given as directory, a non-journal file: one line, exit 1', () => {
    const empty = fs.mkdtempSync(path.join(dir, 'empty-'));
    fs.writeFileSync(path.join(empty, 'fake.journal'), 'not a journal at all');
    const cases: [string[], string][] = [
      [['--directory', path.join(dir, 'nope')], `affinityd: audit --directory ${path.join(dir, 'nope')}: no such directory\n`],
      [['--directory', empty], `affinityd: audit --directory ${empty}: no journal files in it (expected *.journal, as systemd-journal-remote writes them)\n`],
      [['--directory', path.join(empty, 'fake.journal')], `affinityd: audit --directory ${path.join(empty, 'fake.journal')}: not a directory (use --file for one journal file)\n`],
      [['--file', path.join(empty, 'fake.journal')], `affinityd: audit --file ${path.join(empty, 'fake.journal')}: not a journal file\n`],
      [['--file', path.join(dir, 'nope.journal')], `affinityd: audit --file ${path.join(dir, 'nope.journal')}: no such file\n`],
      [['--file', path.join(empty, 'fake.journal'), '--directory', empty], 'affinityd: audit: give --directory or --file, not both\n'],
    ];
    for (const [args, want] of cases) {
      const r = run(...args);
      assert.equal(r.stderr, want, args.join(' '));
      assert.equal(r.status, 1, args.join(' '));
      assert.equal(r.stdout, '');
    }
  });
});
