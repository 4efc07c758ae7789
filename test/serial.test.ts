// serial tests — [serial:*] policy sections, port enumeration (sysfs and
// @serialport/bindings-cpp, with the udevadm-less fallback), the IRQ behind a UART and
// behind a USB adapter's host controller, shared-IRQ conflicts, plan rows, and a real
// and the rows they give in a plan — all on fixture trees (the live machine: serial-kernel.test.ts).
//
// Nothing here opens or writes /dev/ttyS* (it is the console): only /proc/irq masks.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseUevent, ueventToEvent } from '../src/agent/uevent.js';
import { isRelevant } from '../src/agent/events.js';
import { planJson, planText } from '../src/cli/render.js';
import { plan } from '../src/planner/planner.js';
import { formatPolicy, matchSerialSection, parsePolicy, PolicyError, shippedPolicyPath, validatePolicy } from '../src/policy/policy.js';
import { SERIAL_KEYS } from '../src/policy/schema.js';
import { enumerateSerialPorts, mergeBindings, readSysfsPorts } from '../src/snapshot/serial.js';
import { planSerial } from '../src/planner/serial.js';
import { FsRoot } from '../src/snapshot/fsroot.js';
import { takeSnapshot } from '../src/snapshot/snapshot.js';
import { reconcile } from '../src/reconcile/reconcile.js';
import { Reconciler } from '../src/reconcile/reconciler.js';
import { emptyState } from '../src/state/state.js';
import type { Policy, SerialPortInfo } from '../src/types.js';
import { buildFixture, removeFixture, TreeWriter, type FixtureSpec } from '../fixture/fixture.js';

const F = '/etc/affinityd/affinityd.ini';

const roots: string[] = [];
const tmpDirs: string[] = [];
after(() => {
  for (const r of roots) removeFixture(r);
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'affinityd-serial-'));
  tmpDirs.push(d);
  return d;
}

// ---------------------------------------------------------------------------------------
// Fixture: a 4-CPU machine with an xHCI (MSI, IRQ 40 in use, 41-42 allocated but idle), an
// EHCI on a legacy line (IRQ 23), 8250 ports (a real one, an empty slot, a polled one, a
// closed one) and USB serial adapters under the controllers.

const XHCI = '0000:00:14.0';
const EHCI = '0000:00:1d.0';
const FTDI_ID = 'usb-FTDI_FT232R_USB_UART_A1B2C3-if00-port0';

interface UsbSerial {
  hc: string;
  bus: number;
  port: string;
  tty: string;
  vendor: string;
  product: string;
  serial?: string;
  manufacturer?: string;
  byId?: string;
}

function spec(): FixtureSpec {
  return {
    sockets: 1,
    coresPerSocket: 4,
    threadsPerCore: 1,
    nodes: 1,
    platform: 'kvm',
    otherIrqs: [
      { irq: 4, name: 'ttyS0', hwirq: 4 },
      { irq: 23, name: 'ehci_hcd:usb2', hwirq: 23, flow: 'fasteoi' },
      { irq: 40, name: 'xhci_hcd', pci: XHCI },
    ],
    pciDevices: [
      { pci: XHCI, driver: 'xhci_hcd', class: '0x0c0330' },
      { pci: EHCI, driver: 'ehci-pci', class: '0x0c0320' },
    ],
  };
}

function addUart(w: TreeWriter, tty: string, devDir: string, irq: number, type: number): void {
  const dir = `${devDir}/tty/${tty}`;
  w.file(`${dir}/irq`, `${irq}\n`);
  w.file(`${dir}/type`, `${type}\n`);
  w.file(`${dir}/uevent`, `MAJOR=4\nMINOR=64\nDEVNAME=${tty}\n`);
  w.dir(devDir);
  w.link(`${dir}/device`, devDir);
  w.link(`/sys/class/tty/${tty}`, dir);
}

function addUsbSerial(w: TreeWriter, u: UsbSerial): void {
  const dev = `/sys/devices/pci0000:00/${u.hc}/usb${u.bus}/${u.port}`;
  w.file(`${dev}/idVendor`, `${u.vendor}\n`);
  w.file(`${dev}/idProduct`, `${u.product}\n`);
  if (u.serial !== undefined) w.file(`${dev}/serial`, `${u.serial}\n`);
  if (u.manufacturer !== undefined) w.file(`${dev}/manufacturer`, `${u.manufacturer}\n`);
  const iface = `${dev}/${u.port}:1.0`;
  // usb-serial (ttyUSB) puts a port device between the interface and the tty; cdc-acm does not.
  const portDev = u.tty.startsWith('ttyUSB') ? `${iface}/${u.tty}` : iface;
  const dir = `${portDev}/tty/${u.tty}`;
  w.file(`${dir}/uevent`, `MAJOR=188\nMINOR=0\nDEVNAME=${u.tty}\n`);
  w.link(`${dir}/device`, portDev);
  w.link(`/sys/class/tty/${u.tty}`, dir);
  if (u.byId !== undefined) {
    // udev's links are plain relative symlinks into /dev.
    w.dir('/dev/serial/by-id');
    fs.symlinkSync(`../../${u.tty}`, w.abs(`/dev/serial/by-id/${u.byId}`));
  }
}

const FTDI: UsbSerial = { hc: XHCI, bus: 1, port: '1-1', tty: 'ttyUSB0', vendor: '0403', product: '6001', serial: 'A1B2C3', manufacturer: 'FTDI', byId: FTDI_ID };
const GPS: UsbSerial = { hc: XHCI, bus: 1, port: '1-2', tty: 'ttyUSB1', vendor: '1546', product: '01A8', serial: 'GPS123', byId: 'usb-u-blox_AG_GNSS_receiver-if00' };
const MODEM: UsbSerial = { hc: EHCI, bus: 2, port: '2-1', tty: 'ttyACM0', vendor: '2c7c', product: '0125' };

function machine(usb: UsbSerial[] = [FTDI, GPS, MODEM]): string {
  const root = buildFixture(spec());
  roots.push(root);
  const w = new TreeWriter(root);
  addUart(w, 'ttyS0', '/sys/devices/pnp0/00:00/00:00:0/00:00:0.0', 4, 4);
  addUart(w, 'ttyS1', '/sys/devices/platform/serial8250', 3, 0); // empty slot: PORT_UNKNOWN
  addUart(w, 'ttyS2', '/sys/devices/platform/serial8250.1', 0, 4); // polled
  addUart(w, 'ttyS3', '/sys/devices/pnp0/00:02', 3, 4); // real, but IRQ 3 not requested (closed)
  // A virtual console: no device link.
  w.file('/sys/devices/virtual/tty/tty1/uevent', 'MAJOR=4\nMINOR=1\nDEVNAME=tty1\n');
  w.link('/sys/class/tty/tty1', '/sys/devices/virtual/tty/tty1');
  // xHCI allocated more vectors than it requested.
  for (const idle of [41, 42]) w.file(`/sys/devices/pci0000:00/${XHCI}/msi_irqs/${idle}`, 'msix\n');
  w.file(`/sys/devices/pci0000:00/${EHCI}/irq`, '23\n');
  for (const u of usb) addUsbSerial(w, u);
  return root;
}

const port = (ports: SerialPortInfo[], p: string): SerialPortInfo => {
  const hit = ports.find((x) => x.path === p);
  assert.ok(hit, `no port ${p} in ${ports.map((x) => x.path).join(', ')}`);
  return hit;
};

// ---------------------------------------------------------------------------------------

describe('[serial:*] policy sections', () => {
  test('parse: match keys, strategy defaults to pin, by-id paths lose their directory', () => {
    const p = parsePolicy(
      [
        '[serial:console]',
        'match-path = /dev/ttyS0',
        'pin = 0',
        '[serial:ftdi]',
        'match-by-id = /dev/serial/by-id/usb-FTDI_*',
        'match-usb-id = 0403:6001, 0403:60*',
        'match-serial = A1B2C3',
        'strategy = pin',
        'pin = 2-3',
        '[serial:modem]',
        'match-usb-id = 2C7C:*',
        'strategy = ignore',
      ].join('\n'),
      F,
    );
    assert.deepEqual(
      p.serialSections?.map((s) => [s.name, s.match, s.strategy, s.pin, s.line]),
      [
        ['serial:console', { path: ['/dev/ttyS0'] }, 'pin', [0], 1],
        ['serial:ftdi', { byId: ['usb-FTDI_*'], usbId: ['0403:6001', '0403:60*'], serial: ['A1B2C3'] }, 'pin', [2, 3], 4],
        ['serial:modem', { usbId: ['2c7c:*'] }, 'ignore', null, 10],
      ],
    );
    // Serial sections are a list of their own: [net:*]/[irq:*] matching never sees them.
    assert.deepEqual(p.sections, []);
  });

  test('a policy without serial sections keeps its earlier shape (no serialSections key)', () => {
    assert.equal('serialSections' in parsePolicy('[cpus]\nexclude-cpus = 1', F), false);
  });

  test('errors name file:line, section and key', () => {
    const msg = (t: string): string => {
      try {
        parsePolicy(t, F);
      } catch (e) {
        assert.ok(e instanceof PolicyError);
        assert.ok(!e.message.includes('\n'));
        return e.message;
      }
      return assert.fail('expected an error');
    };
    assert.equal(msg('[serial:a]\nmatch-path = /dev/ttyS0'), `${F}:1: [serial:a] pin: required: the CPUs for the port's IRQ (a cpulist, e.g. pin = 1), or strategy = ignore`);
    assert.equal(msg('[serial:a]\nmatch-path = /dev/ttyS0\nstrategy = spread\npin = 1'), `${F}:3: [serial:a] strategy: expected one of pin, ignore, got 'spread'`);
    assert.equal(
      msg('[serial:a]\nmatch-path = /dev/ttyS0\nstrategy = ignore\npin = 1'),
      `${F}:4: [serial:a] pin: only used with strategy = pin, but strategy is 'ignore' (remove pin or set strategy = pin)`,
    );
    assert.equal(msg('[serial:a]\npin = 1'), `${F}:1: [serial:a]: no match-path, match-by-id, match-usb-id, match-serial key: the section would match nothing`);
    assert.equal(
      msg('[serial:a]\nmatch-path = ttyUSB0\npin = 1'),
      `${F}:2: [serial:a] match-path: device path 'ttyUSB0': expected a device path starting with '/', e.g. /dev/ttyUSB0 (globs allowed)`,
    );
    assert.equal(
      msg('[serial:a]\nmatch-usb-id = 0403\npin = 1'),
      `${F}:2: [serial:a] match-usb-id: USB id '0403': expected vendor:product in hex, e.g. 0403:6001 (globs allowed: 0403:*)`,
    );
    assert.equal(
      msg('[serial:a]\nmatch-usb-id = 403:6001\npin = 1'),
      `${F}:2: [serial:a] match-usb-id: USB id '403:6001': expected four hex digits on each side, e.g. 0403:6001`,
    );
    assert.match(msg('[serial:a]\nmatch-by-id = /dev/x/usb-1\npin = 1'), /^.*:2: \[serial:a\] match-by-id: by-id link name '\/dev\/x\/usb-1': a link name has no '\/'/);
    assert.equal(msg('[serial:a]\nmatch-pth = /x\nstrategy = ignore'), `${F}:1: [serial:a]: no match-path, match-by-id, match-usb-id, match-serial key: the section would match nothing`);
    assert.equal(validatePolicy('[serial:a]\nmatch-pth = /x\nstrategy = ignore', F)[1]?.message, `${F}:2: [serial:a] match-pth: unknown key (did you mean 'match-path'?)`);
    assert.equal(msg('[serial:a]\nmatch-path = /x\npin = 1\nrps = on'), `${F}:4: [serial:a] rps: not valid in [serial:<label>] sections (it belongs in [defaults] or [net:<label>])`);
    assert.equal(msg('[net:a]\nmatch-usb-id = 0403:6001'), `${F}:1: [net:a]: no match-name, match-driver, match-pci, match-mac key: the section would match nothing`);
    assert.equal(validatePolicy('[net:a]\nmatch-name = a\nmatch-usb-id = 0403:6001', F)[0]?.message, `${F}:3: [net:a] match-usb-id: not valid in [net:<label>] sections (it belongs in [serial:<label>])`);
    assert.equal(msg('match-path = /dev/ttyS0'), `${F}:1: match-path: key outside any [section] (it belongs in [serial:<label>])`);
    assert.equal(msg('[serail:gps]\nmatch-path = /x\npin = 1'), `${F}:1: [serail:gps]: unknown section (did you mean '[serial:gps]'?)`);
  });

  test('drop-ins layer key by key; formatPolicy round-trips; a hand-built policy layers too', () => {
    const main = parsePolicy('[serial:gps]\nmatch-usb-id = 1546:*\npin = 1\n[serial:console]\nmatch-path = /dev/ttyS0\npin = 0', 'main.ini');
    const p = parsePolicy('[serial:gps]\nstrategy = ignore', 'drop.ini', main);
    // Re-declared in the drop-in → matches after [serial:console]; the pin went with the strategy.
    assert.deepEqual(p.serialSections?.map((s) => [s.name, s.strategy, s.pin, s.match]), [
      ['serial:console', 'pin', [0], { path: ['/dev/ttyS0'] }],
      ['serial:gps', 'ignore', null, { usbId: ['1546:*'] }],
    ]);
    const strip = (x: Policy): unknown => ({ ...x, files: [], serialSections: x.serialSections?.map((s) => ({ ...s, file: '', line: 0 })) });
    assert.deepEqual(strip(parsePolicy(formatPolicy(p), 'f.ini')), strip(p));
    const hand: Policy = JSON.parse(JSON.stringify(main));
    assert.deepEqual(parsePolicy('[serial:console]\npin = 1', 'x.ini', hand).serialSections?.map((s) => [s.name, s.pin]), [
      ['serial:gps', [1]],
      ['serial:console', [1]],
    ]);
  });

  test('the shipped ini documents every serial key, and its serial examples are valid', () => {
    const shipped = shippedPolicyPath()!;
    const text = fs.readFileSync(shipped, 'utf8');
    for (const k of SERIAL_KEYS) assert.match(text, new RegExp(`^;?${k.key} =`, 'm'), `key '${k.key}' is not documented`);
    assert.ok(text.includes('[serial:<label>]'));
    // The commented [serial:*] blocks, uncommented, parse.
    const blocks = text.slice(text.indexOf(';[serial:'));
    const p = parsePolicy(blocks.split('\n').map((l) => l.replace(/^;(?=[[a-z])/, '')).join('\n'), 'examples.ini');
    assert.deepEqual(p.serialSections?.map((s) => s.name), ['serial:console', 'serial:gps', 'serial:modems']);
  });

  test('matching: AND across keys, OR inside a list, last match wins; by-id paths count as paths', () => {
    const p = parsePolicy(
      [
        '[serial:usb]',
        'match-path = /dev/ttyUSB*',
        'pin = 1',
        '[serial:ftdi]',
        'match-usb-id = 0403:*',
        'match-serial = A1*',
        'pin = 2',
        '[serial:by-link]',
        `match-path = /dev/serial/by-id/usb-u-blox*`,
        'pin = 3',
      ].join('\n'),
      F,
    );
    const id = (over: Partial<SerialPortInfo>) => ({ path: '/dev/ttyUSB5', byId: [], vendorId: null, productId: null, serialNumber: null, ...over });
    assert.equal(matchSerialSection(p, id({}))?.name, 'serial:usb');
    assert.equal(matchSerialSection(p, id({ vendorId: '0403', productId: '6001', serialNumber: 'A1B2C3' }))?.name, 'serial:ftdi');
    assert.equal(matchSerialSection(p, id({ vendorId: '0403', productId: '6001', serialNumber: 'ZZ' }))?.name, 'serial:usb', 'match-serial must match too');
    assert.equal(matchSerialSection(p, id({ path: '/dev/ttyACM0', byId: ['usb-u-blox_AG-if00'] }))?.name, 'serial:by-link');
    assert.equal(matchSerialSection(p, id({ path: '/dev/ttyS0' })), null);
  });
});

describe('enumeration from sysfs (fixture trees)', () => {
  test('real ports only, with USB ids, by-id links and the IRQs that serve them', async () => {
    const root = machine();
    const { ports, source, notes } = await enumerateSerialPorts({ root });
    // root != '/' always reads sysfs: udev only knows the host's devices.
    assert.equal(source, 'sysfs');
    assert.deepEqual(notes, []);
    assert.deepEqual(ports.map((p) => p.path), ['/dev/ttyACM0', '/dev/ttyS0', '/dev/ttyS2', '/dev/ttyS3', '/dev/ttyUSB0', '/dev/ttyUSB1']);

    const ftdi = port(ports, '/dev/ttyUSB0');
    assert.deepEqual(
      { ...ftdi, device: undefined },
      {
        path: '/dev/ttyUSB0',
        name: 'ttyUSB0',
        bus: 'usb',
        device: undefined,
        byId: [FTDI_ID],
        vendorId: '0403',
        productId: '6001',
        serialNumber: 'A1B2C3',
        manufacturer: 'FTDI',
        pci: XHCI,
        irqs: [40], // 41 and 42 are allocated but have no handler
        irqSource: `msi_irqs of ${XHCI}`,
      },
    );
    assert.equal(ftdi.device, `/sys/devices/pci0000:00/${XHCI}/usb1/1-1/1-1:1.0/ttyUSB0`);
    assert.equal(port(ports, '/dev/ttyUSB1').productId, '01a8', 'ids are lower-cased');

    const acm = port(ports, '/dev/ttyACM0');
    assert.deepEqual([acm.bus, acm.pci, acm.irqs, acm.irqSource, acm.serialNumber, acm.byId], ['usb', EHCI, [23], `irq of ${EHCI}`, null, []]);

    const s0 = port(ports, '/dev/ttyS0');
    assert.deepEqual([s0.bus, s0.irqs, s0.irqSource, s0.vendorId, s0.pci], ['uart', [4], 'ttyS0/irq', null, null]);
    assert.deepEqual(port(ports, '/dev/ttyS2').irqs, [], 'polled');
    assert.match(port(ports, '/dev/ttyS2').irqSource, /polled/);
  });

  test('the snapshot carries the same ports', () => {
    const root = machine();
    const snap = takeSnapshot(root);
    assert.deepEqual(snap.serial?.map((p) => [p.path, p.irqs]), readSysfsPorts(new FsRoot(root), new Set(snap.irqs.map((i) => i.irq))).map((p) => [p.path, p.irqs]));
    assert.deepEqual(port(snap.serial!, '/dev/ttyUSB0').irqs, [40]);
  });

  test('bindings data only fills gaps; sysfs decides which ports exist', () => {
    const root = machine();
    const ports = readSysfsPorts(new FsRoot(root), new Set([4, 23, 40]));
    const merged = mergeBindings(ports, [
      { path: '/dev/ttyACM0', manufacturer: 'Quectel', serialNumber: 'Q1', pnpId: 'usb-Quectel_EG25-if00', vendorId: '2c7c', productId: '0125' },
      { path: '/dev/ttyUSB0', serialNumber: 'OTHER', pnpId: FTDI_ID },
      { path: '/dev/ttyS31' }, // udev lists every 8250 slot; sysfs says there is no UART
    ]);
    assert.deepEqual(merged.map((p) => p.path), ports.map((p) => p.path));
    const acm = port(merged, '/dev/ttyACM0');
    assert.deepEqual([acm.manufacturer, acm.serialNumber, acm.byId], ['Quectel', 'Q1', ['usb-Quectel_EG25-if00']]);
    const ftdi = port(merged, '/dev/ttyUSB0');
    assert.deepEqual([ftdi.serialNumber, ftdi.byId], ['A1B2C3', [FTDI_ID]]);
  });
});

describe('planning serial IRQs', () => {
  const policyOf = (text: string): Policy => parsePolicy(text, F);

  test('ports behind one controller: agreeing sections pin the shared IRQ; rows show the ports', () => {
    const root = machine();
    const snap = takeSnapshot(root);
    const p = plan(
      snap,
      policyOf(`[serial:ftdi]\nmatch-by-id = usb-FTDI_*\npin = 2\n[serial:gps]\nmatch-usb-id = 1546:01a8\nmatch-serial = GPS123\npin = 2\n[serial:console]\nmatch-path = /dev/ttyS0\npin = 1`),
    );
    const row = (irq: number) => p.irqs.find((i) => i.irq === irq)!;
    assert.deepEqual([row(40).desired, row(40).serial, row(40).policy], [[2], '/dev/ttyUSB0, /dev/ttyUSB1', 'serial:ftdi, serial:gps']);
    assert.equal(row(40).reason, `pin 2 (serial:ftdi: /dev/ttyUSB0 via ${XHCI}; serial:gps: /dev/ttyUSB1 via ${XHCI})`);
    assert.deepEqual([row(4).desired, row(4).reason, row(4).serial], [[1], 'pin 1 (serial:console: /dev/ttyS0)', '/dev/ttyS0']);
    // Not matched by any section: left alone, but the row still says which port it serves.
    assert.deepEqual([row(23).desired, row(23).serial, row(23).policy], [null, '/dev/ttyACM0', null]);
    assert.deepEqual(p.warnings, []);

    const json = planJson(p) as { irqs: Record<string, unknown>[] };
    assert.equal(json.irqs.find((i) => i.irq === 40)?.serial, '/dev/ttyUSB0, /dev/ttyUSB1');
    assert.ok(json.irqs.filter((i) => ![4, 23, 40].includes(i.irq as number)).every((i) => !('serial' in i)), 'rows of other IRQs keep their shape');
    const line = planText(p).split('\n').find((l) => l.startsWith('4 '))!;
    assert.match(line, /^4\s+ttyS0\s+-\s+\/dev\/ttyS0\s/);
  });

  test('conflicting sections for two ports behind one controller: the IRQ is left alone and reported, whatever the order', () => {
    const root = machine();
    const snap = takeSnapshot(root);
    const text = `[serial:ftdi]\nmatch-usb-id = 0403:6001\npin = 1\n[serial:gps]\nmatch-usb-id = 1546:*\npin = 2`;
    const p = plan(snap, policyOf(text));
    const row = p.irqs.find((i) => i.irq === 40)!;
    const reason = 'conflict on a shared IRQ: serial:ftdi wants 1 for /dev/ttyUSB0, serial:gps wants 2 for /dev/ttyUSB1; left alone';
    assert.deepEqual([row.desired, row.reason, row.policy], [null, reason, 'serial:ftdi, serial:gps']);
    assert.deepEqual(p.warnings, [`irq 40 (/dev/ttyUSB0, /dev/ttyUSB1): ${reason}`]);
    // Same answer with the sections swapped and the ports listed in another order.
    const swapped = policyOf(`[serial:gps]\nmatch-usb-id = 1546:*\npin = 2\n[serial:ftdi]\nmatch-usb-id = 0403:6001\npin = 1`);
    const again = planSerial(snap, swapped, [0, 1, 2, 3], [...snap.serial!].reverse());
    assert.deepEqual(again.irqs.get(40), { desired: null, reason, policy: 'serial:ftdi, serial:gps', serial: '/dev/ttyUSB0, /dev/ttyUSB1' });
    // ignore vs pin on one IRQ is a conflict too.
    const mixed = planSerial(snap, policyOf(`[serial:a]\nmatch-path = /dev/ttyUSB0\nstrategy = ignore\n[serial:b]\nmatch-path = /dev/ttyUSB1\npin = 3`), [0, 1, 2, 3]);
    assert.match(mixed.irqs.get(40)!.reason, /serial:a wants it left alone for \/dev\/ttyUSB0, serial:b wants 3/);
  });

  test('a pass given no port list (udev\'s) plans from the snapshot\'s own sysfs view of the ports', () => {
    const root = machine();
    const policy = policyOf('[serial:console]\nmatch-path = /dev/ttyS0\npin = 1');
    const r = reconcile({ root, policy, state: emptyState(), trigger: 't', dryRun: true });
    const w = r.report.changes.find((c) => c.write.target === 'irq/4');
    assert.deepEqual([w?.write.new, w?.outcome], ['1', 'dry-run']);
  });

  test('the Reconciler lists the ports for a [serial:*] section and plans with them, in a preview and a pass', async () => {
    const r = new Reconciler({ root: machine(), policy: policyOf('[serial:console]\nmatch-path = /dev/ttyS0\npin = 1') });
    assert.deepEqual((await r.preview()).plan.irqs.find((i) => i.irq === 4)?.desired, [1]);
    const w = (await r.pass('t', { dryRun: true })).report.changes.find((c) => c.write.target === 'irq/4');
    assert.equal(w?.write.new, '1');
  });

  test('[serial:*] beats [irq:*] on the IRQs it resolves; ignore leaves them alone', () => {
    const snap = takeSnapshot(machine());
    const p = plan(snap, policyOf('[irq:uarts]\nmatch-irq = ttyS*\nstrategy = pin\npin = 3\n[serial:console]\nmatch-path = /dev/ttyS0\nstrategy = ignore'));
    const row = p.irqs.find((i) => i.irq === 4)!;
    assert.deepEqual([row.desired, row.reason, row.policy], [null, 'ignore (serial:console: /dev/ttyS0)', 'serial:console']);
  });

  test('polled, closed and unplaceable ports give warnings, not rows', () => {
    const snap = takeSnapshot(machine());
    const p = plan(snap, policyOf('[cpus]\nexclude-cpus = 3\n[serial:polled]\nmatch-path = /dev/ttyS2\npin = 1\n[serial:closed]\nmatch-path = /dev/ttyS3\npin = 1\n[serial:gone]\nmatch-path = /dev/ttyACM0\npin = 3'));
    assert.deepEqual(p.warnings, [
      'serial:gone: /dev/ttyACM0: pin 3: none of these CPUs is allowed and online; left alone',
      'serial:polled: /dev/ttyS2: ttyS2/irq is 0: the port is polled, it has no IRQ; nothing to pin',
      'serial:closed: /dev/ttyS3: IRQ 3 has no handler yet (port not open?); it is placed on the first pass after it appears',
    ]);
    assert.equal(p.irqs.find((i) => i.irq === 23)!.desired, null);
  });

  test('re-plugged adapter: a new tty name on another controller is still matched by what it is', () => {
    // Last match wins: the by-id section (after the path one) decides whenever it matches.
    const reordered = policyOf(`[serial:by-path]\nmatch-path = /dev/ttyUSB0\npin = 1\n[serial:ftdi]\nmatch-by-id = usb-FTDI_FT232R_USB_UART_A1B2C3-*\npin = 2`);
    // Before: ttyUSB0 on the xHCI.
    const before = plan(takeSnapshot(machine()), reordered);
    assert.deepEqual(before.irqs.find((i) => i.irq === 40)!.desired, [2]);
    // After: unplugged, plugged into the EHCI port, enumerated as ttyUSB3 (IRQ 23).
    const after = plan(takeSnapshot(machine([{ ...FTDI, hc: EHCI, bus: 2, port: '2-4', tty: 'ttyUSB3' }])), reordered);
    assert.deepEqual([after.irqs.find((i) => i.irq === 23)!.desired, after.irqs.find((i) => i.irq === 23)!.serial], [[2], '/dev/ttyUSB3']);
    assert.deepEqual(after.irqs.find((i) => i.irq === 40)!.desired, null, 'nothing left on the xHCI');
    // A path section would have followed the name, not the adapter.
    const byPath = plan(takeSnapshot(machine([{ ...FTDI, hc: EHCI, bus: 2, port: '2-4', tty: 'ttyUSB3' }])), policyOf('[serial:p]\nmatch-path = /dev/ttyUSB0\npin = 1'));
    assert.ok(byPath.irqs.every((i) => i.desired === null));
  });
});

describe('the Reconciler and the port lists (udev\'s stood in for by a list seam)', () => {
  const policyOf = (text: string): Policy => parsePolicy(text, F);
  const console1 = '[serial:console]\nmatch-path = /dev/ttyS0\npin = 1';
  const change = (r: { report: { changes: { write: { target: string; new: string } }[] } }, target: string): string | undefined => r.report.changes.find((c) => c.write.target === target)?.write.new;

  test('a [serial:*] section matches what only udev knows, in a preview and in a pass', async () => {
    const root = machine();
    // cdc-acm: sysfs shows no serial number for the modem; udev's database has one.
    const policy = policyOf('[serial:modem]\nmatch-serial = Q1\npin = 3');
    let calls = 0;
    const udev = async () => {
      calls++;
      return [{ path: '/dev/ttyACM0', serialNumber: 'Q1', pnpId: 'usb-Quectel_EG25-if00', vendorId: '2c7c', productId: '0125' }];
    };
    const r = new Reconciler({ root, policy, serialList: udev });
    const row = (await r.preview()).plan.irqs.find((i) => i.irq === 23)!;
    assert.deepEqual([row.desired, row.serial, row.policy], [[3], '/dev/ttyACM0', 'serial:modem']);
    assert.equal(change(await r.pass('t', { dryRun: true }), 'irq/23'), '3');
    assert.equal(calls, 2, 'udev is asked once per preview and once per pass');
    // The sysfs view alone does not know the serial number: nothing matches.
    assert.equal((await new Reconciler({ root, policy }).preview()).plan.irqs.find((i) => i.irq === 23)!.desired, null);
  });

  test('without [serial:*] sections udev is never asked, and no pass reads ports (the drift check\'s snapshot included)', async () => {
    const root = machine();
    const policy = policyOf('');
    let calls = 0;
    const udev = async () => {
      calls++;
      return [];
    };
    const r = new Reconciler({ root, policy, serialList: udev });
    r.drift();
    const start = await r.pass('start', { dryRun: true });
    const own = await new Reconciler({ root, policy, serialList: udev }).pass('own', { dryRun: true });
    const preview = await r.preview();
    assert.equal(calls, 0, 'udevadm costs a pass ~70 ms: only for a section that can use it');
    assert.deepEqual(own.snapshot.serial, []);
    assert.deepEqual(start.snapshot, own.snapshot, 'the start pass planned from the drift check\'s snapshot: the same picture');
    assert.deepEqual(preview.snapshot, own.snapshot);
  });

  test('the agent\'s start with a [serial:*] section: the drift check reads no ports, so the first pass reads its own', async () => {
    const root = machine();
    const r = new Reconciler({ root, policy: policyOf('[serial:ftdi]\nmatch-serial = A1B2C3\npin = 2') });
    assert.deepEqual(r.drift(), []);
    const start = await r.pass('start', { dryRun: true });
    assert.equal(change(start, 'irq/40'), '2');
    assert.deepEqual(start.snapshot.serial?.map((p) => p.path), ['/dev/ttyACM0', '/dev/ttyS0', '/dev/ttyS2', '/dev/ttyS3', '/dev/ttyUSB0', '/dev/ttyUSB1'], 'the tree\'s ports, not the host\'s');
  });

  test('a udev list that fails: the sysfs view is planned with, and the note is given once per Reconciler (a listener is optional)', async () => {
    const root = machine();
    const policy = policyOf(console1);
    const failing = () => Promise.reject(new Error('No native build was found'));
    const notes: string[] = [];
    const r = new Reconciler({ root, policy, serialList: failing, note: (n) => notes.push(n) });
    assert.deepEqual((await r.preview()).plan.irqs.find((i) => i.irq === 4)?.desired, [1]);
    assert.equal(change(await r.pass('t', { dryRun: true }), 'irq/4'), '1');
    await r.pass('again', { dryRun: true });
    assert.deepEqual(notes, ['serial ports: listing failed (No native build was found); reading /sys/class/tty instead']);
    const quiet = new Reconciler({ root, policy, serialList: failing });
    assert.equal(change(await quiet.pass('t', { dryRun: true }), 'irq/4'), '1');
  });
});

describe('agent trigger', () => {
  test('a tty add uevent for ttyUSB0 is a relevant event; a virtual console is not', () => {
    const dg = (action: string, devpath: string, name: string): Buffer =>
      Buffer.from(`${action}@${devpath}\0ACTION=${action}\0DEVPATH=${devpath}\0SUBSYSTEM=tty\0MAJOR=188\0MINOR=0\0DEVNAME=${name}\0SEQNUM=4242\0`);
    for (const action of ['add', 'remove'] as const) {
      const u = parseUevent(dg(action, `/devices/pci0000:00/${XHCI}/usb1/1-1/1-1:1.0/ttyUSB0/tty/ttyUSB0`, 'ttyUSB0'));
      assert.ok(u.ok);
      const e = ueventToEvent(u);
      assert.deepEqual(e, { kind: 'tty', action, name: 'ttyUSB0' });
      assert.equal(isRelevant(e!), true);
    }
    assert.equal(isRelevant({ kind: 'tty', action: 'add', name: 'ttyACM0' }), true);
    assert.equal(isRelevant({ kind: 'tty', action: 'add', name: 'tty7' }), false);
  });
});
