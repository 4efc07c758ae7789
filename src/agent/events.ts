// events — the agent's trigger vocabulary: one discriminated union for everything that can
// make `affinityd run` look at the machine again (kernel uevents, rtnetlink link changes,
// signals, overruns, timers), plus the pure relevance filter and the one-line text the audit
// log records as the trigger of a pass.
//
// Events are triggers, not state: a pass rescans the system, so an event only has to say
// "something that can move IRQs, queues or CPUs happened". Fields are kept because they make
// the audit line useful, not because the planner trusts them.

export type AgentEvent =
  | { kind: 'cpu'; action: 'online' | 'offline' | 'add' | 'remove'; cpu: number }
  | { kind: 'net'; action: 'add' | 'remove' | 'move' | 'change'; ifname: string; ifindex: number | null; oldPath?: string }
  | { kind: 'queues'; action: 'add' | 'remove'; ifname: string; queue: string }
  | { kind: 'driver'; action: 'bind' | 'unbind'; subsystem: string; device: string; driver: string | null }
  | { kind: 'tty'; action: 'add' | 'remove'; name: string }
  | { kind: 'link'; type: 'new' | 'del'; ifindex: number; ifname: string | null; up: boolean; running: boolean }
  | { kind: 'resync'; reason: string }
  | { kind: 'reload'; reason: string };

export type AgentEventKind = AgentEvent['kind'];

/**
 * Buses whose bind/unbind can add or remove interrupt vectors we manage: a PCI function's
 * MSI-X table, a virtio transport's queues, platform/ACPI devices, auxiliary devices
 * (mlx5/ice sub-functions), Hyper-V and Xen paravirtual buses. Binds on other buses (usb,
 * hid, scsi, cpu, ...) never change /proc/irq: the IRQ belongs to their host controller.
 */
const IRQ_OWNING_BUSES = new Set(['pci', 'virtio', 'platform', 'acpi', 'auxiliary', 'vmbus', 'xen']);

/**
 * Serial tty names whose port owns an IRQ ([irq:serial] policies pin ttyS0 & co). Virtual
 * consoles (tty1), ptys and the like come and go without touching interrupts.
 */
const SERIAL_TTY = /^tty(S|AMA|AML|MFD|SC|USB|ACM|HS|THS|mxc|PS|LP|SAC)\d+$/;

/** Whether an event can change what the planner would decide (so it should trigger a pass). */
export function isRelevant(e: AgentEvent): boolean {
  switch (e.kind) {
    case 'cpu':
      // online/offline change the allowed set; add/remove (physical hotplug) change present.
      return true;
    case 'net':
      // 'change' uevents on netdevs report things like carrier/feature tweaks; the IRQ and
      // queue layout only moves with add/remove, and a rename (move) can switch which
      // name-matched policy section applies.
      return e.action !== 'change';
    case 'queues':
      // ethtool -L / real_num_*_queues changes: new rx-N/tx-N need RPS/XPS masks.
      return true;
    case 'driver':
      return IRQ_OWNING_BUSES.has(e.subsystem);
    case 'tty':
      return SERIAL_TTY.test(e.name);
    case 'link':
      // Many drivers (virtio_net, mlx5, ice) request their queue IRQs in ndo_open, so up and
      // down add and remove IRQs. Repeated RTM_NEWLINKs are coalesced by the caller.
      return true;
    case 'resync':
    case 'reload':
      return true;
  }
}

/** One short line naming the event: "cpu1 online", "eth2 add", "veth0 up". */
export function describeEvent(e: AgentEvent): string {
  switch (e.kind) {
    case 'cpu':
      return `cpu${e.cpu} ${e.action}`;
    case 'net':
      if (e.action === 'move' && e.oldPath !== undefined) {
        return `${e.ifname} move (was ${basename(e.oldPath)})`;
      }
      return `${e.ifname} ${e.action}`;
    case 'queues':
      return `${e.ifname} ${e.queue} ${e.action}`;
    case 'driver':
      return e.driver === null
        ? `${e.subsystem}:${e.device} ${e.action}`
        : `${e.subsystem}:${e.device} ${e.action} ${e.driver}`;
    case 'tty':
      return `${e.name} ${e.action}`;
    case 'link': {
      const name = e.ifname ?? `ifindex ${e.ifindex}`;
      if (e.type === 'del') return `${name} removed`;
      return `${name} ${e.up ? 'up' : 'down'}`;
    }
    case 'resync':
      return `resync (${e.reason})`;
    case 'reload':
      return `reload (${e.reason})`;
  }
}

function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? p : p.slice(i + 1);
}
