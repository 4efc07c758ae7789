// targets — the names of everything affinityd writes (IRQ masks, RPS/XPS, flow tables, a
// hot-added CPU's `online`), written once. They are the audit
// records' AFFINITYD_TARGET, the state file's keys (drift at start) and the applier's
// targets, so all three must spell them the same way: build them only here.

export type QueueKind = 'rps' | 'xps';

/** `irq/38`, `net/eth0/rx-0/rps`, `net/eth0/tx-1/xps`, `net/eth0/rx-0/rps_flow_cnt`, `sysctl/…`. */
export type Target = `irq/${number}` | `net/${string}/${'rx' | 'tx'}-${number}/${QueueKind | 'rps_flow_cnt'}` | `cpu/${number}/online` | typeof SOCK_FLOW_TARGET;

export const SOCK_FLOW_TARGET = 'sysctl/net.core.rps_sock_flow_entries';

export function irqTarget(irq: number): `irq/${number}` {
  return `irq/${irq}`;
}

/** The sysfs queue directory: RPS lives on rx-N, XPS on tx-N. */
export function queueDir(kind: QueueKind, queue: number): `${'rx' | 'tx'}-${number}` {
  return `${kind === 'rps' ? 'rx' : 'tx'}-${queue}`;
}

export function queueTarget(iface: string, kind: QueueKind, queue: number): Target {
  return `net/${iface}/${queueDir(kind, queue)}/${kind}`;
}

export function flowCntTarget(iface: string, queue: number): Target {
  return `net/${iface}/${queueDir('rps', queue)}/rps_flow_cnt`;
}

/** A hot-added CPU's `online` file ([cpus] online-hotplugged). */
export function cpuOnlineTarget(cpu: number): `cpu/${number}/online` {
  return `cpu/${cpu}/online`;
}
