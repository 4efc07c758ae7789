// agent/pipeline — the RxJS operators between event sources and re-plan passes (pure
// scheduling logic; marble-tested in virtual time in test/pipeline.test.ts).
//
// Events are triggers, not state: every pass rescans the whole system, so all a burst has to
// produce is a pass at once and at most one more after it. Two operators:
//   coalesce(settle, maxWait)  the leading edge: an event after `settle` ms of quiet (no event,
//                              and no pass running or ended, in that time) is emitted alone at
//                              once (the agent reacts at the kernel's pace, not a settle window
//                              later) — unless a coalesced batch closed less than `maxWait` ms
//                              ago: a flood with short gaps stays one burst instead of a
//                              leading pass per gap; the rest of the burst is folded into a
//                              bounded Batch, closed when it has been quiet for `settle` ms or
//                              at the latest `maxWait` ms after it began (debounce alone could
//                              starve under a steady trickle). Memory stays flat whatever the
//                              event rate; a burst shorter than maxWait is at most 2 batches.
//   exclusivePasses(run)       never two passes at once (concatMap would queue one pass per
//                              batch; switchMap would cancel writes mid-apply); batches that
//                              arrive during a pass are merged into exactly one trailing pass.
//   react(settle, maxWait, run)   both, sharing a PassClock: a pass blocks the event loop, so
//                              events queued during it arrive late and would look like the
//                              first after a quiet period; counting the end of the last pass
//                              as activity keeps a flood from becoming a pass per event-loop turn.

import { Observable, Subject, asyncScheduler, auditTime, concatMap, connect, debounceTime, defer, filter, finalize, map, merge, mergeMap, reduce, tap, window, type OperatorFunction, type SchedulerLike } from 'rxjs';

/** What a pass is told about the events that caused it. */
export interface Batch<T> {
  /** First few events, in arrival order (bounded by MAX_KEPT). */
  events: T[];
  /** How many events the batch stands for. */
  count: number;
}

export const MAX_KEPT = 16;

export function emptyBatch<T>(): Batch<T> {
  return { events: [], count: 0 };
}

export function mergeBatches<T>(a: Batch<T>, b: Batch<T>): Batch<T> {
  return { events: [...a.events, ...b.events].slice(0, MAX_KEPT), count: a.count + b.count };
}

function fold<T>(b: Batch<T>, e: T): Batch<T> {
  if (b.events.length < MAX_KEPT) b.events.push(e);
  b.count++;
  return b;
}

/** When passes run (written by exclusivePasses, read by coalesce). */
export interface PassClock {
  running: boolean;
  /** scheduler.now() when the last pass ended (-Infinity: none yet). */
  endedAt: number;
}

export function passClock(): PassClock {
  return { running: false, endedAt: -Infinity };
}

export function coalesce<T>(settleMs: number, maxWaitMs: number, scheduler: SchedulerLike = asyncScheduler, clock: PassClock = passClock()): OperatorFunction<T, Batch<T>> {
  return (source) =>
    defer(() => {
      // Per subscription: when the last event arrived and the last coalesced batch closed. An
      // event is on the leading edge when the event before it and the end of the last pass are
      // at least settle ms old, and the last coalesced batch at least maxWait ms.
      let lastAt = -Infinity;
      let coalescedAt = -Infinity;
      const tagged = source.pipe(
        map((e) => {
          const now = scheduler.now();
          const leading = now - lastAt >= settleMs && now - coalescedAt >= maxWaitMs && !clock.running && now - clock.endedAt >= settleMs;
          lastAt = now;
          return { e, leading };
        }),
      );
      // Tagged once, then split: each event goes to exactly one of the two branches.
      return tagged.pipe(
        connect((shared) =>
          merge(
            shared.pipe(
              filter((t) => t.leading),
              map((t) => fold(emptyBatch<T>(), t.e)),
            ),
            shared.pipe(
              filter((t) => !t.leading),
              map((t) => t.e),
              trailing<T>(settleMs, maxWaitMs, scheduler),
              tap(() => (coalescedAt = scheduler.now())),
            ),
          ),
        ),
      );
    });
}

/** The rest of a burst: one batch once quiet for settle ms, or maxWait ms after it began. */
function trailing<T>(settleMs: number, maxWaitMs: number, scheduler: SchedulerLike): OperatorFunction<T, Batch<T>> {
  // connect(), not share(): it subscribes the closers before the source, so events a source
  // emits synchronously on subscribe still start the settle and maxWait timers.
  return connect((shared) => {
    const close$ = merge(shared.pipe(debounceTime(settleMs, scheduler)), shared.pipe(auditTime(maxWaitMs, scheduler)));
    return shared.pipe(
      window(close$),
      mergeMap((w) => w.pipe(reduce(fold<T>, emptyBatch<T>()))),
      // Both closers fire for a short burst; the second closes an empty window.
      filter((b) => b.count > 0),
    );
  });
}

export function exclusivePasses<T, R>(run: (batch: Batch<T>) => Observable<R>, scheduler: SchedulerLike = asyncScheduler, clock: PassClock = passClock()): OperatorFunction<Batch<T>, R> {
  return (source) =>
    defer(() => {
      let busy = false;
      let pending: Batch<T> | null = null;
      let sourceDone = false;
      const trailing$ = new Subject<Batch<T>>();
      // trailing$ has no end of its own: complete it once the source has ended and no pass
      // is running or owed, or the merge below (and the agent's stop) would never complete.
      const maybeComplete = (): void => {
        if (sourceDone && !busy && pending === null) trailing$.complete();
      };
      const start = (b: Batch<T>): boolean => {
        if (!busy) {
          busy = true;
          clock.running = true;
          return true;
        }
        pending = pending ? mergeBatches(pending, b) : b;
        return false;
      };
      const input = source.pipe(
        tap({
          complete: () => {
            sourceDone = true;
            maybeComplete();
          },
        }),
      );
      return merge(input, trailing$).pipe(
        filter(start),
        concatMap((b) =>
          run(b).pipe(
            finalize(() => {
              busy = false;
              clock.running = false;
              clock.endedAt = scheduler.now();
              const next = pending;
              pending = null;
              // Scheduled, not re-entrant: concatMap must have released the finished pass.
              if (next) scheduler.schedule(() => trailing$.next(next));
              else maybeComplete();
            }),
          ),
        ),
      );
    });
}

/** The agent's pipeline: leading-edge coalescing into exclusive passes, sharing a PassClock. */
export function react<T, R>(settleMs: number, maxWaitMs: number, run: (batch: Batch<T>) => Observable<R>, scheduler: SchedulerLike = asyncScheduler): OperatorFunction<T, R> {
  return (source) =>
    defer(() => {
      const clock = passClock();
      return source.pipe(coalesce<T>(settleMs, maxWaitMs, scheduler, clock), exclusivePasses(run, scheduler, clock));
    });
}
