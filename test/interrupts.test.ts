// Unit tests for the /proc/interrupts parser: one test per parser trap listed in
// ../shared/corpus/proc-interrupts/README.md, with small literal inputs, plus the live file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { parseProcInterrupts, InterruptsFormatError } from '../src/snapshot/interrupts.js';
import { pciIrqsOf, queueNic } from './helpers/live.js';
import { classifyIrqName } from '../src/snapshot/queue-names.js';
import { parseCpuList } from '../src/cpumask/cpumask.js';

const lines = (...l: string[]) => l.join('\n') + '\n';

test('header gives column → CPU: an offline CPU leaves no column', () => {
  const r = parseProcInterrupts(
    lines(
      '           CPU0       CPU1       CPU3       ',
      '  0:         10         20         30   IO-APIC   2-edge      timer',
    ),
  );
  assert.deepEqual(r.cpus, [0, 1, 3]);
  assert.deepEqual(r.irqs[0]!.counts, { 0: 10, 1: 20, 3: 30 });
  assert.equal(r.irqs[0]!.total, 60);
  assert.deepEqual(r.warnings, []);
});

test('missing or garbled header throws InterruptsFormatError naming file:1', () => {
  for (const text of ['', '\n', '   \n  0: 1 IO-APIC 2-edge timer\n', '  0:  1  2  IO-APIC-edge timer\n', 'CPU0 CPUx\n', 'CPU0 CPU0\n']) {
    assert.throws(
      () => parseProcInterrupts(text, '/x/interrupts'),
      (e: unknown) => e instanceof InterruptsFormatError && /^\/x\/interrupts:1: /.test(e.message),
      JSON.stringify(text),
    );
  }
});

test('ERR/MIS/Err print one machine-wide value: counts {} and the value in total', () => {
  const r = parseProcInterrupts(lines('    CPU0 CPU1 CPU2', 'ERR:          3', ' MIS:          0', 'Err:          7'));
  assert.deepEqual(
    r.symbolic.map((s) => [s.label, s.counts, s.total, s.description]),
    [
      ['ERR', {}, 3, ''],
      ['MIS', {}, 0, ''],
      ['Err', {}, 7, ''],
    ],
  );
  assert.deepEqual(r.warnings, []);
});

test('label glued to the first count (IPI0:2768808080) and 10-digit counters', () => {
  const r = parseProcInterrupts(
    lines(
      '          CPU0       CPU1',
      'IPI0:2768808080 2844211768       Rescheduling interrupts',
      ' 93:4017789298 1   IR-PCI-MSI-edge      eth0-rx-0',
    ),
  );
  assert.deepEqual(r.symbolic[0]!.counts, { 0: 2768808080, 1: 2844211768 });
  assert.equal(r.symbolic[0]!.description, 'Rescheduling interrupts');
  assert.deepEqual(r.irqs[0]!.counts, { 0: 4017789298, 1: 1 });
  assert.equal(r.irqs[0]!.name, 'eth0-rx-0');
});

test('wide label column (4-digit IRQs, "  ERR:") and labels with "/" (s390 I/O)', () => {
  const r = parseProcInterrupts(
    lines(
      '             CPU0       CPU1',
      ' 1160:          1          2   IR-PCI-MSI 1234-edge      lpfc:1',
      '  NMI:          0          0   Non-maskable interrupts',
      '  ERR:          0',
      'I/O:       6989      33457',
    ),
  );
  assert.equal(r.irqs[0]!.irq, 1160);
  assert.deepEqual(r.symbolic.map((s) => s.label), ['NMI', 'ERR', 'I/O']);
  assert.deepEqual(r.symbolic[2]!.counts, { 0: 6989, 1: 33457 });
});

test('s390: symbolic rows before the numeric ones do not end the IRQ list', () => {
  const r = parseProcInterrupts(
    lines(
      '           CPU0       CPU1',
      'EXT:      30368       5872',
      'I/O:        675        559',
      'AIO:         39         32',
      '  3:          6          4   PCI-MSI  mlx5_async@pci:0002:00:00.0',
      '  4:          0          0   PCI-MSI  mlx5_comp0@pci:0002:00:00.0',
      'CLK:       2876       2246   [EXT] Clock Comparator',
    ),
  );
  assert.deepEqual(r.irqs.map((i) => [i.irq, i.chip, i.name, i.hwirq, i.trigger]), [
    [3, 'PCI-MSI', 'mlx5_async@pci:0002:00:00.0', undefined, undefined],
    [4, 'PCI-MSI', 'mlx5_comp0@pci:0002:00:00.0', undefined, undefined],
  ]);
  assert.deepEqual(r.symbolic.map((s) => [s.label, s.line]), [
    ['EXT', 2],
    ['I/O', 3],
    ['AIO', 4],
    ['CLK', 7],
  ]);
  assert.equal(r.symbolic[3]!.description, '[EXT] Clock Comparator');
});

test('blank, whitespace-only and CRLF lines are tolerated without warnings', () => {
  const r = parseProcInterrupts(
    '           CPU0       CPU1       \r\n' +
      '  0:          1          2   IO-APIC   2-edge      timer\r\n' +
      'MIS:          0\n' +
      '\n' +
      'PIN:          0          0   Posted-interrupt notification event\n' +
      '                                                                              \n',
  );
  assert.deepEqual(r.cpus, [0, 1]);
  assert.deepEqual(r.irqs[0]!.counts, { 0: 1, 1: 2 });
  assert.equal(r.irqs[0]!.name, 'timer');
  assert.deepEqual(r.symbolic.map((s) => s.label), ['MIS', 'PIN']);
  assert.deepEqual(r.warnings, []);
});

test('chip / hwirq / trigger / actions across kernel generations', () => {
  const cases: [string, string, number | undefined, string | undefined, string][] = [
    // old: chip glued to the flow handler
    ['PCI-MSI-edge      eth0-TxRx-0', 'PCI-MSI', undefined, 'edge', 'eth0-TxRx-0'],
    ['IR-IO-APIC-fasteoi   acpi', 'IR-IO-APIC', undefined, 'fasteoi', 'acpi'],
    ['HPET_MSI-edge      hpet2', 'HPET_MSI', undefined, 'edge', 'hpet2'],
    // mid: hwirq glued to the handler
    ['IR-PCI-MSI 524288-edge      eth0', 'IR-PCI-MSI', 524288, 'edge', 'eth0'],
    ['IO-APIC   5-edge      ACPI:Ged', 'IO-APIC', 5, 'edge', 'ACPI:Ged'],
    // new: per-device MSI domain, BDF in the chip name
    ['IR-PCI-MSIX-0000:41:00.0    1-edge      i40e-ens3f0np0-TxRx-0', 'IR-PCI-MSIX-0000:41:00.0', 1, 'edge', 'i40e-ens3f0np0-TxRx-0'],
    ['PCI-MSIX-0000:00:03.0   2-edge      virtio2-output.0', 'PCI-MSIX-0000:00:03.0', 2, 'edge', 'virtio2-output.0'],
    // arm: separate Edge/Level word
    ['GICv3  27 Level     arch_timer', 'GICv3', 27, 'Level', 'arch_timer'],
    ['ITS-MSI 65536 Edge      nvme0q0', 'ITS-MSI', 65536, 'Edge', 'nvme0q0'],
    ['ARMH0061:00   3 Edge      ACPI:Event', 'ARMH0061:00', 3, 'Edge', 'ACPI:Event'],
    ['GICv2  30 Level  -fasteoi  arch_timer', 'GICv2', 30, 'Level', 'arch_timer'],
    // chip names with spaces, blank hwirq before the handler
    ['Hyper-V PCIe MSI 134250496-edge      nvme0q0', 'Hyper-V PCIe MSI', 134250496, 'edge', 'nvme0q0'],
    ['IO-APIC          -edge      timer', 'IO-APIC', undefined, 'edge', 'timer'],
    // s390: no hwirq, no trigger
    ['PCI-MSI  mlx5_comp0@pci:0002:00:00.0', 'PCI-MSI', undefined, undefined, 'mlx5_comp0@pci:0002:00:00.0'],
    // no action at all
    ['IO-APIC-edge    ', 'IO-APIC', undefined, 'edge', ''],
    ['IR-PCI-MSI 1-edge', 'IR-PCI-MSI', 1, 'edge', ''],
  ];
  for (const [tail, chip, hwirq, trigger, name] of cases) {
    const r = parseProcInterrupts(lines('    CPU0', `  7:   1   ${tail}`));
    const row = r.irqs[0]!;
    assert.deepEqual([row.chip, row.hwirq, row.trigger, row.name], [chip, hwirq, trigger, name], tail);
    assert.deepEqual(r.warnings, [], tail);
  }
});

test('action names with spaces and shared lines split on ", "', () => {
  const r = parseProcInterrupts(
    lines(
      '     CPU0   CPU1',
      ' 11: 976435  47   IO-APIC-fasteoi   uhci_hcd:usb1, eth0, eth1',
      ' 57:  0  0  IR-PCI-MSI-0000:c0:03.1    0-edge      PCIe PME, pciehp, PCIe bwctrl',
      '436:  0  0  IR-PCI-MSIX-0000:02:00.2    0-edge      0000:02:00.2',
    ),
  );
  assert.deepEqual(r.irqs[0]!.actions, ['uhci_hcd:usb1', 'eth0', 'eth1']);
  assert.equal(r.irqs[0]!.name, 'uhci_hcd:usb1, eth0, eth1');
  assert.deepEqual(r.irqs[1]!.actions, ['PCIe PME', 'pciehp', 'PCIe bwctrl']);
  assert.equal(r.irqs[1]!.chip, 'IR-PCI-MSI-0000:c0:03.1');
  assert.deepEqual(r.irqs[2]!.actions, ['0000:02:00.2']);
});

test('a tail we cannot split keeps the whole text as the name', () => {
  const r = parseProcInterrupts(lines('  CPU0', ' 5:  1  weird'));
  assert.deepEqual([r.irqs[0]!.chip, r.irqs[0]!.name], ['', 'weird']);
});

test('odd lines become "<file>:<line>: ..." warnings, never exceptions', () => {
  const r = parseProcInterrupts(
    lines(
      '           CPU0       CPU1       CPU2',
      '  0:          1          2          3   IO-APIC   2-edge      timer',
      'garbage without a colon',
      ' 24:          5   PCI-MSI-edge      truncated',
      '  0:          9          9          9   IO-APIC   2-edge      again',
      ':     1 2 3',
      'L O C:  1 2 3',
      'NMI:          1          2   Non-maskable interrupts',
      ' 25:          1          2          3   PCI-MSI-edge      fine',
    ),
    '/t/interrupts',
  );
  assert.deepEqual(r.warnings, [
    '/t/interrupts:3: no "label:" at the start of the line, skipped',
    '/t/interrupts:4: IRQ 24 has 1 count columns, header has 3 CPUs',
    '/t/interrupts:5: IRQ 0 listed twice, later row skipped',
    '/t/interrupts:6: invalid row label "", skipped',
    '/t/interrupts:7: invalid row label "L O C", skipped',
    '/t/interrupts:8: NMI has 2 count columns, header has 3 CPUs',
  ]);
  // The short row is kept with what it has, so its name and partial counts stay usable.
  assert.deepEqual(
    r.irqs.map((i) => [i.irq, i.name, i.counts]),
    [
      [0, 'timer', { 0: 1, 1: 2, 2: 3 }],
      [24, 'truncated', { 0: 5 }],
      [25, 'fine', { 0: 1, 1: 2, 2: 3 }],
    ],
  );
  assert.deepEqual(r.symbolic[0]!.counts, { 0: 1, 1: 2 });
});

test('default file name in warnings is /proc/interrupts', () => {
  const r = parseProcInterrupts(lines('  CPU0', 'junk'));
  assert.deepEqual(r.warnings, ['/proc/interrupts:2: no "label:" at the start of the line, skipped']);
});

// Speed is the benchmarks' business (npm run bench), never a timed test: this checks the result.
test('rows of 1152 CPUs (12.7 KB each) parse', () => {
  const n = 1152;
  const header = ' '.repeat(12) + Array.from({ length: n }, (_, i) => `CPU${i}`.padEnd(11)).join('');
  const row = (label: string, tail: string) =>
    label.padStart(5) + ':' + Array.from({ length: n }, (_, i) => String(i * 7).padStart(11)).join('') + '  ' + tail;
  const body: string[] = [header];
  for (let irq = 0; irq < 1100; irq++) body.push(row(String(irq), `IR-PCI-MSI ${irq}-edge      lpfc:${irq}`));
  body.push(row('LOC', 'Local timer interrupts'), '  ERR:          0');
  const text = body.join('\n') + '\n';
  const r = parseProcInterrupts(text);
  assert.equal(r.cpus.length, n);
  assert.equal(r.irqs.length, 1100);
  assert.equal(r.irqs[1099]!.counts[1151], 1151 * 7);
  assert.equal(r.irqs[1099]!.name, 'lpfc:1099');
  assert.deepEqual(r.warnings, []);
});

test('live /proc/interrupts: columns are the online CPUs, virtio-net queues found', (t) => {
  let text: string;
  try {
    text = fs.readFileSync('/proc/interrupts', 'utf8');
  } catch {
    t.skip('/proc/interrupts not readable on this host');
    return;
  }
  const r = parseProcInterrupts(text);
  assert.deepEqual(r.warnings, []);
  const online = fs.readFileSync('/sys/devices/system/cpu/online', 'utf8');
  assert.deepEqual(r.cpus, parseCpuList(online));

  // /sys/kernel/irq/N/{actions,chip_name,hwirq} print the fields /proc/interrupts glues together:
  // the kernel's own answer for how chip, hwirq and actions split.
  let checked = 0;
  for (const row of r.irqs) {
    const sys = `/sys/kernel/irq/${row.irq}`;
    let actions: string, chip: string, hwirq: string;
    try {
      actions = fs.readFileSync(`${sys}/actions`, 'utf8').trim();
      chip = fs.readFileSync(`${sys}/chip_name`, 'utf8').trim();
      hwirq = fs.readFileSync(`${sys}/hwirq`, 'utf8').trim();
    } catch {
      continue; // IRQ freed between the two reads
    }
    assert.deepEqual(row.actions, actions === '' ? [] : actions.split(','), `IRQ ${row.irq} actions`);
    assert.equal(row.chip, chip, `IRQ ${row.irq} chip`);
    if (row.hwirq !== undefined) assert.equal(String(row.hwirq), hwirq, `IRQ ${row.irq} hwirq`);
    checked++;
  }
  if (checked === 0) t.diagnostic('no /sys/kernel/irq entries to cross-check');

  // This machine's NIC (found in sysfs, whatever its driver): the vectors of its PCI
  // function include queue vectors the name classifier recognises.
  const nic = queueNic();
  if (nic) {
    const vectors = pciIrqsOf(`/sys/class/net/${nic.name}/device`);
    const names = new Map(r.irqs.map((i) => [i.irq, i.name]));
    const queues = vectors.filter((v) => names.has(v) && classifyIrqName(names.get(v)!).kind === 'queue');
    t.diagnostic(`${nic.name}: vectors ${vectors.join(',')}, queue vectors ${queues.map((q) => `${q}=${names.get(q)}`).join(', ')}`);
    assert.ok(queues.length > 0, `${nic.name}: no vector of its PCI function is recognised as a queue`);
  } else t.diagnostic('no NIC with queue vectors on this machine');
  for (const row of r.irqs) {
    const sum = Object.values(row.counts).reduce((a, b) => a + b, 0);
    assert.equal(row.total, sum);
    assert.equal(Object.keys(row.counts).length, r.cpus.length, `IRQ ${row.irq}`);
  }
});
