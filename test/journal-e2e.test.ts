// End to end with real components: a real journald on the default socket, `affinityd apply`
// and `affinityd run` as separate processes, the records read back with journalctl and
// `affinityd audit`, READY=1 received on a NOTIFY_SOCKET datagram socket, a real cpu1 cycle.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { MESSAGE_IDS } from '../src/audit/records.js';
import { queueNic } from './helpers/live.js';
import { journaldUnavailableReason, startJournald, type TestJournald } from './helpers/journald.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXECUTABLE } from '../src/cli/executable.js';

const CLI = EXECUTABLE;
const SHIPPED = fileURLToPath(new URL('../../etc/affinityd.ini', import.meta.url));
const unix = createRequire(import.meta.url)('unix-dgram') as {
  createSocket(t: 'unix_dgram', cb?: (msg: Buffer) => void): { bind(p: string): void; close(): void; on(e: string, cb: (...a: unknown[]) => void): void };
};
const CPU1 = '/sys/devices/system/cpu/cpu1/online';

/** The NIC whose queue IRQ the test moves, found in sysfs (helpers/live.ts). */
const NIC = queueNic();
const ONLINE = fs.readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
const mask = (irq: number) => fs.readFileSync(`/proc/irq/${irq}/smp_affinity_list`, 'utf8').trim();

describe('journal and systemd notify, end to end', { concurrency: false }, () => {
  let jd: TestJournald | null = null;
  let skip: string | null = null;
  let dir = '';
  let config = '';
  const saved = new Map<number, string>();
  let rq = '';
  const rps = `/sys/class/net/${NIC?.name ?? 'eth0'}/queues/rx-0/rps_cpus`;

  before(async () => {
    if (process.getuid?.() !== 0) {
      skip = 'needs root (journald, /proc/irq writes)';
      return;
    }
    skip = journaldUnavailableReason();
    if (skip) return;
    jd = await startJournald({ namespace: null });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affd-e2e-'));
    config = path.join(dir, 'affinityd.ini');
    fs.writeFileSync(config, fs.readFileSync(SHIPPED, 'utf8').replace(/^state-file = .*$/m, `state-file = ${dir}/state.json`).replace(/^textfile-directory = .*$/m, `textfile-directory = ${dir}`));
    for (const { irq } of NIC?.irqs ?? []) saved.set(irq, mask(irq));
    if (fs.existsSync(rps)) rq = fs.readFileSync(rps, 'utf8').trim();
  });
  after(async () => {
    if (fs.existsSync(CPU1) && fs.readFileSync(CPU1, 'utf8').trim() === '0') fs.writeFileSync(CPU1, '1');
    for (const [irq, m] of saved) fs.writeFileSync(`/proc/irq/${irq}/smp_affinity_list`, m);
    if (rq) fs.writeFileSync(rps, rq);
    await jd?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('apply leaves records journalctl filters by MESSAGE_ID and AFFINITYD_IRQ; audit shows them', async (t) => {
    if (skip || !jd) return t.skip(skip ?? 'journald not started');
    const q = NIC?.irqs[0];
    if (!q) return t.skip('no NIC queue IRQ on this machine');
    const irq = q.irq;
    const iface = NIC!.name;
    fs.writeFileSync(`/proc/irq/${irq}/smp_affinity_list`, ONLINE); // the kernel's post-hotplug reset
    const r = spawnSync(process.execPath, [CLI, 'apply', '--config', config], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const [e] = await jd.waitFor([`MESSAGE_ID=${MESSAGE_IDS.applied}`, `AFFINITYD_IRQ=${irq}`, 'AFFINITYD_TRIGGER=apply'], 1);
    assert.ok(e, 'applied record in the journal');
    assert.equal(e.AFFINITYD_TARGET, `irq/${irq}`);
    assert.equal(e.AFFINITYD_INTERFACE, iface);
    assert.equal(e.AFFINITYD_QUEUE, q.queue);
    assert.equal(e.AFFINITYD_OLD, ONLINE);
    assert.equal(e.AFFINITYD_NEW, mask(irq));
    assert.equal(e.AFFINITYD_POLICY, 'defaults');
    assert.match(String(e.MESSAGE), new RegExp(`^irq ${irq} \\(${iface} ${q.queue}\\) ${ONLINE} -> ${mask(irq)}: apply$`));
    const a = spawnSync(process.execPath, [CLI, 'audit', '--irq', String(irq), '--json'], { encoding: 'utf8' });
    assert.equal(a.status, 0, a.stderr);
    assert.ok(a.stdout.includes(`irq ${irq} (${iface} ${q.queue}) ${ONLINE} -> `), 'audit --json shows the record');
    const table = spawnSync(process.execPath, [CLI, 'audit', '--interface', iface], { encoding: 'utf8' });
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`irq ${irq} \\(${iface} ${q.queue}\\)`));
  });

  it('run: READY=1 on NOTIFY_SOCKET after the first apply, cpu1 cycle restored and journalled, SIGTERM exits 0', async (t) => {
    if (skip || !jd) return t.skip(skip ?? 'journald not started');
    if (!fs.existsSync(CPU1)) return t.skip('cpu1 cannot be hot-unplugged here');
    const irq = NIC?.irqs[0]?.irq;
    if (irq === undefined) return t.skip('no NIC queue IRQ on this machine');
    const sockPath = path.join(dir, 'notify.sock');
    const messages: string[] = [];
    const sock = unix.createSocket('unix_dgram', (msg: Buffer) => messages.push(msg.toString()));
    sock.bind(sockPath);
    let child: ChildProcess | null = null;
    try {
      child = spawn(process.execPath, [CLI, 'run', '--config', config], { env: { ...process.env, NOTIFY_SOCKET: sockPath }, stdio: ['ignore', 'ignore', 'pipe'] });
      const waitUntil = async (cond: () => boolean, ms: number, what: string) => {
        const end = Date.now() + ms;
        while (!cond()) {
          if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
          await sleep(20);
        }
      };
      await waitUntil(() => messages.includes('READY=1'), 10_000, 'READY=1');
      const planned = mask(irq);
      fs.writeFileSync(CPU1, '0');
      await sleep(200);
      fs.writeFileSync(CPU1, '1');
      await waitUntil(() => mask(irq) === planned, 5000, `irq ${irq} back to ${planned}`);
      const [e] = await jd.waitFor([`MESSAGE_ID=${MESSAGE_IDS.applied}`, `AFFINITYD_IRQ=${irq}`, 'AFFINITYD_TRIGGER=cpu1 online'], 1);
      assert.ok(e, 'the cpu1 online pass is in the journal');
      assert.ok(messages.some((m) => m.startsWith('STATUS=')), 'STATUS= updates sent');
      const exited = new Promise<number | null>((r) => child!.on('exit', (code) => r(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      child = null;
    } finally {
      child?.kill('SIGKILL');
      sock.close();
      if (fs.readFileSync(CPU1, 'utf8').trim() === '0') fs.writeFileSync(CPU1, '1');
    }
  });
});
