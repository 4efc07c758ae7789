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
//                              at the latest `maxWait` ms after it began or after the last pass
//                              ended, whichever is later (debounce alone could starve under a
//                              steady trickle). Memory stays flat whatever the event rate; a
//                              burst delivered within maxWait of the leading pass's end is at
//                              most 2 batches.
//   exclusivePasses(run)       never two passes at once (concatMap would queue one pass per
//                              batch; switchMap would cancel writes mid-apply); batches that
//                              arrive during a pass are merged into exactly one trailing pass.
//   react(settle, maxWait, run)   both, sharing a PassClock: a pass blocks the event loop, so
//                              events queued during it arrive late and would look like the
//                              first after a quiet period; counting the end of the last pass
//                              as activity keeps a flood from becoming a pass per event-loop turn.

import { Observable, Subject, asyncScheduler, concatMap, defer, filter, finalize, merge, tap, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';

/** What a pass is told about the events that caused it. */
export interface Batch<T> {
  /** First few events, in arrival order (bounded by MAX_KEPT). */
  events: T[];
  /** How many events the batch stands for. */
  count: number;
}

export const MAX_KEPT = 16;

/**
 * maxWait, in settle windows. The bound exists so that a never-ending trickle of events still
 * gets a pass (debounce alone would wait for ever); the longer it is, the longer a flood may
 * take to arrive and still cost only the leading pass and one trailing pass. 5 (100 ms at the
 * default settle-ms) was too short on a loaded machine: the 100 000-event burst of
 * `npm run bench` took 199 ms to arrive at load 7 and cost 4 passes; 120-139 ms at load 9
 * cost 3. 10 keeps a pass at least every 200 ms under any flood.
 */
export const MAX_WAIT_SETTLES = 10;

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
  // One small state machine, not a chain of operators: every event of a flood goes through
  // it, and the composed version (map → connect → filter → debounceTime/auditTime → window →
  // reduce) cost ~0.5 µs an event here, enough for a 100 000-event burst to outlast maxWait on
  // its own; the maxWait rule below also reads the pass clock, which auditTime cannot.
  return (source) =>
    new Observable<Batch<T>>((out) => {
      // Per subscription: when the last event arrived, when the last coalesced batch closed,
      // and the coalesced batch being filled (the rest of a burst) with its two timers.
      let lastAt = -Infinity;
      let coalescedAt = -Infinity;
      let open: Batch<T> | null = null;
      let openedAt = 0;
      let lastFoldedAt = 0;
      let settleTimer: Subscription | null = null;
      let maxWaitTimer: Subscription | null = null;
      // The settle check's second look is due (see settleCheck).
      let confirming = false;
      const close = (): void => {
        confirming = false;
        settleTimer?.unsubscribe();
        maxWaitTimer?.unsubscribe();
        settleTimer = maxWaitTimer = null;
        const b = open;
        open = null;
        if (b) {
          coalescedAt = scheduler.now();
          out.next(b);
        }
      };
      // Quiet for settle ms: re-armed lazily (one timer per batch, not one per event), and
      // confirmed by a second look one event-loop turn later. A process that was not running
      // for a while (a loaded machine) runs its overdue timers before it reads the I/O that
      // queued up meanwhile: without the second look, the rest of a burst waiting in the socket
      // looked like a new burst (the 100 000-event bench burst cost 4 passes at load 7).
      const settleCheck = (): void => {
        const quiet = scheduler.now() - lastFoldedAt;
        if (quiet < settleMs) {
          confirming = false;
          settleTimer = scheduler.schedule(settleCheck, settleMs - quiet);
        } else if (confirming) close();
        else {
          confirming = true;
          settleTimer = scheduler.schedule(settleCheck, 0);
        }
      };
      // maxWait ms after the batch began or the last pass ended, whichever is later: a flood
      // that began with a leading pass gets maxWait after that pass to finish arriving, and a
      // trickle still gets a pass every pass + maxWait ms. A pass still running ends later
      // than now, so looking again maxWait ms from now is never late.
      const maxWaitCheck = (): void => {
        const now = scheduler.now();
        const due = clock.running ? now + maxWaitMs : Math.max(openedAt, clock.endedAt) + maxWaitMs;
        if (now >= due) close();
        else maxWaitTimer = scheduler.schedule(maxWaitCheck, due - now);
      };
      const sub = source.subscribe({
        next: (e) => {
          const now = scheduler.now();
          // The leading edge: no batch is open (an open batch is a burst still arriving, even
          // after a gap: see settleCheck), the event before it and the end of the last pass are
          // at least settle ms old, and the last coalesced batch at least maxWait ms.
          const leading = open === null && now - lastAt >= settleMs && now - coalescedAt >= maxWaitMs && !clock.running && now - clock.endedAt >= settleMs;
          lastAt = now;
          if (leading) {
            out.next(fold(emptyBatch<T>(), e));
            return;
          }
          if (open === null) {
            open = emptyBatch<T>();
            openedAt = now;
            settleTimer = scheduler.schedule(settleCheck, settleMs);
            maxWaitTimer = scheduler.schedule(maxWaitCheck, maxWaitMs);
          }
          lastFoldedAt = now;
          fold(open, e);
        },
        error: (err: unknown) => out.error(err),
        complete: () => {
          close();
          out.complete();
        },
      });
      return () => {
        sub.unsubscribe();
        settleTimer?.unsubscribe();
        maxWaitTimer?.unsubscribe();
      };
    });
}

export function exclusivePasses<T, R>(run: (batch: Batch<T>) => Observable<R>, scheduler: SchedulerLike = asyncScheduler, clock: PassClock = passClock()): OperatorFunction<Batch<T>, R> {
  return (source) =>
    defer(() => {
      let busy = false;
      /** Batches that arrived during the running pass (only ever set while busy). */
      let pending: Batch<T> | null = null;
      /** A trailing batch handed to the scheduler and not yet delivered to trailing$. */
      let owed = false;
      let sourceDone = false;
      const trailing$ = new Subject<Batch<T>>();
      // trailing$ has no end of its own: complete it once the source has ended and no pass
      // is running or owed, or the merge below (and the agent's stop) would never complete.
      // A stop that lands between a pass's end and the delivery of its trailing batch must
      // wait for that pass: a completed trailing$ would drop it without a word.
      const maybeComplete = (): void => {
        if (sourceDone && !busy && !owed) trailing$.complete();
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
              if (next) {
                owed = true;
                scheduler.schedule(() => {
                  owed = false;
                  trailing$.next(next);
                });
              } else maybeComplete();
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
