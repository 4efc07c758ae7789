// End to end with a real Prometheus: `affinityd run` (a separate process, root, real kernel)
// exports through both ways at once — the textfile collector of a real node_exporter and its
// own /metrics listener — and a real Prometheus on loopback scrapes both every second. A veth
// appears; Prometheus's HTTP API must show the pass and the RPS write it caused, under both
// jobs. Everything is stopped by PID and the temp dir removed.
//
// AFFINITYD_FLEET_PLOT=file.png also renders the run's series as a PNG (README figure).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEXTFILE_NAME } from '../src/metrics/textfile.js';
import { Proc, freePort, httpGet, startPrometheus, until, type TestPrometheus } from './helpers/prometheus.js';
import { ip, tryIp } from './helpers/ip.js';
import { EXECUTABLE } from '../src/cli/executable.js';

const CLI = EXECUTABLE;
const SHIPPED = fileURLToPath(new URL('../../etc/affinityd.ini', import.meta.url));
const isRoot = process.getuid?.() === 0;
const pid = process.pid;
const NS = `affd-pm-${pid}`;
const VETH = `affdP${pid}`;
const PEER = `affdQ${pid}`;


/** One number from an instant query (sum of the matching series); null when there is none. */
async function value(prom: TestPrometheus, q: string): Promise<number | null> {
  const r = await prom.query(q);
  return r.length ? r.reduce((n, s) => n + Number(s.value[1]), 0) : null;
}

describe('Prometheus scrapes affinityd through node_exporter and /metrics', { concurrency: false }, () => {
  let dir = '';
  let agent: Proc | null = null;
  let prom: TestPrometheus | null = null;
  let startedS = 0;

  before(async () => {
    if (!isRoot) return;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-prom-'));
    const textfileDir = path.join(dir, 'textfile');
    fs.mkdirSync(textfileDir);
    const agentPort = await freePort();
    const config = path.join(dir, 'affinityd.ini');
    const shipped = fs
      .readFileSync(SHIPPED, 'utf8')
      .replace(/^state-file = .*$/m, `state-file = ${dir}/state.json`)
      .replace(/^textfile-directory = .*$/m, `textfile-directory = ${textfileDir}`)
      .replace(/^listen = .*$/m, `listen = 127.0.0.1:${agentPort}`);
    // Only our veth is managed: other engineers' NICs (and eth0) are left alone.
    fs.writeFileSync(config, `${shipped}\n[net:others]\nmatch-name = *\nstrategy = ignore\n\n[net:ours]\nmatch-name = ${VETH}\nstrategy = spread\n`);
    ip('netns', 'add', NS);
    startedS = Date.now() / 1000;
    agent = new Proc('affinityd', process.execPath, [CLI, 'run', '--config', config]);
    await until('the agent\'s first textfile', async () => fs.existsSync(path.join(textfileDir, TEXTFILE_NAME)) || (!agent!.alive() && Promise.reject(new Error(agent!.log()))), 10_000);
    prom = await startPrometheus({ dir, textfileDir, agentPort });
  });

  after(async () => {
    if (!isRoot) return;
    tryIp('link', 'del', VETH);
    tryIp('netns', 'del', NS);
    const pids = [agent?.pid, prom ? 'prom' : undefined];
    await agent?.stop();
    await prom?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    assert.ok(!agent?.alive(), `agent ${pids[0]} stopped`);
    assert.ok(!fs.existsSync(dir), 'temp dir removed');
  });

  it('a veth appears: Prometheus sees the pass and the RPS write under job "node" (textfile) and job "affinityd" (listener)', async (t) => {
    if (!isRoot || !prom || !agent) return t.skip('needs root (netns, veth, RPS writes)');
    const p = prom;
    // Both exports are scraped and carry the version.
    for (const job of ['node', 'affinityd']) {
      await until(`affinityd_build_info in job ${job}`, async () => (await value(p, `affinityd_build_info{job="${job}"}`)) === 1, 15_000);
    }
    const rpsWrites = (job: string) => value(p, `sum(affinityd_writes_total{job="${job}",outcome="applied",target="rps"})`);
    const before = { node: (await rpsWrites('node')) ?? 0, affinityd: (await rpsWrites('affinityd')) ?? 0 };
    const t0 = Date.now();
    ip('link', 'add', VETH, 'type', 'veth', 'peer', 'name', PEER, 'netns', NS);
    await until(`RPS on ${VETH}`, async () => /[1-9a-f]/.test(fs.readFileSync(`/sys/class/net/${VETH}/queues/rx-0/rps_cpus`, 'utf8')), 5000, 20);
    for (const job of ['node', 'affinityd'] as const) {
      const n = await until(`applied rps writes to grow in job ${job}`, async () => {
        const v = await rpsWrites(job);
        return v !== null && v > before[job] ? v : null;
      }, 15_000);
      t.diagnostic(`job ${job}: affinityd_writes_total{outcome="applied",target="rps"} ${before[job]} -> ${n}, seen ${Date.now() - t0} ms after the veth was added`);
    }
    // The pass it caused is counted by trigger kind, with its duration and a success time.
    const passes = await value(p, 'sum(affinityd_passes_total{job="node",trigger=~"net|link|queues"})');
    assert.ok(passes !== null && passes >= 1, `a net/link/queues pass: ${passes}`);
    const last = await value(p, 'affinityd_last_successful_pass_timestamp_seconds{job="affinityd"}');
    assert.ok(last !== null && last >= startedS, `last successful pass ${last} after start ${startedS}`);
    assert.ok(((await value(p, 'affinityd_pass_duration_seconds_count{job="node"}')) ?? 0) >= 2);
    // The seed's metric, from node_exporter itself: one softirq series per online CPU.
    const online = fs.readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
    const softirq = await p.query('node_cpu_seconds_total{job="node",mode="softirq"}');
    assert.ok(softirq.length >= 1, `node_cpu_seconds_total softirq series (online ${online})`);
    // Nothing else in the textfile dir than our file (atomic writes leave no temp files).
    assert.deepEqual(fs.readdirSync(path.join(dir, 'textfile')), [TEXTFILE_NAME]);

    const plot = process.env.AFFINITYD_FLEET_PLOT;
    if (plot) {
      // A little more history for the figure: the veth goes and comes back twice.
      for (let i = 0; i < 2; i++) {
        await new Promise((r) => setTimeout(r, 3000));
        ip('link', 'del', VETH);
        await new Promise((r) => setTimeout(r, 3000));
        ip('link', 'add', VETH, 'type', 'veth', 'peer', 'name', PEER, 'netns', NS);
      }
      await new Promise((r) => setTimeout(r, 4000));
      const end = Date.now() / 1000;
      const range = await p.queryRange('sum by (job, outcome, target) (affinityd_writes_total{outcome="applied"})', startedS, end, 1);
      const { renderFleetPlot } = await import('../bench/lib/fleet-plot.js');
      await renderFleetPlot(range, startedS, plot);
      t.diagnostic(`plot written to ${plot}`);
    }
  });

  it('node_exporter serves the textfile as is (no parse errors reported)', async (t) => {
    if (!isRoot || !prom) return t.skip('needs root');
    const r = await httpGet(`http://127.0.0.1:${prom.nodeExporterPort}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.body, /^node_textfile_scrape_error 0$/m);
    assert.match(r.body, /^affinityd_build_info\{version="[^"]+"\} 1$/m);
  });
});
