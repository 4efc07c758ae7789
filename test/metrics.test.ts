// Metrics: the [metrics] policy keys, the registry's series after real passes on a fixture
// tree, the textfile's warn-once behaviour, the /metrics listener, and a port already in use
// as a one-line configuration error (exit 78) naming the `listen` line.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import pino from 'pino';
import { NEVER, Subject } from 'rxjs';
import { startAgent } from '../src/agent/agent.js';
import type { AgentEvent } from '../src/agent/events.js';
import type { AuditLog } from '../src/audit/audit-log.js';
import { formatPolicy, parsePolicy, PolicyError } from '../src/policy/policy.js';
import { AgentMetrics, queueBalance } from '../src/metrics/metrics.js';
import { startMetricsListener } from '../src/metrics/listener.js';
import { TEXTFILE_NAME, TextfileExporter } from '../src/metrics/textfile.js';
import { version } from '../src/version.js';
import type { Plan } from '../src/types.js';
import { buildFixture, presets, removeFixture } from '../fixture/fixture.js';
import { EXECUTABLE } from '../src/cli/executable.js';

const CLI = EXECUTABLE;
const F = '/etc/affinityd/affinityd.ini';

const quietAudit: AuditLog = { sink: 'stdout', record: () => undefined, flush: async () => undefined, close: async () => undefined, stats: () => null };

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'affd-metrics-'));
}

/** Samples of one metric from the text format: labels text → value. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

/** A free loopback port, and a server holding it (to make it busy) when `hold`. */
async function loopbackPort(hold: boolean): Promise<{ port: number; close: () => Promise<void> }> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  if (!hold) await new Promise<void>((r) => s.close(() => r()));
  return { port, close: () => new Promise<void>((r) => (hold ? s.close(() => r()) : r())) };
}

function get(port: number, p: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
      })
      .on('error', reject);
  });
}

describe('[metrics] policy', () => {
  test('defaults: textfile into Debian node_exporter\'s directory, no listener', () => {
    const p = parsePolicy('', F);
    assert.deepEqual(p.metrics, { textfileDirectory: '/var/lib/prometheus/node-exporter', listen: null });
  });

  test('values: off, directories, IPv4, [IPv6], localhost; the listen line is remembered', () => {
    assert.equal(parsePolicy('[metrics]\ntextfile-directory = off', F).metrics.textfileDirectory, null);
    assert.equal(parsePolicy('[metrics]\ntextfile-directory = /run/prom', F).metrics.textfileDirectory, '/run/prom');
    assert.deepEqual(parsePolicy('[metrics]\n\nlisten = 127.0.0.1:9101', F).metrics.listen, { host: '127.0.0.1', port: 9101, file: F, line: 3 });
    assert.deepEqual(parsePolicy('[metrics]\nlisten = [::1]:9101', F).metrics.listen, { host: '::1', port: 9101, file: F, line: 2 });
    assert.equal(parsePolicy('[metrics]\nlisten = localhost:80', F).metrics.listen?.host, 'localhost');
    assert.equal(parsePolicy('[metrics]\nlisten = OFF', F).metrics.listen, null);
  });

  test('bad values: one line naming file:line, section and key', () => {
    const cases: [string, RegExp][] = [
      ['listen = 9101', /expected HOST:PORT/],
      ['listen = 127.0.0.1:0', /port 0 is out of range/],
      ['listen = 127.0.0.1:65536', /port 65536 is out of range/],
      ['listen = example.com:9101', /'example.com' is not an IPv4 address/],
      ['listen = [127.0.0.1]:9101', /not an IPv6 address/],
      ['listen = ::1:9101', /expected HOST:PORT/],
      ['textfile-directory = var/lib/x', /expected an absolute directory or 'off'/],
    ];
    for (const [line, want] of cases) {
      assert.throws(
        () => parsePolicy(`[metrics]\n${line}`, F),
        (e: unknown) => e instanceof PolicyError && e.message.startsWith(`${F}:2: [metrics] ${line.split(' ')[0]}: `) && want.test(e.message) && !e.message.includes('\n'),
        line,
      );
    }
    assert.throws(() => parsePolicy('[agent]\nlisten = 127.0.0.1:1', F), /not valid in \[agent\] sections \(it belongs in \[metrics\]\)/);
  });

  test('check-config output parses back to the same [metrics]', () => {
    for (const text of ['', '[metrics]\ntextfile-directory = off\nlisten = [::1]:9101', '[metrics]\nlisten = 127.0.0.1:9101']) {
      const p = parsePolicy(text, F);
      const again = parsePolicy(formatPolicy(p), F);
      assert.equal(again.metrics.textfileDirectory, p.metrics.textfileDirectory);
      assert.deepEqual(again.metrics.listen && { host: again.metrics.listen.host, port: again.metrics.listen.port }, p.metrics.listen && { host: p.metrics.listen.host, port: p.metrics.listen.port });
    }
  });
});

describe('AgentMetrics', () => {
  test('build info, zero series up front, writes by outcome and target kind, balance, timestamps', async () => {
    let now = 1_700_000_000_000;
    const m = new AgentMetrics('1.2.3', () => now);
    let text = await m.text();
    assert.equal(samples(text, 'affinityd_build_info').get('{version="1.2.3"}'), 1);
    assert.equal(samples(text, 'affinityd_writes_total').get('{outcome="failed",target="irq"}'), 0);
    assert.equal(samples(text, 'affinityd_up').get(''), 1);
    const plan: Plan = {
      allowedCpus: [0, 1, 2],
      irqs: [
        { irq: 1, name: 'q0', device: null, interface: 'eth0', queue: 0, role: 'rx', node: 0, current: [0], desired: [0], reason: '', policy: null },
        { irq: 2, name: 'q1', device: null, interface: 'eth0', queue: 1, role: 'rx', node: 0, current: [0], desired: [0], reason: '', policy: null },
        { irq: 3, name: 'q2', device: null, interface: 'eth0', queue: 2, role: 'rx', node: 0, current: [0], desired: [1], reason: '', policy: null },
        { irq: 4, name: 'timer', device: null, interface: null, queue: null, role: null, node: null, current: [2], desired: [2], reason: '', policy: null },
      ],
      queues: [],
      rpsSockFlowEntries: { current: null, desired: null },
      warnings: [],
    };
    const w = (kind: 'irq' | 'rps' | 'xps') => ({ kind, target: 't', old: '', new: '', path: '', value: '', reason: '' }) as never;
    now += 5000;
    m.pass({ trigger: 'cpu', seconds: 0.004, plan, changes: [{ write: w('irq'), outcome: 'applied' }, { write: w('rps'), outcome: 'applied' }, { write: w('xps'), outcome: 'skipped-vanished' }] });
    text = await m.text();
    assert.equal(samples(text, 'affinityd_passes_total').get('{trigger="cpu"}'), 1);
    assert.equal(samples(text, 'affinityd_writes_total').get('{outcome="applied",target="rps"}'), 1);
    assert.equal(samples(text, 'affinityd_writes_total').get('{outcome="skipped-vanished",target="xps"}'), 1);
    assert.equal(samples(text, 'affinityd_pass_duration_seconds_count').get(''), 1);
    assert.equal(samples(text, 'affinityd_pass_duration_seconds_bucket').get('{le="0.005"}'), 1);
    assert.equal(samples(text, 'affinityd_pass_duration_seconds_bucket').get('{le="0.0025"}'), 0);
    // The timer IRQ is not a queue IRQ; cpu0 has two queues, cpu2 none.
    assert.equal(samples(text, 'affinityd_plan_queue_irqs_per_cpu').get('{stat="max"}'), 2);
    assert.equal(samples(text, 'affinityd_plan_queue_irqs_per_cpu').get('{stat="min"}'), 0);
    assert.equal(samples(text, 'affinityd_last_successful_pass_timestamp_seconds').get(''), 1_700_000_005);
    // A pass with a failed write is not a success.
    now += 5000;
    m.pass({ trigger: 'net', seconds: 0.01, plan, changes: [{ write: w('irq'), outcome: 'failed', error: 'EIO' }] });
    m.event({ kind: 'resync', reason: 'uevent overrun' });
    const online: AgentEvent = { kind: 'cpu', action: 'online', cpu: 1 };
    m.event(online);
    m.droppedMessage('uevent', 'uevent from userspace port 42 dropped: only the kernel (port 0) is trusted');
    m.reload('rejected');
    text = await m.text();
    assert.equal(samples(text, 'affinityd_writes_total').get('{outcome="failed",target="irq"}'), 1);
    assert.equal(samples(text, 'affinityd_last_successful_pass_timestamp_seconds').get(''), 1_700_000_005);
    assert.equal(samples(text, 'affinityd_last_pass_timestamp_seconds').get(''), 1_700_000_010);
    assert.equal(samples(text, 'affinityd_resyncs_total').get('{reason="overrun"}'), 1);
    assert.equal(samples(text, 'affinityd_kernel_events_dropped_total').get('{source="uevent",reason="overrun"}'), 1);
    assert.equal(samples(text, 'affinityd_kernel_events_dropped_total').get('{source="uevent",reason="untrusted-sender"}'), 1);
    assert.equal(samples(text, 'affinityd_kernel_events_total').get('{source="uevent",kind="cpu"}'), 1);
    assert.equal(samples(text, 'affinityd_policy_reloads_total').get('{result="rejected"}'), 1);
    assert.equal(samples(text, 'affinityd_policy_reloads_total').get('{result="accepted"}'), 0);
  });

  test('queueBalance: min ≤ max, and min·C ≤ placements ≤ max·C (generated plans)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.array(fc.array(fc.nat(20), { maxLength: 4 }), { maxLength: 40 }), (ncpu, sets) => {
        const allowed = Array.from({ length: ncpu }, (_, i) => i);
        const plan = {
          allowedCpus: allowed,
          irqs: sets.map((s, i) => ({ irq: i, name: `q${i}`, device: null, interface: 'eth0', queue: i, role: 'rx', node: 0, current: null, desired: [...new Set(s)], reason: '', policy: null })),
          queues: [],
          rpsSockFlowEntries: { current: null, desired: null },
          warnings: [],
        } as unknown as Plan;
        const { max, min } = queueBalance(plan);
        const placed = sets.reduce((n, s) => n + [...new Set(s)].filter((c) => c < ncpu).length, 0);
        return min <= max && min * ncpu <= placed && placed <= max * ncpu;
      }),
    );
  });
});

describe('textfile exporter', () => {
  test('atomic file; an unwritable directory is one warning per change of state, not per write', async () => {
    const base = tmpDir();
    const dir = path.join(base, 'textfile');
    const warns: string[] = [];
    const infos: string[] = [];
    const m = new AgentMetrics('t');
    const t = new TextfileExporter(dir, () => m.text(), { warn: (s) => warns.push(s), info: (s) => infos.push(s) });
    try {
      for (let i = 0; i < 3; i++) await t.write();
      assert.equal(warns.length, 1, warns.join('\n'));
      assert.match(warns[0]!, new RegExp(`^cannot write ${dir}/${TEXTFILE_NAME}: ENOENT; metrics not exported`));
      fs.mkdirSync(dir);
      await t.write();
      await t.write();
      assert.equal(infos.length, 1);
      assert.deepEqual(fs.readdirSync(dir), [TEXTFILE_NAME], 'no temp file left behind');
      assert.match(fs.readFileSync(path.join(dir, TEXTFILE_NAME), 'utf8'), /^affinityd_build_info\{version="t"\} 1$/m);
      // A different failure (the directory replaced by a file) is a new state: one more warning.
      fs.rmSync(dir, { recursive: true });
      fs.writeFileSync(dir, '');
      await t.write();
      await t.write();
      assert.equal(warns.length, 2);
      assert.match(warns[1]!, /ENOTDIR/);
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  test('the agent on a fixture tree writes affinityd.prom after its first pass, after events and reloads, and drift at the next start', async () => {
    const root = buildFixture(presets.vm2());
    try {
      fs.mkdirSync(path.join(root, 'var/lib/prometheus/node-exporter'), { recursive: true });
      const file = path.join(root, 'var/lib/prometheus/node-exporter', TEXTFILE_NAME);
      const events = new Subject<AgentEvent>();
      const stop = new Subject<void>();
      const done = startAgent({ root, sources: events, audit: quietAudit, log: pino({ level: 'silent' }) }, stop);
      const until = async (what: string, ok: () => boolean): Promise<void> => {
        const end = Date.now() + 3000;
        while (!ok()) {
          if (Date.now() > end) throw new Error(`timed out: ${what}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      const read = (): string => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
      await until('first textfile', () => /affinityd_passes_total\{trigger="(boot|start)"\} 1/.test(read()));
      assert.equal(samples(read(), 'affinityd_build_info').get(`{version="${version()}"}`), 1);
      assert.ok((samples(read(), 'affinityd_writes_total').get('{outcome="applied",target="irq"}') ?? 0) > 0, 'the first pass applied IRQ masks');
      events.next({ kind: 'cpu', action: 'online', cpu: 1 });
      events.next({ kind: 'cpu', action: 'online', cpu: 1 });
      await until('cpu pass', () => samples(read(), 'affinityd_passes_total').get('{trigger="cpu"}') === 1);
      assert.equal(samples(read(), 'affinityd_kernel_events_total').get('{source="uevent",kind="cpu"}'), 2);
      // SIGHUP's event: a reload, counted by result.
      events.next({ kind: 'reload', reason: 'SIGHUP' });
      await until('reload counted', () => samples(read(), 'affinityd_policy_reloads_total').get('{result="accepted"}') === 1);
      assert.equal(samples(read(), 'affinityd_drift_at_start_targets').get(''), 0);
      stop.next();
      assert.equal(await done, 0);
      assert.deepEqual(fs.readdirSync(path.dirname(file)), [TEXTFILE_NAME]);

      // The kernel resets two masks behind the agent's back; the next start reports the drift.
      for (const irq of [38, 39]) fs.writeFileSync(path.join(root, `proc/irq/${irq}/smp_affinity_list`), '0-1\n');
      const stop2 = new Subject<void>();
      const again = startAgent({ root, sources: NEVER, audit: quietAudit, log: pino({ level: 'silent' }) }, stop2);
      await until('drift in the textfile', () => samples(read(), 'affinityd_drift_at_start_targets').get('') === 2);
      stop2.next();
      assert.equal(await again, 0);
    } finally {
      removeFixture(root);
    }
  });
});

describe('textfile under --root', () => {
  test('links in the fixture cannot take the textfile outside the root', async () => {
    const decoy = tmpDir();
    fs.mkdirSync(path.join(decoy, 'node-exporter'));
    const cases: [string, RegExp][] = [
      // An absolute link is taken relative to the root (RESOLVE_IN_ROOT): it lands inside.
      [decoy, /cannot write .*affinityd\.prom: ENOENT/],
      // A relative link that climbs out of the root is refused.
      [path.relative('/var/lib', decoy).replace(/^/, '../../../'), /resolves outside the root/],
    ];
    try {
      for (const [target, warning] of cases) {
        const root = buildFixture(presets.vm2());
        try {
          fs.mkdirSync(path.join(root, 'var/lib'), { recursive: true });
          fs.symlinkSync(target, path.join(root, 'var/lib/prometheus'));
          const logs: string[] = [];
          const log = pino({ level: 'warn', base: null }, { write: (l: string) => void logs.push(l) });
          const stop = new Subject<void>();
          const done = startAgent({ root, sources: NEVER, audit: quietAudit, log }, stop);
          await new Promise((r) => setTimeout(r, 300));
          stop.next();
          assert.equal(await done, 0);
          assert.deepEqual(fs.readdirSync(path.join(decoy, 'node-exporter')), [], `nothing written outside the root (link ${target})`);
          assert.ok(logs.some((l) => warning.test(l)), `${target}: ${logs.join('')}`);
        } finally {
          removeFixture(root);
        }
      }
    } finally {
      fs.rmSync(decoy, { recursive: true, force: true });
    }
  });
});

describe('/metrics listener', () => {
  test('serves the text format on /metrics, 404 elsewhere, 405 for POST', async () => {
    const { port } = await loopbackPort(false);
    const m = new AgentMetrics('t');
    const l = await startMetricsListener('127.0.0.1', port, () => m.text());
    try {
      const r = await get(port, '/metrics');
      assert.equal(r.status, 200);
      assert.match(r.type, /^text\/plain; version=0\.0\.4/);
      assert.match(r.body, /^affinityd_build_info\{version="t"\} 1$/m);
      assert.equal((await get(port, '/')).status, 404);
      const post = await new Promise<number>((resolve, reject) => {
        http.request({ host: '127.0.0.1', port, path: '/metrics', method: 'POST' }, (res) => resolve(res.statusCode ?? 0)).on('error', reject).end();
      });
      assert.equal(post, 405);
    } finally {
      await l.close();
    }
  });

  test('a port already in use: `affinityd run` exits 78 with one line naming the listen line', async () => {
    const busy = await loopbackPort(true);
    const dir = tmpDir();
    try {
      const config = path.join(dir, 'affinityd.ini');
      fs.writeFileSync(config, `[agent]\nstate-file = ${dir}/state.json\n\n[metrics]\ntextfile-directory = off\nlisten = 127.0.0.1:${busy.port}\n`);
      const r = spawnSync(process.execPath, [CLI, 'run', '--config', config], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 78, r.stderr);
      assert.equal(r.stderr, `affinityd: ${config}:6: [metrics] listen: cannot listen on 127.0.0.1:${busy.port}: address already in use (EADDRINUSE)\n`);
    } finally {
      await busy.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the agent serves /metrics when [metrics] listen is set, and closes it on stop', async () => {
    const root = buildFixture(presets.vm2());
    const { port } = await loopbackPort(false);
    try {
      const config = path.join(root, 'test.ini');
      fs.writeFileSync(config, `[metrics]\ntextfile-directory = off\nlisten = 127.0.0.1:${port}\n`);
      const stop = new Subject<void>();
      const done = startAgent({ root, configFile: config, sources: NEVER, audit: quietAudit, log: pino({ level: 'silent' }) }, stop);
      let body = '';
      const end = Date.now() + 3000;
      while (!/affinityd_passes_total\{trigger="(boot|start)"\} 1/.test(body)) {
        if (Date.now() > end) throw new Error(`no pass in /metrics:\n${body}`);
        body = await get(port, '/metrics').then((r) => r.body, () => '');
        await new Promise((r) => setTimeout(r, 20));
      }
      stop.next();
      assert.equal(await done, 0);
      await assert.rejects(get(port, '/metrics'), /ECONNREFUSED/);
      assert.ok(!fs.existsSync(path.join(root, 'var/lib/prometheus')), 'textfile off: nothing written');
    } finally {
      removeFixture(root);
    }
  });
});


