// signals — process signals as Observables. SIGHUP is an agent event (reload the policy, then
// run a pass); SIGTERM/SIGINT end the life cycle, which the composition root owns, so they are
// a separate stream of signal names.
//
// While subscribed, Node's default action for the signal (terminate) is replaced by our
// listener; unsubscribing restores it. So subscribe termination$() before anything that can
// take time, and exit explicitly when it fires.

import { Observable, fromEvent, map, merge } from 'rxjs';
import type { AgentEvent } from './events.js';

/** The part of `process` used here, so tests can pass an EventEmitter. */
export type SignalSource = Pick<NodeJS.EventEmitter, 'addListener' | 'removeListener'>;

export function signals$(proc: SignalSource = process): Observable<AgentEvent> {
  return fromEvent(proc, 'SIGHUP').pipe(map((): AgentEvent => ({ kind: 'reload', reason: 'SIGHUP' })));
}

/** Emits "SIGTERM" or "SIGINT" each time one arrives. */
export function termination$(proc: SignalSource = process): Observable<string> {
  return merge(
    fromEvent(proc, 'SIGTERM').pipe(map(() => 'SIGTERM')),
    fromEvent(proc, 'SIGINT').pipe(map(() => 'SIGINT')),
  );
}
