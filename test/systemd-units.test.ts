// systemd units and udev rules: static checks, `systemd-analyze verify`, the offline security
// exposure score, and `udevadm test` on a veth made for the test (never a real NIC: systemd
// 252's `udevadm test` applies renames and persistent MACs to the device it tests).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentMetrics } from '../src/metrics/metrics.js';
import { TextfileExporter } from '../src/metrics/textfile.js';

// dist/test/x.js → repository root (units are not compiled, read them from the source tree).
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const UNITS = ['affinityd.service', 'affinityd-apply.service'];
const RULES = join(ROOT, 'rules', '90-affinityd.rules');
/** Highest acceptable `systemd-analyze security` exposure (0 best … 10 worst); 1.8 when written. */
const MAX_EXPOSURE = 2.5;

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function have(bin: string): boolean {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    try {
      accessSync(join(dir, bin), constants.X_OK);
      return true;
    } catch {
      /* next */
    }
  }
  return false;
}

/** Directive values of a unit file ("Key" → all values, in order); comments skipped. */
function directives(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (l === '' || l.startsWith('#') || l.startsWith(';') || l.startsWith('[')) continue;
    const eq = l.indexOf('=');
    if (eq < 0) continue;
    const k = l.slice(0, eq);
    m.set(k, [...(m.get(k) ?? []), l.slice(eq + 1)]);
  }
  return m;
}

/**
 * A copy of the unit whose ExecStart= points at an executable stub: `systemd-analyze verify`
 * checks that the command exists, and /usr/bin/affinityd is only there once installed.
 * Everything else (dependencies on the host's real units) is verified unchanged.
 */
function stubbedUnit(dir: string, unit: string): string {
  const stub = join(dir, 'affinityd');
  writeFileSync(stub, '#!/bin/sh\nexit 0\n');
  chmodSync(stub, 0o755);
  const text = readFileSync(join(ROOT, 'systemd', unit), 'utf8').replaceAll('/usr/bin/affinityd', stub);
  const path = join(dir, unit);
  writeFileSync(path, text);
  return path;
}

describe('the unit\'s launcher: NODE_OPTIONS by CPU count', () => {
  // ExecStart= runs a shell that adds --jitless up to 64 CPUs (the README's "Idle cost" says
  // why), then execs the agent. Run that very shell line against a stub agent that prints
  // what it got, with `nproc` answering each CPU count.
  const line = directives(readFileSync(join(ROOT, 'systemd', 'affinityd.service'), 'utf8')).get('ExecStart')![0]!.replaceAll('$$', '$');
  const m = /^\/bin\/sh -c '([^']*)' (\S+) run$/.exec(line)!;
  async function launched(cpus: number, nodeOptions?: string): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), 'affd-launch-'));
    try {
      writeFileSync(join(dir, 'nproc'), `#!/bin/sh\n[ "$1" = --all ] && echo ${cpus}\n`, { mode: 0o755 });
      writeFileSync(join(dir, 'affinityd'), '#!/bin/sh\necho "$* [$NODE_OPTIONS] $$"\n', { mode: 0o755 });
      const script = m[1]!.replaceAll('/usr/bin/affinityd', join(dir, 'affinityd'));
      const env = { PATH: `${dir}:${process.env.PATH ?? ''}`, ...(nodeOptions === undefined ? {} : { NODE_OPTIONS: nodeOptions }) };
      return await new Promise<string>((resolve, reject) => {
        const child = execFile('/bin/sh', ['-c', script, m[2]!, 'run'], { env }, (err, out) => (err ? reject(err) : resolve(`${out.trim()} pid=${child.pid}`)));
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  it('up to 64 CPUs: --jitless, before any NODE_OPTIONS of the environment; from 65: unchanged; the agent gets the shell\'s PID', async () => {
    const noJit = await launched(2);
    assert.match(noJit, /^run \[--jitless ?\] (\d+) pid=\1$/, 'exec: the agent keeps the PID systemd knows (NotifyAccess=main)');
    assert.match(await launched(64, '--max-old-space-size=200'), /^run \[--jitless --max-old-space-size=200\] /);
    assert.match(await launched(65), /^run \[\] /);
    assert.match(await launched(1024, '--x'), /^run \[--x\] /);
  });
});

describe('systemd units (static)', () => {
  it('affinityd.service has the required settings and none of the harmful ones', () => {
    const d = directives(readFileSync(join(ROOT, 'systemd', 'affinityd.service'), 'utf8'));
    assert.deepEqual(d.get('Type'), ['notify']);
    assert.equal(d.get('ExecStart')?.length, 1);
    assert.match(d.get('ExecStart')![0]!, /^\/bin\/sh -c '.*exec \/usr\/bin\/affinityd "\$\$@"' affinityd run$/);
    assert.deepEqual(d.get('ExecReload'), ['/bin/kill -HUP $MAINPID']);
    assert.deepEqual(d.get('Restart'), ['on-failure']);
    assert.deepEqual(d.get('WatchdogSec'), ['30s']);
    assert.ok(d.get('Conflicts')?.includes('irqbalance.service'));
    assert.deepEqual(d.get('ProtectSystem'), ['strict']);
    assert.deepEqual(d.get('StateDirectory'), ['affinityd']);
    assert.deepEqual(d.get('CapabilityBoundingSet'), ['CAP_NET_ADMIN']);
    assert.deepEqual(d.get('RestrictAddressFamilies'), ['AF_UNIX AF_NETLINK']);
    assert.deepEqual(d.get('WantedBy'), ['multi-user.target']);
    for (const k of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp']) assert.deepEqual(d.get(k), ['yes'], k);
    // Each of these breaks the daemon; see the notes in the unit.
    for (const k of ['ProtectKernelTunables', 'PrivateNetwork', 'PrivateUsers', 'MemoryDenyWriteExecute', 'ProcSubset', 'SecureBits']) {
      assert.equal(d.get(k), undefined, `${k} must not be set`);
    }
  });

  it("ExecStopPost= turns the textfile's affinityd_up 1 into 0 and leaves every other sample as it was", async () => {
    const d = directives(readFileSync(join(ROOT, 'systemd', 'affinityd.service'), 'utf8'));
    const line = d.get('ExecStopPost')?.[0];
    assert.ok(line, 'ExecStopPost= is set');
    // systemd's command line: "-" (failure ignored), then words, a double-quoted one whole.
    assert.ok(line.startsWith('-'), 'a missing textfile must not fail the stop');
    const words = [...line.slice(1).matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
    assert.equal(words.at(-1), '/var/lib/prometheus/node-exporter/affinityd.prom', 'the shipped textfile-directory');
    assert.ok(existsSync(words[0]!), `${words[0]} (Debian: essential) exists`);
    const dir = mkdtempSync(join(tmpdir(), 'affd-stoppost-'));
    try {
      // The textfile a running agent left behind (it died without its own stop).
      const m = new AgentMetrics('1.2.3');
      m.driftAtStart(4);
      const exporter = new TextfileExporter(dir, () => m.text(), { warn: () => undefined, info: () => undefined });
      await exporter.write();
      const file = join(dir, 'affinityd.prom');
      const samples = (text: string) => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      const before = samples(readFileSync(file, 'utf8'));
      assert.ok(before.includes('affinityd_up 1'));
      const r = await run(words[0]!, [...words.slice(1, -1), file]);
      assert.equal(r.code, 0, r.stderr);
      const after = samples(readFileSync(file, 'utf8'));
      assert.deepEqual(after, before.map((l) => (l === 'affinityd_up 1' ? 'affinityd_up 0' : l)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('affinityd-apply.service is a one-shot apply', () => {
    const d = directives(readFileSync(join(ROOT, 'systemd', 'affinityd-apply.service'), 'utf8'));
    assert.deepEqual(d.get('Type'), ['oneshot']);
    assert.deepEqual(d.get('ExecStart'), ['/usr/bin/affinityd apply']);
    assert.equal(d.get('ProtectKernelTunables'), undefined);
    assert.equal(d.get('Conflicts')?.includes('affinityd.service'), false);
  });

  it('the udev rule guards first, ends with its label and never RUN+=s', () => {
    const lines = readFileSync(RULES, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    assert.equal(lines[0], 'SUBSYSTEM!="net|cpu", GOTO="affinityd_end"');
    assert.equal(lines.at(-1), 'LABEL="affinityd_end"');
    assert.ok(lines.includes('TAG+="systemd", ENV{SYSTEMD_WANTS}+="affinityd.service"'));
    assert.ok(!lines.some((l) => /\bRUN\s*\+?=/.test(l)));
  });
});

describe('systemd-analyze', () => {
  // verify and security run a unit manager in test mode, which touches this load-timestamp
  // file (PID 1 keeps it on a systemd host). Remove it afterwards when it was not there before.
  const marker = '/run/systemd/systemd-units-load';
  let markerExisted = true;
  before(() => {
    markerExisted = existsSync(marker);
  });
  after(() => {
    if (!markerExisted) rmSync(marker, { force: true });
  });

  for (const unit of UNITS) {
    it(`verify ${unit} is clean`, async (t) => {
      if (!have('systemd-analyze')) return t.skip('systemd-analyze not installed');
      const dir = mkdtempSync(join(tmpdir(), 'affd-units-'));
      try {
        const r = await run('systemd-analyze', ['verify', stubbedUnit(dir, unit)]);
        assert.equal(r.stderr.trim() + r.stdout.trim(), '', 'verify printed warnings');
        assert.equal(r.code, 0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('verify passes affinityd.service as shipped (its command is /bin/sh), and rejects affinityd-apply.service only because the binary is not installed', async (t) => {
    if (!have('systemd-analyze')) return t.skip('systemd-analyze not installed');
    if (existsSync('/usr/bin/affinityd')) return t.skip('/usr/bin/affinityd is installed here');
    const agent = await run('systemd-analyze', ['verify', join(ROOT, 'systemd', 'affinityd.service')]);
    assert.deepEqual([agent.code, agent.stderr.trim()], [0, '']);
    const apply = await run('systemd-analyze', ['verify', join(ROOT, 'systemd', 'affinityd-apply.service')]);
    assert.notEqual(apply.code, 0);
    assert.deepEqual(apply.stderr.trim().split('\n'), ['affinityd-apply.service: Command /usr/bin/affinityd is not executable: No such file or directory']);
  });

  for (const unit of UNITS) {
    it(`security exposure of ${unit} is at most ${MAX_EXPOSURE}`, async (t) => {
      if (!have('systemd-analyze')) return t.skip('systemd-analyze not installed');
      const dir = mkdtempSync(join(tmpdir(), 'affd-units-'));
      try {
        const r = await run('systemd-analyze', ['security', '--offline=true', stubbedUnit(dir, unit)]);
        const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(r.stdout);
        assert.ok(m, `no exposure level in output (exit ${r.code}): ${r.stderr.trim()}`);
        const score = Number(m[1]);
        t.diagnostic(`${unit} exposure ${score}`);
        assert.ok(score <= MAX_EXPOSURE, `${unit} exposure ${score} > ${MAX_EXPOSURE}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

/** Remove `dir` and its subdirectories bottom-up where empty; files (someone else's) stay. */
function pruneEmpty(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) pruneEmpty(join(dir, e.name));
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    /* raced with another writer: leave it */
  }
}

describe('udev rule (udevadm test on a veth)', () => {
  it('a new NIC wants affinityd.service; a change event does not', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to create a veth and install a rules file');
    if (!have('udevadm') || !have('ip')) return t.skip('udevadm or ip not installed');

    const name = `affdu${process.pid}`.slice(0, 14);
    const peer = `${name}p`;
    // udevadm test reads only the standard rule directories (no option for another one in
    // systemd 252): /run/udev/rules.d is the volatile one.
    const rulesDir = '/run/udev/rules.d';
    const rulesFile = join(rulesDir, `90-affinityd-test${process.pid}.rules`);
    // Directories udevadm or we may create; removed afterwards only if created and left empty.
    const maybeCreated = ['/run/udev', rulesDir, '/run/udev/data', '/run/udev/tags', '/run/udev/tags/systemd'].filter((p) => !existsSync(p));
    let ifindex: string | null = null;

    const add = await run('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', peer]);
    assert.equal(add.code, 0, `ip link add: ${add.stderr.trim()}`);
    try {
      ifindex = readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim();
      mkdirSync(rulesDir, { recursive: true });
      copyFileSync(RULES, rulesFile);

      const r = await run('udevadm', ['test', '--action=add', `/sys/class/net/${name}`]);
      assert.equal(r.code, 0, r.stderr.split('\n').slice(-5).join('\n'));
      const props = new Map(r.stdout.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      assert.equal(props.get('INTERFACE'), name, 'tested the wrong device');
      assert.match(props.get('SYSTEMD_WANTS') ?? '', /(^|\s)affinityd\.service(\s|$)/);
      assert.match(props.get('TAGS') ?? '', /:systemd:/);

      const c = await run('udevadm', ['test', '--action=change', `/sys/class/net/${name}`]);
      assert.equal(c.code, 0);
      assert.doesNotMatch(c.stdout, /SYSTEMD_WANTS=.*affinityd\.service/);
    } finally {
      rmSync(rulesFile, { force: true });
      await run('ip', ['link', 'del', name]); // deletes the peer too
      // udevadm test writes the device's database entry and tag links: remove ours.
      if (ifindex !== null) {
        rmSync(`/run/udev/data/n${ifindex}`, { force: true });
        if (existsSync('/run/udev/tags')) {
          for (const tag of readdirSync('/run/udev/tags')) rmSync(`/run/udev/tags/${tag}/n${ifindex}`, { force: true });
        }
      }
      for (const dir of maybeCreated) pruneEmpty(dir);
    }
  });
});
