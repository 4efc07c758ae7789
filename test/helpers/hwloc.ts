// hwloc — real CPU/NUMA topologies from the hwloc capture corpus as fixture roots.
//
// The hwloc-gather-topology tarballs carry real /sys CPU and node trees (with all their
// quirks: no online/possible files, offline CPUs, sparse or missing node dirs, NUL bytes)
// but no /proc/interrupts or /proc/irq. addSyntheticNics lays synthetic NICs and their IRQs
// over such a tree with the same device writer as fixture.ts, reading the machine facts
// (nr_cpu_ids, online CPUs, nodes) from the capture itself.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { FIXTURE_MARKER, TreeWriter, fixtureTmpDir, writeDeviceTree } from '../../fixture/fixture.js';
import type { FixtureMachine, FixtureNic } from '../../fixture/fixture.js';
import { corpusDir } from './corpus.js';

export const HWLOC_CORPUS = corpusDir('hwloc-linux');

/** Tarball names (without .tar.bz2), sorted; [] when the corpus is absent. */
export function hwlocNames(): string[] {
  try {
    return fs
      .readdirSync(HWLOC_CORPUS)
      .filter((f) => f.endsWith('.tar.bz2'))
      .map((f) => f.slice(0, -'.tar.bz2'.length))
      .sort();
  } catch {
    return [];
  }
}

/** Unpack one tarball into a new temp dir (remove it with removeFixture); null when absent. */
export function unpackHwloc(name: string): string | null {
  const tarball = path.join(HWLOC_CORPUS, `${name}.tar.bz2`);
  if (!fs.existsSync(tarball)) return null;
  const dir = fs.mkdtempSync(path.join(fixtureTmpDir(), 'affinityd-hwloc-'));
  try {
    execFileSync('tar', ['-xjf', tarball, '-C', dir, '--strip-components=1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    throw new Error(`hwloc: cannot unpack ${tarball}: ${stderr || String(err)}`);
  }
  fs.writeFileSync(path.join(dir, FIXTURE_MARKER), `unpacked from ${tarball}\n`);
  return dir;
}

// ---------------------------------------------------------------------------------------
// Reading the capture. Kept deliberately forgiving (NULs, empty files, cpumap-only nodes):
// this is test plumbing, the strict reader under test is src/snapshot.

function readText(root: string, p: string): string | null {
  try {
    return fs.readFileSync(path.join(root, p), 'utf8').replace(/\0/g, '').trim();
  } catch {
    return null;
  }
}

function listOrNull(text: string | null): number[] | null {
  if (text === null || text === '' || !/^[\d,\s-]+$/.test(text)) return null;
  const out: number[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return null;
    for (let c = Number(m[1]); c <= Number(m[2] ?? m[1]); c++) out.push(c);
  }
  return out;
}

function maskOrNull(text: string | null): number[] | null {
  if (text === null || text === '') return null;
  const words = text.split(',');
  const out: number[] = [];
  for (let i = 0; i < words.length; i++) {
    if (!/^[0-9a-fA-F]{1,8}$/.test(words[i]!)) return null;
    const v = parseInt(words[i]!, 16);
    for (let b = 0; b < 32; b++) if ((v >>> b) & 1) out.push((words.length - 1 - i) * 32 + b);
  }
  return out;
}

function numberedDirs(root: string, p: string, prefix: string): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(root, p));
  } catch {
    return [];
  }
  const re = new RegExp(`^${prefix}(\\d+)$`);
  return names
    .map((n) => re.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** Machine facts of a captured tree (exported for tests that cross-check addSyntheticNics). */
export function readMachine(root: string): FixtureMachine {
  const cpu = '/sys/devices/system/cpu';
  const cpuDirs = numberedDirs(root, cpu, 'cpu');
  const possible = listOrNull(readText(root, `${cpu}/possible`)) ?? listOrNull(readText(root, `${cpu}/present`)) ?? cpuDirs;
  // Without a global online file, a cpuN dir is online unless its own online file says 0
  // (cpu0 usually has none; some captures have empty ones).
  const online =
    listOrNull(readText(root, `${cpu}/online`)) ?? cpuDirs.filter((c) => readText(root, `${cpu}/cpu${c}/online`) !== '0');
  if (online.length === 0) throw new Error(`hwloc: ${root}: no online CPU found`);
  const nrCpuIds = Math.max(...possible, ...online, ...cpuDirs) + 1;
  const nodes: { id: number; cpus: number[] }[] = [];
  for (const id of numberedDirs(root, '/sys/devices/system/node', 'node')) {
    const d = `/sys/devices/system/node/node${id}`;
    const cpus = listOrNull(readText(root, `${d}/cpulist`)) ?? maskOrNull(readText(root, `${d}/cpumap`)) ?? [];
    nodes.push({ id, cpus: cpus.filter((c) => c < nrCpuIds) });
  }
  // Some captures have no node dir at all (s390, ARM boards) or online CPUs whose node dir
  // is missing (offline-cpu0-node0); both are left as they are: such IRQs get node -1.
  return {
    nrCpuIds,
    possible: [...new Set([...possible, ...online])].filter((c) => c < nrCpuIds).sort((a, b) => a - b),
    online,
    nodes,
    defaultAffinity: range(0, nrCpuIds - 1),
    initialAffinity: 'all',
    platform: 'metal',
  };
}

function range(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let i = lo; i <= hi; i++) out.push(i);
  return out;
}

/**
 * Add synthetic NICs (PCI functions, netdevs, MSI-X IRQs in /proc/interrupts, /proc/irq,
 * /sys/kernel/irq) to an unpacked capture. A NIC's `node` is taken as an index: node k
 * becomes the k-th node that has online CPUs (modulo their count), because capture node ids
 * are sparse (0,8,250…); -1 stays -1, and so does every node on a capture without nodes.
 * Call once per tree; returns the NICs as written (real node ids, ifindex, mac).
 */
export function addSyntheticNics(root: string, nics: FixtureNic[]): FixtureNic[] {
  if (fs.existsSync(path.join(root, 'proc/interrupts'))) {
    throw new Error(`hwloc: ${root} already has /proc/interrupts (addSyntheticNics runs once per tree)`);
  }
  const machine = readMachine(root);
  const onlineSet = new Set(machine.online);
  const withCpus = machine.nodes.filter((n) => n.cpus.some((c) => onlineSet.has(c)));
  const mapped = nics.map((nic) => ({
    ...nic,
    node: nic.node < 0 || withCpus.length === 0 ? -1 : withCpus[nic.node % withCpus.length]!.id,
  }));
  const w = new TreeWriter(root);
  if (!fs.existsSync(path.join(root, 'proc/cmdline'))) w.file('/proc/cmdline', 'BOOT_IMAGE=/boot/vmlinuz ro quiet\n', 0o444);
  return writeDeviceTree(w, machine, {
    nics: mapped,
    otherIrqs: [],
    pciDevices: [],
    virtualNics: [],
    firstIrq: 64,
  });
}
