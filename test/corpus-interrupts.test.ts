// Every real /proc/interrupts capture in the shared corpus: the parser must read all of them
// without a warning, map columns to the header's CPUs, and find exactly the NIC queue vectors
// the corpus README lists for each file (the table below), with the right queue numbers.
//
// The expected queue counts were written from the README's per-file table and checked with
// grep against the files; they are not produced by the code under test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseProcInterrupts, type ParsedInterrupts } from '../src/snapshot/interrupts.js';
import { classifyIrqName } from '../src/snapshot/queue-names.js';
import type { QueueRole } from '../src/types.js';
import { corpusDir } from './helpers/corpus.js';

const DIR = corpusDir('proc-interrupts');

const range = (lo: number, hi: number) => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);

/** A README naming scheme: groups `key` (interface, PCI address or virtio device), `q`, optional `role`. */
type Pattern = [RegExp, QueueRole];

interface Expect {
  /** Exact CPU numbers of the columns, or just how many. */
  cpus: number[] | number;
  /** Numeric IRQ rows. */
  irqs: number;
  /** "<key>:<role>" → number of queue vectors. */
  queues: Record<string, number>;
  patterns: Pattern[];
}

const BDF = '[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]';
const P = {
  intel: [/^(?:i40e|ice)-(?<key>[\w.]+)-TxRx-(?<q>\d+)$/, 'rxtx'] as Pattern,
  txrx: [/^(?<key>[a-z][\w.]*)-TxRx-(?<q>\d+)$/, 'rxtx'] as Pattern,
  split: [/^(?<key>[a-z][\w.]*)-(?<role>rx|tx)-(?<q>\d+)$/, 'rx'] as Pattern,
  ring: [/^(?<key>eth\d+)-(?<q>\d+)$/, 'rxtx'] as Pattern,
  qlcnic: [/^(?<key>eth\d+)-tx-\d+-rx-(?<q>\d+)$/, 'rxtx'] as Pattern,
  ena: [/^(?<key>eth\d+)-Tx-Rx-(?<q>\d+)$/, 'rxtx'] as Pattern,
  mlx5: [new RegExp(`^mlx5_comp(?<q>\\d+)@pci:(?<key>${BDF})$`), 'rxtx'] as Pattern,
  mlx4: [new RegExp(`^mlx4-comp-(?<q>\\d+)@pci:(?<key>${BDF})$`), 'rxtx'] as Pattern,
  virtio: [/^(?<key>virtio\d+)-(?<role>input|output)\.(?<q>\d+)$/, 'rx'] as Pattern,
};

const EXPECT: Record<string, Expect> = {
  'firedancer-epyc-63of64cpu-cpu10-missing-i40e.txt': {
    cpus: [...range(0, 9), ...range(11, 63)],
    irqs: 34,
    queues: { 'ens3f0np0:rxtx': 1, 'ens3f1np1:rxtx': 1 },
    patterns: [P.intel],
  },
  'netutils-linux-i40e-x710-e3-1271-4cpu.txt': {
    cpus: range(0, 3),
    irqs: 27,
    queues: { 'eth0:rxtx': 4, 'eth3:rxtx': 4 },
    patterns: [P.intel, P.txrx],
  },
  'netutils-linux-igb-2xi350-i5-6400-4cpu.txt': {
    cpus: range(0, 3),
    irqs: 32,
    queues: { 'eth0:rx': 4, 'eth0:tx': 4, 'eth1:rx': 4, 'eth1:tx': 4 },
    patterns: [P.split],
  },
  'netutils-linux-igb-82576-2xL5520-16cpu.txt': {
    cpus: range(0, 15),
    irqs: 33,
    queues: { 'em1:rxtx': 8, 'em2:rxtx': 8 },
    patterns: [P.txrx],
  },
  'netutils-linux-igb-multinic-4cpu-snap1.txt': {
    cpus: range(0, 3),
    irqs: 24,
    queues: { 'eth4:rxtx': 4, 'eth5:rxtx': 4 },
    patterns: [P.txrx],
  },
  'netutils-linux-igb-multinic-4cpu-snap2.txt': {
    cpus: range(0, 3),
    irqs: 24,
    queues: { 'eth4:rxtx': 4, 'eth5:rxtx': 4 },
    patterns: [P.txrx],
  },
  'netutils-linux-igb-split-rxtx-e5606-4cpu.txt': {
    cpus: range(0, 3),
    irqs: 64,
    queues: Object.fromEntries(['eth0', 'eth1', 'eth3', 'eth4', 'eth5'].flatMap((i) => [[`${i}:rx`, 4], [`${i}:tx`, 4]])),
    patterns: [P.split],
  },
  'netutils-linux-ixgbe-2xE5645-12cpu.txt': {
    cpus: range(0, 11),
    irqs: 41,
    queues: { 'eth0:rxtx': 8, 'eth1:rxtx': 8 },
    patterns: [P.txrx],
  },
  'netutils-linux-ixgbe-igb-2xE5-2640-32cpu.txt': {
    cpus: range(0, 31),
    irqs: 166,
    queues: { 'eth0:rxtx': 8, 'eth1:rxtx': 8, 'eth2:rxtx': 32, 'eth3:rxtx': 32, 'eth4:rxtx': 32, 'eth5:rxtx': 32 },
    patterns: [P.txrx],
  },
  'netutils-linux-mlx4-bnx2-2xX5650-12cpu.txt': {
    cpus: range(0, 11),
    irqs: 51,
    queues: { '0000:07:00.0:rxtx': 3, 'eth0:rxtx': 8, 'eth1:rxtx': 8, 'eth2:rxtx': 8 },
    patterns: [P.mlx4, P.ring],
  },
  'netutils-linux-mlx4-tg3-2xE5-2690-16cpu.txt': {
    cpus: range(0, 15),
    irqs: 76,
    queues: {
      '0000:04:00.0:rxtx': 3,
      'eth6:rxtx': 8,
      'eth7:rxtx': 8,
      // tg3: one tx vector, rx vectors numbered 1..4 (reported as written)
      'eth0:tx': 1,
      'eth0:rx': 4,
      'eth1:tx': 1,
      'eth1:rx': 4,
    },
    patterns: [P.mlx4, P.ring, P.split],
  },
  'netutils-linux-mlx5-q6700-4cpu.txt': {
    cpus: range(0, 3),
    irqs: 27,
    queues: { '0000:01:00.0:rxtx': 4, '0000:01:00.1:rxtx': 4 },
    patterns: [P.mlx5],
  },
  'netutils-linux-qlcnic-2xE5-2687Wv4-48cpu.txt': {
    cpus: range(0, 47),
    irqs: 33,
    queues: { 'eth0:rx': 3, 'eth0:rxtx': 1, 'eth1:rx': 3, 'eth1:rxtx': 1 },
    patterns: [P.qlcnic, P.split],
  },
  'netutils-linux-strange-cpu-no-nmi-loc-8cpu.txt': {
    cpus: range(0, 7),
    irqs: 18,
    queues: { 'eth0:rxtx': 8, 'eth1:rxtx': 8 },
    patterns: [P.txrx],
  },
  'netutils-linux-virtio-legacy-kvm-2cpu.txt': { cpus: [0, 1], irqs: 11, queues: {}, patterns: [] },
  'netutils-linux-virtio-net-vm-1cpu.txt': {
    cpus: [0],
    irqs: 15,
    queues: { 'virtio0:rx': 1, 'virtio0:tx': 1 },
    patterns: [P.virtio],
  },
  'node-exporter-aarch64-graviton-ena-nvme-8cpu.txt': {
    cpus: range(0, 7),
    irqs: 51,
    queues: { 'eth0:rxtx': 8 },
    patterns: [P.ena],
  },
  'pcp-s390x-2cpu-no-numeric-irqs.txt': { cpus: [0, 1], irqs: 0, queues: {}, patterns: [] },
  'pcp-s390x-mlx5-16cpu.txt': {
    cpus: range(0, 15),
    irqs: 22,
    queues: { '0002:00:00.0:rxtx': 9, '0003:00:00.0:rxtx': 9 },
    patterns: [P.mlx5],
  },
  'pcp-x86_64-1152cpu-i40e-lpfc.txt.bz2': {
    cpus: 1152,
    irqs: 1034,
    queues: { 'eth0:rxtx': 94, 'enp195s0f1:rxtx': 94, 'enp195s0f2:rxtx': 94, 'enp195s0f3:rxtx': 94 },
    patterns: [P.intel],
  },
  'pcp-x86_64-laptop-8cpu-modern.txt': { cpus: range(0, 7), irqs: 19, queues: {}, patterns: [] },
  'prometheus-procfs-kvm-virtio-4cpu.txt': {
    cpus: range(0, 3),
    irqs: 28,
    queues: { 'virtio0:rx': 1, 'virtio0:tx': 1 },
    patterns: [P.virtio],
  },
  'stats-collect-genoa0-ice-128q-2xEPYC9354-128cpu.txt': {
    cpus: range(0, 127),
    irqs: 463,
    queues: {
      'eno12399np0:rxtx': 128,
      'eno12409np1:rxtx': 128,
      'i210:rxtx': 4,
      'eno8403:tx': 1,
      'eno8403:rx': 4,
      'genoa0net:tx': 1,
      'genoa0net:rx': 4,
    },
    patterns: [P.intel, P.txrx, P.split],
  },
  'stats-collect-knl0-igb-xeonphi7250-272cpu.txt': {
    cpus: range(0, 271),
    irqs: 23,
    queues: { 'knl0net:rxtx': 4, 'enp5s0:rxtx': 4 },
    patterns: [P.txrx],
  },
  'stats-collect-milan0-bnxt-32q-2xEPYC7543-128cpu.txt': {
    cpus: range(0, 127),
    irqs: 358,
    queues: {
      'eno12399np0:rxtx': 32,
      'eno12409np1:rxtx': 32,
      'eno12419np2:rxtx': 32,
      'eno12429np3:rxtx': 32,
      'i210:rxtx': 4,
      'eno8403:tx': 1,
      'eno8403:rx': 4,
      'milan0net:tx': 1,
      'milan0net:rx': 4,
    },
    patterns: [P.txrx, P.split],
  },
  'stats-collect-snr0-ice-e822-atomP5362-24cpu.txt': {
    cpus: range(0, 23),
    irqs: 216,
    queues: {
      ...Object.fromEntries(['eno5np0', 'eno6np1', 'eno7np4', 'eno8np5', 'eno9np6', 'eno10np7'].map((i) => [`${i}:rxtx`, 24])),
      'eno2:rxtx': 8,
      'eno3:rxtx': 8,
      'eno4:rxtx': 8,
      'snr0net:rxtx': 8,
      'enp22s0:rxtx': 4,
    },
    patterns: [P.intel, P.txrx],
  },
  'sysstat-root3-cpu6-offline-7cols.txt': { cpus: [0, 1, 2, 3, 4, 5, 7], irqs: 21, queues: {}, patterns: [] },
  'sysstat-root6-modern-x86-10cpu.txt': { cpus: range(0, 9), irqs: 21, queues: {}, patterns: [] },
};

function readCapture(file: string): string {
  if (!file.endsWith('.bz2')) return fs.readFileSync(file, 'utf8');
  // node:zlib has no bzip2; the 13.4 MB plain file is kept compressed in the corpus.
  return execFileSync('bzip2', ['-dc', file], { maxBuffer: 64 * 1024 * 1024 }).toString('utf8');
}

function captures(): string[] {
  return fs
    .readdirSync(DIR)
    .filter((f) => /\.txt(\.bz2)?$/.test(f) && !/\.(lscpu|topology)\.txt$/.test(f) && !f.startsWith('LICENSE'))
    .sort();
}

function roleOf(text: string | undefined, fallback: QueueRole): QueueRole {
  if (text === 'rx' || text === 'input') return 'rx';
  if (text === 'tx' || text === 'output') return 'tx';
  return fallback;
}

function checkGeneric(file: string, text: string, r: ParsedInterrupts): void {
  assert.deepEqual(r.warnings, [], 'no warnings on a real capture');
  const header = text.slice(0, text.indexOf('\n')).trim().split(/\s+/);
  assert.equal(r.cpus.length, header.length, 'one CPU per header column');
  const numericLines = text.split('\n').filter((l) => /^\s*\d+:/.test(l)).length;
  assert.equal(r.irqs.length, numericLines, 'every numeric row parsed');
  for (const row of r.irqs) {
    const where = `${path.basename(file)}:${row.line} IRQ ${row.irq}`;
    assert.equal(Object.keys(row.counts).length, r.cpus.length, where);
    assert.equal(row.total, Object.values(row.counts).reduce((a, b) => a + b, 0), where);
    assert.notEqual(row.chip, '', `${where}: chip found`);
    assert.ok(!/^(edge|level|fasteoi|Edge|Level)\b/.test(row.name), `${where}: trigger left in name "${row.name}"`);
    assert.equal(row.actions.join(', '), row.name, where);
  }
  for (const s of r.symbolic) {
    const n = Object.keys(s.counts).length;
    if (['ERR', 'MIS', 'Err'].includes(s.label)) assert.equal(n, 0, `${s.label} is machine-wide`);
    else assert.equal(n, r.cpus.length, `${path.basename(file)}:${s.line} ${s.label}`);
  }
}

function checkQueues(file: string, r: ParsedInterrupts, e: Expect): void {
  const found: Record<string, number> = {};
  for (const row of r.irqs) {
    const cls = classifyIrqName(row.name);
    const where = `${path.basename(file)}:${row.line} "${row.name}"`;
    // Every name of a README naming scheme is a queue with the number written in it.
    for (const [re, fallback] of e.patterns) {
      const m = re.exec(row.name);
      if (!m) continue;
      const role = roleOf(m.groups!['role'], fallback);
      assert.equal(cls.kind, 'queue', where);
      if (cls.kind !== 'queue') break;
      assert.equal(cls.ref.queue, Number(m.groups!['q']), where);
      assert.equal(cls.ref.role, role, where);
      const key = m.groups!['key']!;
      assert.ok([cls.ref.ifname, cls.ref.pci, cls.ref.virtio].includes(key), `${where}: names ${key}`);
      break;
    }
    if (cls.kind === 'queue') {
      const key = `${cls.ref.ifname ?? cls.ref.pci ?? cls.ref.virtio}:${cls.ref.role}`;
      found[key] = (found[key] ?? 0) + 1;
    }
  }
  // ... and nothing else is (nvme, megasas, lpfc, psp-1, virtio-blk…).
  assert.deepEqual(found, e.queues);
}

test('corpus: every /proc/interrupts capture', async (t) => {
  if (!fs.existsSync(DIR)) {
    t.skip(`corpus not available: ${DIR} is absent`);
    return;
  }
  const files = captures();
  assert.ok(files.length >= 28, `expected the 28 corpus captures, found ${files.length}`);
  for (const f of files) {
    await t.test(f, () => {
      const e = EXPECT[f];
      assert.ok(e, `${f}: new capture — add its CPUs and NIC queues to EXPECT`);
      const file = path.join(DIR, f);
      const text = readCapture(file);
      const r = parseProcInterrupts(text, file);
      checkGeneric(file, text, r);
      if (typeof e.cpus === 'number') {
        assert.equal(r.cpus.length, e.cpus);
        assert.deepEqual(r.cpus, range(0, e.cpus - 1));
      } else {
        assert.deepEqual(r.cpus, e.cpus);
      }
      assert.equal(r.irqs.length, e.irqs);
      checkQueues(file, r, e);
    });
  }
});

test('corpus: format details named in the README', async (t) => {
  if (!fs.existsSync(DIR)) {
    t.skip(`corpus not available: ${DIR} is absent`);
    return;
  }
  const parse = (f: string) => parseProcInterrupts(readCapture(path.join(DIR, f)), f);

  await t.test('firedancer: the column after CPU9 is CPU11', () => {
    const r = parse('firedancer-epyc-63of64cpu-cpu10-missing-i40e.txt');
    const text = readCapture(path.join(DIR, 'firedancer-epyc-63of64cpu-cpu10-missing-i40e.txt'));
    const row0 = text.split('\n')[1]!.split(':')[1]!.trim().split(/\s+/);
    const timer = r.irqs.find((i) => i.irq === 0)!;
    assert.equal(timer.counts[10], undefined);
    assert.equal(timer.counts[11], Number(row0[10]));
    assert.equal(timer.counts[63], Number(row0[62]));
    const named = r.irqs.find((i) => i.irq === 436)!;
    assert.deepEqual([named.chip, named.hwirq, named.name], ['IR-PCI-MSIX-0000:02:00.2', 0, '0000:02:00.2']);
  });

  await t.test('sysstat root3: 7th column is CPU7', () => {
    const r = parse('sysstat-root3-cpu6-offline-7cols.txt');
    for (const row of r.irqs) assert.deepEqual(Object.keys(row.counts).map(Number), [0, 1, 2, 3, 4, 5, 7]);
  });

  await t.test('graviton: IPI0 glued to its count, Err machine-wide, arm chips', () => {
    const r = parse('node-exporter-aarch64-graviton-ena-nvme-8cpu.txt');
    const ipi0 = r.symbolic.find((s) => s.label === 'IPI0')!;
    assert.equal(ipi0.counts[0], 2768808080);
    assert.equal(ipi0.description, 'Rescheduling interrupts');
    assert.deepEqual(r.symbolic.at(-1), { label: 'Err', counts: {}, total: 0, description: '', line: 60 });
    const timer = r.irqs.find((i) => i.irq === 10)!;
    assert.deepEqual([timer.chip, timer.hwirq, timer.trigger, timer.name], ['GICv3', 27, 'Level', 'arch_timer']);
    const q0 = r.irqs.find((i) => i.name === 'eth0-Tx-Rx-0')!;
    assert.deepEqual([q0.chip, q0.hwirq, q0.trigger], ['ITS-MSI', 81921, 'Edge']);
  });

  await t.test('s390: EXT, I/O, AIO before the numeric rows; PCI-MSI with no hwirq', () => {
    const r = parse('pcp-s390x-mlx5-16cpu.txt');
    assert.equal(r.symbolic.length, 36);
    assert.deepEqual(r.symbolic.slice(0, 3).map((s) => [s.label, s.line]), [
      ['EXT', 2],
      ['I/O', 3],
      ['AIO', 4],
    ]);
    assert.ok(r.irqs.every((i) => i.chip === 'PCI-MSI' && i.hwirq === undefined && i.trigger === undefined));
    assert.deepEqual(parse('pcp-s390x-2cpu-no-numeric-irqs.txt').symbolic.map((s) => s.label), ['EXT', 'I/O']);
  });

  await t.test('1152 CPUs: 4-digit IRQs and "  ERR:"', () => {
    const r = parse('pcp-x86_64-1152cpu-i40e-lpfc.txt.bz2');
    assert.equal(Math.max(...r.irqs.map((i) => i.irq)), 1160);
    assert.equal(r.irqs.filter((i) => /^lpfc:\d+$/.test(i.name)).length, 568);
    assert.ok(r.symbolic.some((s) => s.label === 'ERR'));
  });

  await t.test('virtio legacy: shared INTx line keeps all its actions', () => {
    const r = parse('netutils-linux-virtio-legacy-kvm-2cpu.txt');
    const shared = r.irqs.find((i) => i.irq === 11)!;
    assert.deepEqual([shared.chip, shared.trigger, shared.actions], ['IO-APIC', 'fasteoi', ['uhci_hcd:usb1', 'eth0', 'eth1']]);
  });

  await t.test('i5-6400: IRQ 7 has no action', () => {
    const r = parse('netutils-linux-igb-2xi350-i5-6400-4cpu.txt');
    const row = r.irqs.find((i) => i.irq === 7)!;
    assert.deepEqual([row.chip, row.trigger, row.name, row.actions], ['IO-APIC', 'edge', '', []]);
  });
});
