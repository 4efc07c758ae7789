// netlink-source — the one wrapper that turns a netlink socket into an event source. uevents$
// and links$ differ only in what a datagram means; opening on subscribe, closing on
// unsubscribe, the overrun and error rules and their counters are here, once.

import { Observable } from 'rxjs';
import type { AgentEvent } from './events.js';
import type { NlHandle, NlSocketError } from './netlink-adapter.js';

/** The counters every source keeps beside its own (process-wide, monotonic). */
export interface SourceCounters {
  overruns: number;
  errors: number;
}

/**
 * An Observable over one netlink socket, opened on subscribe and closed on unsubscribe.
 * `handlers(next)` gives the socket's datagram callbacks, which emit through `next`; socket
 * errors are handled here: an overrun (ENOBUFS) is a value — { kind: 'resync' } — since the
 * stream goes on; any other error errors the Observable (the caller retries with backoff).
 * libuv reports a netlink socket's EPOLLERR (a pending overrun) as an error from poll, after
 * which the binding has closed the socket (`fatal`): resync, then error so that it re-opens.
 * `name` ("uevent", "rtnetlink") is for messages.
 */
export function netlinkSource$<H>(
  name: string,
  stats: SourceCounters,
  open: (h: H & { onError(err: NlSocketError): void }) => NlHandle,
  handlers: (next: (e: AgentEvent) => void) => H,
): Observable<AgentEvent> {
  return new Observable<AgentEvent>((subscriber) => {
    const next = (e: AgentEvent): void => subscriber.next(e);
    let handle: NlHandle;
    try {
      handle = open({
        ...handlers(next),
        onError(err: NlSocketError) {
          if (err.code === 'ENOBUFS' || err.fatal) {
            stats.overruns++;
            next({ kind: 'resync', reason: `${name} overrun` });
            if (!err.fatal) return;
          }
          stats.errors++;
          subscriber.error(new Error(`${name} socket: ${err.message} (${err.code})`));
        },
      });
    } catch (e) {
      subscriber.error(new Error(`cannot open ${name} socket: ${e instanceof Error ? e.message : String(e)}`));
      return;
    }
    return () => handle.close();
  });
}
