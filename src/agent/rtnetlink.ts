// rtnetlink — link changes (RTM_NEWLINK / RTM_DELLINK on RTNLGRP_LINK) as AgentEvents.
// Complements uevents: uevents say a netdev or queue appeared; link messages say it went up
// or down, which is when drivers such as virtio_net and mlx5 request or free their queue
// IRQs.

import { Observable, defer, filter, type MonoTypeOperatorFunction } from 'rxjs';
import { netlinkSource$ } from './netlink-source.js';
import type { AgentEvent } from './events.js';
import { openLinkSocket, type LinkHandlers, type NlHandle } from './netlink-adapter.js';

export interface LinkStats {
  received: number;
  emitted: number;
  /** Messages not sent by the kernel (sender port != 0). */
  droppedSender: number;
  /** Messages the codec could not decode (each also triggers a resync). */
  droppedInvalid: number;
  overruns: number;
  errors: number;
}

// Process-wide, monotonic (same reasoning as ueventStats).
const stats: LinkStats = { received: 0, emitted: 0, droppedSender: 0, droppedInvalid: 0, overruns: 0, errors: 0 };

export function linkStats(): LinkStats {
  return { ...stats };
}

export interface LinkSourceOptions {
  onDropped?: (why: string) => void;
  recvBufferSize?: number;
  /** Socket factory; the default opens an rtnetlink socket. Tests pass a fake. */
  open?: (h: LinkHandlers) => NlHandle;
}

/**
 * Every RTM_NEWLINK/RTM_DELLINK the kernel multicasts, with IFF_UP/IFF_RUNNING. ENOBUFS becomes
 * { kind: 'resync' }; other socket errors error the Observable. The kernel repeats NEWLINK
 * for changes we do not care about (MTU, address, stats): pipe through distinctLinkState()
 * to keep only changes of name, up or running.
 */
export function links$(opts: LinkSourceOptions = {}): Observable<AgentEvent> {
  const open = opts.open ?? ((h: LinkHandlers) => openLinkSocket(h, { recvBufferSize: opts.recvBufferSize }));
  // Only the kernel (port 0) is trusted; anything else is dropped and counted.
  const fromKernel = (from: { port: number }): boolean => {
    if (from.port === 0) return true;
    stats.droppedSender++;
    opts.onDropped?.(`rtnetlink message from userspace port ${from.port} dropped: only the kernel (port 0) is trusted`);
    return false;
  };
  return netlinkSource$('rtnetlink', stats, open, (next) => ({
    onLink(n, from) {
      stats.received++;
      if (!fromKernel(from)) return;
      stats.emitted++;
      next({ kind: 'link', type: n.type, ifindex: n.ifindex, ifname: n.ifname, up: n.up, running: n.running });
    },
    onInvalid(why, from) {
      stats.received++;
      if (!fromKernel(from)) return;
      stats.droppedInvalid++;
      opts.onDropped?.(why);
      // We cannot tell which link changed: let a full pass find out.
      next({ kind: 'resync', reason: 'undecodable rtnetlink message' });
    },
  }) satisfies Omit<LinkHandlers, 'onError'>);
}

/**
 * Drop link events that repeat the last known (name, up, running) of their ifindex; all other
 * events pass. State is per subscription and forgets an ifindex on its RTM_DELLINK.
 */
export function distinctLinkState(): MonoTypeOperatorFunction<AgentEvent> {
  return (source) =>
    defer(() => {
      const last = new Map<number, string>();
      return source.pipe(
        filter((e) => {
          if (e.kind !== 'link') return true;
          if (e.type === 'del') return last.delete(e.ifindex) || true;
          const key = `${e.ifname ?? ''}\0${e.up}\0${e.running}`;
          if (last.get(e.ifindex) === key) return false;
          last.set(e.ifindex, key);
          return true;
        }),
      );
    });
}
