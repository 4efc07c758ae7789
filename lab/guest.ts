// lab/guest — boots a QEMU guest of a declared shape and drives it: shell commands over the
// control channel, CPU and NIC hot-add/remove and resets over QMP.
//
// Every guest runs in a network namespace of its own (its tap devices live there, nothing
// touches the host's interfaces), under TCG: nested KVM on these hosts cannot run a stock
// Debian kernel. QEMU is started through `setpriv --pdeathsig KILL`, so a test process that
// dies takes its guests with it; stop() kills by PID and removes the namespace.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GuestChannel, type RunResult } from './channel.js';
import { prepareAssets, type LabAssets } from './assets.js';
import { Qmp } from './qmp.js';
import { LabError, step } from './step.js';
import { formatCpuList as formatRange, parseCpuList as parseRange } from '../src/cpumask/cpumask.js';

export interface NicSpec {
  /** QEMU device id; also names the tap (lab-<id>) and fixes the MAC. */
  id: string;
  model: 'virtio' | 'e1000';
  /** virtio-net queue pairs (default 1). */
  queues?: number;
  /** Put the NIC behind the pxb host bridge (bound to GuestSpec.pxbNode). */
  onPxb?: boolean;
}

export interface GuestSpec {
  name: string;
  memoryMb?: number;
  cpus: { boot: number; sockets: number; cores?: number; threads?: number };
  /** NUMA nodes; sockets are dealt to nodes round-robin (socket s → node s % nodes). */
  numaNodes?: number;
  /** NUMA node of a pxb expander bridge for NICs with onPxb. */
  pxbNode?: number;
  nics?: NicSpec[];
  /** A virtio-blk disk with this many queues: its IRQs are kernel-managed. */
  diskQueues?: number;
  /** Host directory shared writable as the guest's /var/lib/affinityd (survives a reboot). */
  stateDir?: string;
}

/** A MAC derived from the device id, so the guest's interface can be found by address. */
export function macOf(id: string): string {
  let h = 0;
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const b = [0x52, 0x54, 0x00, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** netdev_add/-netdev and device_add/-device properties of a NIC (one source for boot and hot-add). */
export function nicProps(n: NicSpec): { netdev: Record<string, string | number | boolean>; device: Record<string, string | number | boolean> } {
  const queues = n.queues ?? 1;
  const netdev = { type: 'tap', id: `nd-${n.id}`, ifname: `lab-${n.id}`.slice(0, 15), script: 'no', downscript: 'no', vhost: false, ...(queues > 1 ? { queues } : {}) };
  const device: Record<string, string | number | boolean> =
    n.model === 'virtio'
      ? { driver: 'virtio-net-pci', id: n.id, netdev: `nd-${n.id}`, mac: macOf(n.id), romfile: '', ...(queues > 1 ? { mq: true, vectors: 2 * queues + 2 } : {}) }
      : { driver: 'e1000', id: n.id, netdev: `nd-${n.id}`, mac: macOf(n.id), romfile: '' };
  if (n.onPxb) device.bus = 'pxb1';
  return { netdev, device };
}

function optString(props: Record<string, string | number | boolean>, skip: string[] = []): string {
  return Object.entries(props)
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => (typeof v === 'boolean' ? `${k}=${v ? 'on' : 'off'}` : `${k}=${v}`))
    .join(',');
}

/** The QEMU command line for a spec (pure: unit-tested without booting anything). */
export function qemuArgs(spec: GuestSpec, assets: LabAssets, dir: string): string[] {
  const cores = spec.cpus.cores ?? 1;
  const threads = spec.cpus.threads ?? 1;
  const max = spec.cpus.sockets * cores * threads;
  const mem = spec.memoryMb ?? 768;
  const a = [
    '-name', `affinityd-lab-${spec.name}`,
    '-machine', 'pc',
    // tb-size=1024: QEMU 7.2 aborts in tcg_region_initial_alloc when a vCPU is hot-added to a
    // busy guest with the default translation cache.
    '-accel', 'tcg,thread=multi,tb-size=1024',
    // max with an Intel vendor: TCG's max is AuthenticAMD without TOPOEXT, so the guest would
    // see no SMT siblings at all; as GenuineIntel it reads threads from CPUID leaf 0xB.
    '-cpu', 'max,vendor=GenuineIntel',
    '-m', String(mem),
    '-smp', `${spec.cpus.boot},maxcpus=${max},sockets=${spec.cpus.sockets},cores=${cores},threads=${threads}`,
    '-nodefaults', '-no-user-config', '-display', 'none',
    '-kernel', assets.kernel,
    '-initrd', assets.initrd,
    '-append', 'console=ttyS0 panic=-1 loglevel=6',
    '-serial', `file:${path.join(dir, 'console.log')}`,
    '-qmp', `unix:${path.join(dir, 'qmp.sock')},server=on,wait=off`,
    '-device', 'virtio-serial-pci,id=vser',
    '-chardev', `socket,id=ctl,path=${path.join(dir, 'ctl.sock')},server=on,wait=off`,
    '-device', 'virtserialport,chardev=ctl,name=lab.ctl',
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
  ];
  if (spec.stateDir) a.push('-virtfs', `local,path=${spec.stateDir},mount_tag=labstate,security_model=none,multidevs=remap`);
  const nodes = spec.numaNodes ?? 0;
  for (let n = 0; n < nodes; n++) {
    a.push('-object', `memory-backend-ram,id=mem${n},size=${Math.floor(mem / nodes)}M`, '-numa', `node,nodeid=${n},memdev=mem${n}`);
  }
  for (let s = 0; nodes > 0 && s < spec.cpus.sockets; s++) a.push('-numa', `cpu,node-id=${s % nodes},socket-id=${s}`);
  if (spec.pxbNode !== undefined) a.push('-device', `pxb,id=pxb1,bus=pci.0,bus_nr=64,numa_node=${spec.pxbNode}`);
  for (const n of spec.nics ?? []) {
    const { netdev, device } = nicProps(n);
    a.push('-netdev', `tap,${optString(netdev, ['type'])}`, '-device', `${device.driver},${optString(device, ['driver'])}`);
  }
  if (spec.diskQueues) {
    a.push('-drive', `file=${path.join(dir, 'disk.img')},if=none,id=disk0,format=raw`, '-device', `virtio-blk-pci,drive=disk0,num-queues=${spec.diskQueues},romfile=`);
  }
  return a;
}

/** Guests alive in this process, killed synchronously if the process exits without stop(). */
const live = new Set<Guest>();
process.once('exit', () => {
  for (const g of live) g.killNow();
});

let counter = 0;

/**
 * Namespaces left by lab processes that died without cleaning up (SIGKILL, or a signal
 * Node does not run 'exit' handlers for): their QEMU died with them (pdeathsig), the
 * namespace did not. Named afflab-<pid>-<n>, so a dead pid means a stale namespace.
 */
function removeStaleNamespaces(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const m of list.matchAll(/^afflab-(\d+)-\d+/gm)) {
    const pid = Number(m[1]);
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') spawnSync('ip', ['netns', 'del', m[0]]);
    }
  }
}

export class Guest {
  private constructor(
    readonly spec: GuestSpec,
    readonly dir: string,
    readonly netns: string,
    private readonly proc: ChildProcess,
    readonly qmp: Qmp,
    readonly channel: GuestChannel,
  ) {}

  get pid(): number {
    return this.proc.pid!;
  }

  static async boot(spec: GuestSpec, bootTimeoutMs = 120_000): Promise<Guest> {
    const assets = await step('prepare the guest kernel and initramfs', 600_000, async () => prepareAssets());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `affinityd-lab-${spec.name}-`));
    removeStaleNamespaces();
    const netns = `afflab-${process.pid}-${counter++}`;
    if (spec.diskQueues) fs.writeFileSync(path.join(dir, 'disk.img'), Buffer.alloc(0)), fs.truncateSync(path.join(dir, 'disk.img'), 16 << 20);
    const ns = spawnSync('ip', ['netns', 'add', netns], { encoding: 'utf8' });
    if (ns.status !== 0) throw new LabError(`lab: create network namespace ${netns}: ${ns.stderr.trim()}`);
    const stderr = fs.openSync(path.join(dir, 'qemu.err'), 'w');
    const proc = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'ip', 'netns', 'exec', netns, 'qemu-system-x86_64', ...qemuArgs(spec, assets, dir)], {
      stdio: ['ignore', 'ignore', stderr],
    });
    fs.closeSync(stderr);
    const exited = new Promise<never>((_, reject) => {
      proc.once('exit', (code, sig) => reject(new LabError(`QEMU exited (${sig ?? code}): ${lastLine(path.join(dir, 'qemu.err'))}`)));
      proc.once('error', (e) => reject(new LabError(`cannot start QEMU: ${e.message}`)));
    });
    exited.catch(() => {});
    let qmp: Qmp | undefined;
    let channel: GuestChannel | undefined;
    try {
      qmp = await step(`boot ${spec.name}: QMP`, 30_000, () => Promise.race([Qmp.connect(path.join(dir, 'qmp.sock')), exited]));
      channel = await step(`boot ${spec.name}: control channel`, 30_000, () => Promise.race([GuestChannel.connect(path.join(dir, 'ctl.sock')), exited]));
      const c = channel;
      await step(`boot ${spec.name}: guest ready`, bootTimeoutMs, () => Promise.race([c.ready(0), exited]));
    } catch (e) {
      qmp?.close();
      channel?.close();
      proc.kill('SIGKILL');
      spawnSync('ip', ['netns', 'del', netns]);
      const tail = lastLine(path.join(dir, 'console.log'));
      fs.rmSync(dir, { recursive: true, force: true });
      throw new LabError(`${(e as Error).message}${tail ? ` (console: ${tail})` : ''}`);
    }
    const g = new Guest(spec, dir, netns, proc, qmp, channel);
    live.add(g);
    return g;
  }

  /** Runs a script in the guest; never throws on a non-zero exit (see sh). */
  run(script: string, timeoutMs = 60_000, name = 'guest command'): Promise<RunResult> {
    return step(`${this.spec.name}: ${name}`, timeoutMs, () => this.channel.run(script));
  }

  /** Runs a script in the guest and returns its output; a non-zero exit fails naming the step. */
  async sh(script: string, timeoutMs = 60_000, name = 'guest command'): Promise<string> {
    const r = await this.run(script, timeoutMs, name);
    if (r.code !== 0) throw new LabError(`lab: ${this.spec.name}: ${name}: exit ${r.code}: ${r.out.trim().split('\n').slice(-3).join(' | ')}`);
    return r.out;
  }

  /** Polls a guest shell condition every 100 ms (in the guest: no channel round trips) until it holds. */
  async waitFor(condition: string, timeoutMs: number, name: string): Promise<void> {
    const tries = Math.ceil(timeoutMs / 100);
    await this.sh(`i=0; until ${condition}; do i=$((i+1)); [ $i -ge ${tries} ] && exit 1; sleep 0.1; done`, timeoutMs + 30_000, `wait for ${name}`);
  }

  /** Hot-adds one vCPU in the first free slot; resolves with the guest's number for it. */
  async hotAddCpu(): Promise<number> {
    // The step's limit covers its inner wait (30 s of guest polling, which a starved TCG guest
    // stretches: seen at 60 s under a loaded host) and the round trips around it.
    return step(`${this.spec.name}: hot-add a vCPU`, 120_000, async () => {
      const before = parseRange((await this.sh('cat /sys/devices/system/cpu/present')).trim());
      const slots = await this.qmp.execute<{ type: string; props: Record<string, number>; 'qom-path'?: string }[]>('query-hotpluggable-cpus');
      const free = slots.filter((s) => !s['qom-path']).sort((x, y) => cmpProps(x.props, y.props));
      if (free.length === 0) throw new LabError('no free CPU slot (maxcpus reached)');
      const slot = free[0]!;
      const id = `cpu-s${slot.props['socket-id'] ?? 0}-c${slot.props['core-id'] ?? 0}-t${slot.props['thread-id'] ?? 0}`;
      await this.qmp.execute('device_add', { driver: slot.type, id, ...slot.props });
      await this.waitFor(`[ "$(cat /sys/devices/system/cpu/present)" != "${formatRange(before)}" ]`, 30_000, 'the new CPU to be present');
      const after = parseRange((await this.sh('cat /sys/devices/system/cpu/present')).trim());
      const added = after.filter((c) => !before.includes(c));
      if (added.length !== 1) throw new LabError(`expected one new CPU, present went ${formatRange(before)} -> ${formatRange(after)}`);
      return added[0]!;
    });
  }

  /** Hot-adds a NIC; resolves with the guest's interface name once the driver bound it. */
  async hotAddNic(nic: NicSpec): Promise<string> {
    return step(`${this.spec.name}: hot-add NIC ${nic.id}`, 120_000, async () => {
      const { netdev, device } = nicProps(nic);
      await this.qmp.execute('netdev_add', netdev);
      await this.qmp.execute('device_add', device);
      return this.ifname(nic.id, 30_000);
    });
  }

  /** The guest's interface name for a NIC, found by its MAC. */
  async ifname(id: string, timeoutMs = 10_000): Promise<string> {
    const mac = macOf(id);
    const find = `for n in /sys/class/net/*; do [ "$(cat $n/address)" = ${mac} ] && echo \${n##*/}; done; true`;
    await this.waitFor(`[ -n "$(${find})" ]`, timeoutMs, `interface with MAC ${mac}`);
    return (await this.sh(find)).trim();
  }

  /** device_del and wait until the guest released it (DEVICE_DELETED), then drop the backend. */
  async unplug(id: string, netdev = true): Promise<void> {
    await step(`${this.spec.name}: unplug ${id}`, 60_000, async () => {
      await this.qmp.execute('device_del', { id });
      await this.qmp.waitEvent('DEVICE_DELETED', (e) => e.data?.device === id);
      if (netdev) await this.qmp.execute('netdev_del', { id: `nd-${id}` });
    });
  }

  /** Hard reset (as a power cycle would); resolves when the guest is up again. */
  async reset(timeoutMs = 120_000): Promise<void> {
    const boots = this.channel.boots;
    await this.qmp.execute('system_reset');
    await step(`${this.spec.name}: reboot`, timeoutMs, () => this.channel.ready(boots)).catch((e: Error) => {
      throw new LabError(`${e.message} (console: ${this.consoleTail(3).replace(/\s+/g, ' ').trim()})`);
    });
    // Seen once in CI: the guest said ready after the reset, and the first command after it
    // never came back. Probe until a command round-trips (a lost probe costs its 20 s).
    for (let i = 1; ; i++) {
      const r = await this.run('true', 20_000, `first command after the reboot (try ${i})`).catch((e: Error) => e);
      if (!(r instanceof Error)) return;
      if (i === 3) throw r;
    }
  }

  consoleTail(lines = 20): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'console.log'), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Synchronous kill for process exit: by PID, then the namespace. */
  killNow(): void {
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    spawnSync('ip', ['netns', 'del', this.netns]);
    live.delete(this);
  }

  async stop(): Promise<void> {
    if (!live.has(this)) return;
    this.qmp.close();
    this.channel.close();
    const gone = new Promise<void>((resolve) => (this.proc.exitCode !== null || this.proc.signalCode !== null ? resolve() : this.proc.once('exit', () => resolve())));
    this.proc.kill('SIGKILL');
    await gone;
    spawnSync('ip', ['netns', 'del', this.netns]);
    live.delete(this);
    if (!process.env.AFFINITYD_LAB_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function lastLine(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-1)[0]!.slice(0, 300);
  } catch {
    return '';
  }
}

function cmpProps(a: Record<string, number>, b: Record<string, number>): number {
  for (const k of ['node-id', 'socket-id', 'die-id', 'core-id', 'thread-id']) {
    const d = (a[k] ?? 0) - (b[k] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
