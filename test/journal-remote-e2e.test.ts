// One audit across hosts, for real: a real systemd-journal-remote listens on loopback and
// writes into a temp dir; `affinityd apply` (a separate process) records a change in this
// host's real journald; a real systemd-journal-upload sends it to journal-remote; a second
// host's journal arrives in the same directory (journal-remote reading that host's export
// stream). `affinityd audit --directory` then lists both hosts' records with a HOST column,
// and --since/--irq/--interface/--file filter across them. Stopped by PID, temp dir removed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MESSAGE_IDS } from '../src/audit/records.js';
import { journaldUnavailableReason, startJournald, type TestJournald } from './helpers/journald.js';
import { Proc, freePort, until } from './helpers/prometheus.js';
import { ip, tryIp } from './helpers/ip.js';
import { EXECUTABLE } from '../src/cli/executable.js';

const CLI = EXECUTABLE;
const SHIPPED = fileURLToPath(new URL('../../etc/affinityd.ini', import.meta.url));
const REMOTE = '/lib/systemd/systemd-journal-remote';
const UPLOAD = '/lib/systemd/systemd-journal-upload';
const pid = process.pid;
const NS = `affd-jr-${pid}`;
const VETH = `affdJ${pid}`;
const PEER = `affdK${pid}`;
/** The second host: its name, and an IRQ number our host's record does not have. */
const OTHER = `gw-far-${pid}`;
const OTHER_IRQ = 4242;


function audit(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, 'audit', ...args], { encoding: 'utf8', timeout: 30_000 });
}

function jsonLines(s: string): Record<string, unknown>[] {
  return s.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A record from another gateway, in the journal export format journal-upload also speaks. */
function otherHostExport(): string {
  const fields: [string, string][] = [
    ['__REALTIME_TIMESTAMP', '1700000000000000'], // 2023-11-14: older than our record
    ['__MONOTONIC_TIMESTAMP', '1000000'],
    ['_BOOT_ID', '0123456789abcdef0123456789abcdef'],
    ['_MACHINE_ID', 'fedcba9876543210fedcba9876543210'],
    ['_HOSTNAME', OTHER],
    ['SYSLOG_IDENTIFIER', 'affinityd'],
    ['PRIORITY', '6'],
    ['MESSAGE_ID', MESSAGE_IDS.applied],
    ['MESSAGE', `irq ${OTHER_IRQ} (${VETH} rx-0) 0-1 -> 1: cpu1 online`],
    ['AFFINITYD_TARGET', `irq/${OTHER_IRQ}`],
    ['AFFINITYD_IRQ', String(OTHER_IRQ)],
    ['AFFINITYD_INTERFACE', VETH],
    ['AFFINITYD_QUEUE', 'rx-0'],
    ['AFFINITYD_OLD', '0-1'],
    ['AFFINITYD_NEW', '1'],
    ['AFFINITYD_TRIGGER', 'cpu1 online'],
  ];
  return fields.map(([k, v]) => `${k}=${v}`).join('\n') + '\n\n';
}

describe('audit across hosts through systemd-journal-remote', { concurrency: false }, () => {
  let skip: string | null = null;
  let jd: TestJournald | null = null;
  let dir = '';
  let out = '';
  let config = '';
  let port = 0;
  let remote: Proc | null = null;

  before(async () => {
    skip = journaldUnavailableReason();
    if (skip) return;
    jd = await startJournald({ namespace: null });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-jremote-'));
    out = path.join(dir, 'remote');
    fs.mkdirSync(out);
    config = path.join(dir, 'affinityd.ini');
    const shipped = fs
      .readFileSync(SHIPPED, 'utf8')
      .replace(/^state-file = .*$/m, `state-file = ${dir}/state.json`)
      .replace(/^textfile-directory = .*$/m, 'textfile-directory = off');
    fs.writeFileSync(config, `${shipped}\n[net:others]\nmatch-name = *\nstrategy = ignore\n\n[net:ours]\nmatch-name = ${VETH}\nstrategy = spread\n`);
    ip('netns', 'add', NS);
    ip('link', 'add', VETH, 'type', 'veth', 'peer', 'name', PEER, 'netns', NS);
    port = await freePort();
    remote = new Proc('journal-remote', REMOTE, [`--listen-http=127.0.0.1:${port}`, `--output=${out}/`]);
    await until(
      'journal-remote listening',
      () =>
        new Promise<boolean>((resolve) => {
          if (!remote!.alive()) throw new Error(`journal-remote exited: ${remote!.log()}`);
          const s = net.connect(port, '127.0.0.1', () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        }),
      10_000,
    );
  });

  after(async () => {
    await remote?.stop();
    tryIp('link', 'del', VETH);
    tryIp('netns', 'del', NS);
    await jd?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    assert.ok(!remote?.alive(), 'journal-remote stopped');
  });

  it('apply → journald → journal-upload → journal-remote → `affinityd audit --directory` with HOST, filters across hosts', async (t) => {
    if (skip || !jd || !remote) return t.skip(skip ?? 'not started');
    // Upload only what this test writes: start after the journal's current last entry.
    const lastLine = execFileSync('journalctl', ['--system', '-n', '1', '-o', 'json', '--output-fields=__CURSOR', '-q'], { encoding: 'utf8' }).trim();
    const cursor = lastLine ? (JSON.parse(lastLine) as { __CURSOR: string }).__CURSOR : null;

    const apply = spawnSync(process.execPath, [CLI, 'apply', '--config', config], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(apply.status, 0, apply.stderr);
    const [local] = await jd.waitFor([`MESSAGE_ID=${MESSAGE_IDS.applied}`, `AFFINITYD_INTERFACE=${VETH}`], 1);
    assert.ok(local, 'the apply record is in this host\'s journal');

    const upload = spawnSync(
      UPLOAD,
      [`--url=http://127.0.0.1:${port}`, '--system', '--follow=no', `--save-state=${path.join(dir, 'upload.state')}`, ...(cursor ? [`--after-cursor=${cursor}`] : [])],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(upload.status, 0, upload.stderr);

    // Another gateway's journal lands in the same directory.
    const far = spawnSync(REMOTE, [`--output=${path.join(out, `remote-${OTHER}.journal`)}`, '-'], { input: otherHostExport(), encoding: 'utf8', timeout: 30_000 });
    assert.equal(far.status, 0, far.stderr);

    const host = os.hostname();
    const rows = await until(
      'both hosts in audit --directory',
      async () => {
        const r = audit('--directory', out, '--interface', VETH, '--json');
        if (r.status !== 0) throw new Error(r.stderr);
        const rs = jsonLines(r.stdout);
        return rs.some((x) => x.host === host) && rs.some((x) => x.host === OTHER) ? rs : null;
      },
      15_000,
      200,
    );
    const ours = rows.find((x) => x.host === host)!;
    assert.equal(ours.kind, 'applied');
    assert.equal(ours.interface, VETH);
    assert.equal(ours.trigger, 'apply');
    assert.match(String(ours.target), new RegExp(`^net/${VETH}/rx-0/rps$`));
    t.diagnostic(`${rows.length} record(s) for ${VETH} from hosts ${[...new Set(rows.map((x) => x.host))].join(', ')}; files: ${fs.readdirSync(out).join(', ')}`);

    // The table: a HOST column naming both gateways.
    const table = audit('--directory', out, '--interface', VETH);
    assert.equal(table.status, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^TIME +HOST +KIND +IRQ +DEVICE +MESSAGE$/);
    for (const l of lines) t.diagnostic(l);
    assert.ok(lines.some((l) => l.split(/ {2,}/)[1] === host), table.stdout);
    assert.ok(lines.some((l) => l.split(/ {2,}/)[1] === OTHER), table.stdout);

    // Filters work across hosts.
    const byIrq = jsonLines(audit('--directory', out, '--irq', String(OTHER_IRQ), '--json').stdout);
    assert.deepEqual(byIrq.map((x) => x.host), [OTHER]);
    const recent = jsonLines(audit('--directory', out, '--interface', VETH, '--since', '2024-01-01', '--json').stdout);
    assert.ok(recent.length >= 1 && recent.every((x) => x.host === host), 'since: only our (new) record');
    const otherIf = jsonLines(audit('--directory', out, '--interface', 'nosuchif0', '--json').stdout);
    assert.deepEqual(otherIf, []);
    // --file: one host's journal alone.
    const one = jsonLines(audit('--file', path.join(out, `remote-${OTHER}.journal`), '--json').stdout);
    assert.deepEqual(one.map((x) => x.host), [OTHER]);
  });
});
