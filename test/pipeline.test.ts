// Marble tests for the agent's scheduling operators (src/agent/pipeline.ts) in virtual time:
// coalesce() emits the first event after a quiet period at once (leading edge) and turns the
// rest of a burst into one batch, and cannot be starved by a trickle; exclusivePasses()
// never runs two passes at once and folds everything that arrived during a pass into exactly
// one trailing pass; batches stay bounded however many events they stand for.
//
// Inside TestScheduler.run() the asyncScheduler the operators default to runs on the virtual
// clock, so `settle`/`maxWait` are exact frame numbers and nothing sleeps.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Observable, Subject, defer, finalize, map, of, takeUntil, tap, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import fc from 'fast-check';
import { MAX_KEPT, coalesce, emptyBatch, exclusivePasses, mergeBatches, react, type Batch } from '../src/agent/pipeline.js';
import { runs } from './helpers/runs.js';

const SETTLE = 20;
const MAX_WAIT = 5 * SETTLE;

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));
}

const batch = <T>(events: T[], count = events.length): Batch<T> => ({ events, count });

describe('coalesce(settle, maxWait)', () => {
  it('the first event after quiet is emitted at once; the rest of the burst is ONE batch, settle ms after its last event', () => {
    scheduler().run(({ hot, expectObservable }) => {
      // a at 0 (leading edge), b at 5, c at 10: quiet from 10, so the rest closes at 10 + 20 = 30.
      const src = hot<string>('a 4ms b 4ms c');
      expectObservable(src.pipe(coalesce<string>(SETTLE, MAX_WAIT)), '^ 300ms !').toBe('x 29ms y', {
        x: batch(['a']),
        y: batch(['b', 'c']),
      });
    });
  });

  it('a late settle timer does not split a burst: the I/O queued behind it joins the open batch', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      const src = new Subject<string>();
      expectObservable(src.pipe(coalesce<string>(SETTLE, MAX_WAIT)), '^ 300ms !').toBe('-a 40ms y', {
        a: batch(['a']),
        y: batch(['b', 'c']),
      });
      // a at 1 leads; b at 2 opens the batch and its settle timer (due at 22); c is queued after
      // that timer for the same instant: how a process that was not running meets an overdue
      // timer and the datagrams that arrived meanwhile. c is the same burst: one batch at 42.
      ts.schedule(() => src.next('a'), 1);
      ts.schedule(() => {
        src.next('b');
        ts.schedule(() => src.next('c'), SETTLE);
      }, 2);
    });
  });

  it('every late settle timer is looked at twice: two stalls in one burst, and a burst right after a coalesced batch', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      const src = new Subject<string>();
      const out = src.pipe(coalesce<string>(SETTLE, MAX_WAIT));
      // a at 1 leads. b at 2 opens a batch; c is queued behind its settle timer (22), d behind
      // the next one (42): one stalled burst, closed at 62. e at 70 (8 ms after that batch:
      // not a leading edge) opens a batch alone, f is queued behind its timer (90): closed at 110.
      expectObservable(out, '^ 300ms !').toBe('-a 60ms y 47ms z', { a: batch(['a']), y: batch(['b', 'c', 'd']), z: batch(['e', 'f']) });
      // Scheduled from a turn that runs after the instant's timers were armed, so that e sorts
      // behind the settle timer due SETTLE later (a stalled process meeting its timers first).
      const behindTimer = (e: string, then?: () => void): void => {
        ts.schedule(() =>
          ts.schedule(() => {
            src.next(e);
            then?.();
          }, SETTLE),
        );
      };
      ts.schedule(() => src.next('a'), 1);
      ts.schedule(() => {
        src.next('b');
        behindTimer('c', () => behindTimer('d'));
      }, 2);
      ts.schedule(() => {
        src.next('e');
        behindTimer('f');
      }, 70);
    });
  });

  it('a lone event is emitted at once, and so is the next one after settle ms of quiet', () => {
    scheduler().run(({ hot, expectObservable }) => {
      // a at 0, b at 20 (exactly settle later: quiet enough), c at 30 (10 ms after b: trailing).
      const src = hot<string>('a 19ms b 9ms c');
      expectObservable(src.pipe(coalesce<string>(SETTLE, MAX_WAIT)), '^ 300ms !').toBe('a 19ms b 29ms c', {
        a: batch(['a']),
        b: batch(['b']),
        c: batch(['c']),
      });
    });
  });

  it('no leading edge within maxWait of a coalesced batch: a flood with short gaps stays one burst', () => {
    scheduler().run(({ hot, expectObservable }) => {
      // a at 0 leads; b at 1 is coalesced, closing at 21; c at 50 follows 49 ms of quiet, but
      // only 29 ms after that batch: it is coalesced too (closing at 70).
      const src = hot<string>('ab 48ms c');
      expectObservable(src.pipe(coalesce<string>(SETTLE, MAX_WAIT)), '^ 300ms !').toBe('a 20ms b 48ms c', {
        a: batch(['a']),
        b: batch(['b']),
        c: batch(['c']),
      });
    });
  });

  it('two bursts separated by more than settle are two batches', () => {
    scheduler().run(({ hot, expectObservable }) => {
      // Burst 1: a at 0 at once, b closes at 1 + 20 = 21; burst 2: c at 130 (maxWait after
      // that batch) at once, d closes at 151. The maxWait timer that b started fires at 101 on
      // an empty window and must not emit.
      const src = hot<string>('ab 128ms cd');
      expectObservable(src.pipe(coalesce<string>(SETTLE, MAX_WAIT)), '^ 300ms !').toBe('a 20ms b 108ms c 20ms d', {
        a: batch(['a']),
        b: batch(['b']),
        c: batch(['c']),
        d: batch(['d']),
      });
    });
  });

  it('a steady trickle (one event every settle-1 ms) still emits by maxWait: no starvation', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // 10 events at 0, 19, 38, … 171: debounce never sees `settle` ms of quiet until the end.
      const gap = `${SETTLE - 1 - 1}ms`;
      const src = cold<string>(`0 ${gap} 1 ${gap} 2 ${gap} 3 ${gap} 4 ${gap} 5 ${gap} 6 ${gap} 7 ${gap} 8 ${gap} 9`);
      // 0 leads at once; maxWait closes the next window 100 ms after event 1 (19): at 119 with
      // events 1..6 (19..114); the rest close when quiet at 171 + 20 = 191.
      expectObservable(src.pipe(coalesce<string>(SETTLE, MAX_WAIT)), '^ 400ms !').toBe('l 118ms x 71ms y', {
        l: batch(['0']),
        x: batch(['1', '2', '3', '4', '5', '6']),
        y: batch(['7', '8', '9']),
      });
    });
  });

  it('an endless trickle emits every maxWait ms at the latest', () => {
    const ts = scheduler();
    ts.run(({ flush }) => {
      const at: number[] = [];
      const counts: number[] = [];
      timer(0, SETTLE - 1)
        .pipe(takeUntil(timer(2000)), coalesce<number>(SETTLE, MAX_WAIT))
        .subscribe((b) => {
          at.push(ts.now());
          counts.push(b.count);
        });
      flush();
      // The first event leads at once; then a batch closes maxWait after the first event of its
      // window: 119, 233, …
      assert.equal(at[0], 0);
      assert.equal(counts[0], 1);
      for (let i = 1; i < at.length - 1; i++) assert.ok(at[i]! - at[i - 1]! <= MAX_WAIT + SETTLE - 1, `gap ${at[i]! - at[i - 1]!}`);
      assert.ok(at.length >= 2000 / (MAX_WAIT + SETTLE) - 1, `${at.length} batches`);
      // No event lost: timer(0, 19) emits at 0, 19, …, 1995 before takeUntil fires at 2000.
      assert.equal(counts.reduce((a, b) => a + b, 0), Math.floor(1999 / (SETTLE - 1)) + 1);
    });
  });

  it('100k events emitted synchronously on subscribe: the first alone, then one batch of 99999, at most MAX_KEPT kept', () => {
    scheduler().run(({ expectObservable, flush }) => {
      const N = 100_000;
      const src = new Observable<number>((s) => {
        for (let i = 0; i < N; i++) s.next(i);
      });
      const got: Batch<number>[] = [];
      const out = src.pipe(coalesce<number>(SETTLE, MAX_WAIT));
      out.subscribe((b) => got.push(b));
      expectObservable(out, '^ 500ms !');
      flush();
      assert.equal(got.length, 2);
      assert.deepEqual(got[0], batch([0]));
      assert.equal(got[1]!.count, N - 1);
      assert.equal(got[1]!.events.length, MAX_KEPT);
      // The first events are kept, in arrival order (the audit's trigger text uses them).
      assert.deepEqual(got[1]!.events, Array.from({ length: MAX_KEPT }, (_, i) => i + 1));
    });
  });

  it('completes when the source completes, flushing the open batch', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold<string>('a 4ms b|');
      expectObservable(src.pipe(coalesce<string>(SETTLE, MAX_WAIT))).toBe('a 5ms (b|)', { a: batch(['a']), b: batch(['b']) });
    });
  });

  it('an event exactly maxWait ms after a coalesced batch closed leads again; one ms earlier it is coalesced', () => {
    // a at 0 leads; b at 1 is coalesced and closes at 21. c at 121 is maxWait after that
    // batch, so it leads; c at 120 (99 ms after it) is coalesced and closes settle later.
    for (const [gap, want] of [
      ['119ms', 'a 20ms b 99ms c'],
      ['118ms', 'a 20ms b 118ms c'],
    ] as const) {
      scheduler().run(({ hot, expectObservable }) => {
        const src = hot<string>(`ab ${gap} c`);
        expectObservable(src.pipe(coalesce<string>(SETTLE, MAX_WAIT)), '^ 400ms !').toBe(want, { a: batch(['a']), b: batch(['b']), c: batch(['c']) });
      });
    }
  });

  it('completes with the source also when no batch is open: nothing more is emitted', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // a leads at once and leaves nothing open; then the source ends (and an empty source).
      expectObservable(cold<string>('a 4ms |').pipe(coalesce<string>(SETTLE, MAX_WAIT))).toBe('a 4ms |', { a: batch(['a']) });
      expectObservable(cold<string>('|').pipe(coalesce<string>(SETTLE, MAX_WAIT))).toBe('|');
    });
  });

  it('a source error is passed on, not swallowed (the agent must see its event source fail)', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const err = new Error('netlink socket closed');
      expectObservable(cold<string>('a 4ms #', undefined, err).pipe(coalesce<string>(SETTLE, MAX_WAIT))).toBe('a 4ms #', { a: batch(['a']) }, err);
    });
  });

  it('unsubscribing lets go of the source and cancels the open batch', () => {
    const ts = scheduler();
    ts.run(({ flush }) => {
      const src = new Subject<string>();
      const got: Batch<string>[] = [];
      const sub = src.pipe(coalesce<string>(SETTLE, MAX_WAIT)).subscribe((b) => got.push(b));
      src.next('a');
      src.next('b'); // opens a batch, due at settle
      sub.unsubscribe();
      assert.equal(src.observed, false, 'the source is no longer subscribed');
      flush();
      assert.deepEqual(got, [batch(['a'])]);
    });
  });
});

describe('mergeBatches', () => {
  it('keeps the first MAX_KEPT events and adds the counts', () => {
    const a = batch(Array.from({ length: 10 }, (_, i) => i), 1000);
    const b = batch(Array.from({ length: 10 }, (_, i) => 100 + i), 5000);
    const m = mergeBatches(a, b);
    assert.equal(m.count, 6000);
    assert.equal(m.events.length, MAX_KEPT);
    assert.deepEqual(m.events.slice(0, 10), a.events);
    assert.deepEqual(mergeBatches(emptyBatch<number>(), emptyBatch<number>()), emptyBatch<number>());
  });
});

/** A fake pass that takes `ms` of virtual time and records how many passes overlap. */
function fakeRun(ms: number, log: { started: number[]; ended: number[]; batches: Batch<string>[]; maxActive: number }, now: () => number) {
  let active = 0;
  return (b: Batch<string>): Observable<Batch<string>> =>
    defer(() => {
      active++;
      log.maxActive = Math.max(log.maxActive, active);
      log.started.push(now());
      log.batches.push(b);
      return timer(ms).pipe(
        map(() => b),
        finalize(() => {
          active--;
          log.ended.push(now());
        }),
      );
    });
}

describe('exclusivePasses(run)', () => {
  it('a 50 ms pass with 10 batches arriving during it → exactly one trailing pass', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const log = { started: [] as number[], ended: [] as number[], batches: [] as Batch<string>[], maxActive: 0 };
      // Batch 'a' at 0 starts a pass (0..50); b..k at 2, 4, … 20 arrive while it runs.
      const values: Record<string, Batch<string>> = {};
      for (const c of 'abcdefghijk') values[c] = batch([c], 3);
      const src = hot<Batch<string>>('a 1ms b 1ms c 1ms d 1ms e 1ms f 1ms g 1ms h 1ms i 1ms j 1ms k', values);
      const out = src.pipe(exclusivePasses(fakeRun(50, log, () => ts.now())));
      // The trailing pass starts when the first ends (scheduled, delay 0) and takes 50 more.
      expectObservable(out, '^ 400ms !').toBe('50ms x 49ms y', {
        x: batch(['a'], 3),
        y: batch(['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k'], 30),
      });
      ts.flush();
      assert.deepEqual(log.started, [0, 50]);
      assert.deepEqual(log.ended, [50, 100]);
      assert.equal(log.maxActive, 1);
    });
  });

  it('a batch arriving while idle runs at once; none is lost', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const log = { started: [] as number[], ended: [] as number[], batches: [] as Batch<string>[], maxActive: 0 };
      const src = hot<Batch<string>>('a 99ms b', { a: batch(['a']), b: batch(['b']) });
      expectObservable(src.pipe(exclusivePasses(fakeRun(10, log, () => ts.now()))), '^ 300ms !').toBe('10ms x 99ms y', {
        x: batch(['a']),
        y: batch(['b']),
      });
      ts.flush();
      assert.deepEqual(log.started, [0, 100]);
    });
  });

  it('completes after the source completes, also with a pass and a trailing batch in flight', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const log = { started: [] as number[], ended: [] as number[], batches: [] as Batch<string>[], maxActive: 0 };
      // The agent stops (takeUntil) by completing its source: exclusivePasses must finish the
      // running pass, run the trailing one, then complete — or startAgent never resolves.
      const src = cold<Batch<string>>('a 4ms b|', { a: batch(['a']), b: batch(['b']) });
      expectObservable(src.pipe(exclusivePasses(fakeRun(50, log, () => ts.now())))).toBe('50ms x 49ms (y|)', {
        x: batch(['a']),
        y: batch(['b']),
      });
      ts.flush();
      assert.deepEqual(log.started, [0, 50]);
    });
  });

  it('the source ends as a pass ends, before the trailing pass it owes has started: that pass still runs, then it completes', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      const src = new Subject<Batch<string>>();
      const started: number[] = [];
      // The agent's stop arrives in the same turn as the end of the first pass, after it
      // (scheduled when that pass completes, so before the trailing pass is handed over).
      const run = (b: Batch<string>): Observable<Batch<string>> =>
        defer(() => {
          started.push(ts.now());
          return timer(50).pipe(
            map(() => b),
            tap({ complete: () => started.length === 1 && ts.schedule(() => src.complete()) }),
          );
        });
      expectObservable(src.pipe(exclusivePasses(run))).toBe('50ms x 49ms (y|)', { x: batch(['a']), y: batch(['b']) });
      ts.schedule(() => src.next(batch(['a'])), 0);
      ts.schedule(() => src.next(batch(['b'])), 10);
      ts.flush();
      assert.deepEqual(started, [0, 50]);
    });
  });

  it('completes at once when the source completes while idle', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold<Batch<string>>('a 99ms |', { a: batch(['a']) });
      expectObservable(src.pipe(exclusivePasses((b) => of(b)))).toBe('a 99ms |', { a: batch(['a']) });
    });
  });

  it('property: never two passes at once; every event is counted exactly once; trailing passes start on time', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 5 })), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 60 }),
        (arrivals, passMs) => {
          const ts = scheduler();
          const log = { started: [] as number[], ended: [] as number[], batches: [] as Batch<string>[], maxActive: 0 };
          let total = 0;
          ts.run(({ flush }) => {
            const src = new Subject<Batch<string>>();
            let t = 0;
            for (const [gap, count] of arrivals) {
              t += gap;
              total += count;
              ts.schedule(() => src.next(batch(['e'], count)), t);
            }
            src.pipe(exclusivePasses(fakeRun(passMs, log, () => ts.now()))).subscribe();
            flush();
          });
          assert.equal(log.maxActive, 1);
          assert.equal(log.batches.reduce((n, b) => n + b.count, 0), total);
          for (const b of log.batches) assert.ok(b.events.length <= MAX_KEPT);
          // A pass starts no earlier than the previous one ended (and passes never overlap).
          for (let i = 1; i < log.started.length; i++) assert.ok(log.started[i]! >= log.ended[i - 1]!);
          // While a pass runs, at most one more pass follows it before the next batch arrives:
          // the number of passes is at most the number of batches.
          assert.ok(log.batches.length <= arrivals.length);
        },
      ),
      { numRuns: runs(300) },
    );
  });

  it('property: the source may end at any moment, also as a pass ends: every batch it gave is run, then the output completes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 5 })), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 60 }),
        // The agent's stop at a given time, or in the turn the k-th pass ends (after it).
        fc.oneof(fc.record({ at: fc.integer({ min: 0, max: 600 }) }), fc.record({ afterPass: fc.integer({ min: 1, max: 6 }) })),
        (arrivals, passMs, stop) => {
          const ts = scheduler();
          let sent = 0;
          let ran = 0;
          let passes = 0;
          let stopped = false;
          let completed = false;
          ts.run(({ flush }) => {
            const src = new Subject<Batch<string>>();
            const end = (): void => {
              stopped = true;
              src.complete();
            };
            const run = (b: Batch<string>): Observable<Batch<string>> =>
              defer(() => {
                const k = ++passes;
                ran += b.count;
                return timer(passMs).pipe(
                  map(() => b),
                  tap({ complete: () => 'afterPass' in stop && k === stop.afterPass && ts.schedule(end) }),
                );
              });
            src.pipe(exclusivePasses(run)).subscribe({ complete: () => (completed = true) });
            if ('at' in stop) ts.schedule(end, stop.at);
            let t = 0;
            for (const [gap, count] of arrivals) {
              t += gap;
              ts.schedule(() => {
                if (stopped) return;
                sent += count;
                src.next(batch(['e'], count));
              }, t);
            }
            flush();
          });
          assert.equal(ran, sent, 'every batch the source gave is run');
          assert.equal(completed, stopped, 'the output completes once the source has ended');
        },
      ),
      { numRuns: runs(300) },
    );
  });
});

describe('react: coalesce → exclusivePasses sharing a pass clock (the agent pipeline)', () => {
  it('an event less than settle ms after a pass ended is not a leading edge: it waits for the trailing batch', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const log = { started: [] as number[], ended: [] as number[], batches: [] as Batch<string>[], maxActive: 0 };
      // a at 0 runs at once (0..10); b at 15 is 5 ms after that pass: its batch closes at 35.
      // (A pass blocks the event loop, so events that queued during it arrive just after it.)
      const src = hot<string>('a 14ms b');
      expectObservable(src.pipe(react(SETTLE, MAX_WAIT, fakeRun(10, log, () => ts.now()))), '^ 300ms !').toBe('10ms a 34ms b', {
        a: batch(['a']),
        b: batch(['b']),
      });
      ts.flush();
      assert.deepEqual(log.started, [0, 35]);
    });
  });

  /** Pass start times when events arrive at `at` (ms) into react() with passes of `passMs`. */
  function passStarts(at: number[], passMs: number): number[] {
    const ts = scheduler();
    const log = { started: [] as number[], ended: [] as number[], batches: [] as Batch<string>[], maxActive: 0 };
    ts.run(({ flush }) => {
      const src = new Subject<string>();
      for (const t of at) ts.schedule(() => src.next('e'), t);
      src.pipe(react(SETTLE, MAX_WAIT, fakeRun(passMs, log, () => ts.now()))).subscribe();
      flush();
    });
    return log.started;
  }

  it('the pass clock decides the leading edge: not while a pass runs, nor within settle ms of its end', () => {
    // a at 0 leads and runs 0..40; b comes more than settle ms after a, so only the pass clock
    // can hold it back: coalesced, its batch closes settle ms after b.
    const cases: [number, number, string][] = [
      [30, 50, 'while the pass runs'],
      [45, 65, '5 ms after the pass ended'],
      [59, 79, '19 ms after the pass ended'],
      [60, 60, 'settle ms after the pass ended: leads'],
    ];
    for (const [b, second, why] of cases) assert.deepEqual(passStarts([0, b], 40), [0, second], why);
  });

  it('a trickle during a pass longer than maxWait: the batch closes maxWait after the pass ended, not while it runs', () => {
    // a leads (pass 0..150); events every 10 ms from 5 to 295 never leave settle ms of quiet.
    // The batch opened at 5 would be due at 105, but a pass is running: it is due 100 ms after
    // that pass ended (250). The rest (255..295) closes at 315, during that pass: trailing at 400.
    const trickle = Array.from({ length: 30 }, (_, i) => 5 + 10 * i);
    assert.deepEqual(passStarts([0, ...trickle], 150), [0, 250, 400]);
  });

  for (const n of [1, 64, 1000, 100_000]) {
    it(`a burst of ${n} event(s): the first pass starts at once, at most 2 passes, all counted`, () => {
      const ts = scheduler();
      ts.run(({ flush }) => {
        const log = { started: [] as number[], ended: [] as number[], batches: [] as Batch<string>[], maxActive: 0 };
        const src = new Subject<string>();
        // One frame per ms, at least 256 events per frame (a netlink read drains many
        // datagrams), spread over at most half of maxWait.
        const perFrame = Math.max(256, Math.ceil(n / (MAX_WAIT / 2)));
        for (let f = 0; f * perFrame < n; f++) {
          ts.schedule(() => {
            for (let j = f * perFrame; j < Math.min(n, (f + 1) * perFrame); j++) src.next('e');
          }, 1000 + f);
        }
        src.pipe(react(SETTLE, MAX_WAIT, fakeRun(15, log, () => ts.now()))).subscribe();
        flush();
        assert.equal(log.started[0], 1000, 'the leading pass starts on the first event');
        assert.ok(log.batches.length <= 2, `${log.batches.length} passes`);
        assert.equal(log.batches.reduce((k, b) => k + b.count, 0), n);
        assert.equal(log.maxActive, 1);
      });
    });
  }

  /** Events `gaps` ms apart from t = 0 until `until` ms, into react() with passes of `passMs`. */
  function burst(gaps: number[], passMs: number, until: number) {
    const ts = scheduler();
    const log = { started: [] as number[], ended: [] as number[], batches: [] as Batch<string>[], maxActive: 0 };
    let n = 0;
    ts.run(({ flush }) => {
      const src = new Subject<string>();
      let t = 0;
      for (const g of gaps) {
        n++;
        ts.schedule(() => src.next('e'), t);
        t += g;
        if (t >= until) break;
      }
      src.pipe(react(SETTLE, MAX_WAIT, fakeRun(passMs, log, () => ts.now()))).subscribe();
      flush();
    });
    return { log, n };
  }

  it('property: a burst shorter than maxWait, arriving at any time during or after a pass, costs at most 2 passes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 60 }), fc.integer({ min: 0, max: 80 }), (gaps, passMs) => {
        // Events `gaps` apart from 0, clipped to the first maxWait ms (a burst, not a trickle).
        const { log, n } = burst(gaps, passMs, MAX_WAIT);
        assert.equal(log.started[0], 0);
        assert.ok(log.batches.length <= 2, `${log.batches.length} passes`);
        assert.equal(log.batches.reduce((k, b) => k + b.count, 0), n);
        assert.equal(log.maxActive, 1);
      }),
      { numRuns: runs(300) },
    );
  });

  it('property: a burst delivered before maxWait ms after the leading pass ended costs at most 2 passes, whatever the pass takes', () => {
    fc.assert(
      // size 'max': fast-check's default size keeps arrays to about ten elements, too short a burst.
      fc.property(fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 80, size: 'max' }), fc.integer({ min: 1, max: 80 }), (gaps, passMs) => {
        // The leading pass runs 0..passMs; the rest of the burst may keep arriving until
        // passMs + maxWait (the 100 000-event bench burst took longer than maxWait to arrive).
        const { log, n } = burst(gaps, passMs, passMs + MAX_WAIT);
        assert.equal(log.started[0], 0);
        assert.ok(log.batches.length <= 2, `${log.batches.length} passes`);
        assert.equal(log.batches.reduce((k, b) => k + b.count, 0), n);
      }),
      { numRuns: runs(300) },
    );
  });

  it('property: a stalled delivery (each chunk queued behind the timers due at its instant, gaps up to settle) still costs at most 2 passes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: SETTLE }), { minLength: 1, maxLength: 60, size: 'max' }), fc.integer({ min: 1, max: 80 }), (gaps, passMs) => {
        const ts = scheduler();
        const log = { started: [] as number[], ended: [] as number[], batches: [] as Batch<string>[], maxActive: 0 };
        let n = 0;
        ts.run(({ flush }) => {
          const src = new Subject<string>();
          // Each chunk schedules the next when it runs, so the next sorts after every timer
          // created meanwhile for the same instant: the order in which a process that was not
          // running meets its overdue timers before the I/O that queued up. A gap of exactly
          // settle is such a stall, not quiet. Delivery ends before maxWait after the leading
          // pass's end, as in the property above.
          const deliver = (i: number, t: number): void => {
            n++;
            src.next('e');
            const g = gaps[i];
            if (g !== undefined && t + g < passMs + MAX_WAIT) ts.schedule(() => deliver(i + 1, t + g), g);
          };
          src.pipe(react(SETTLE, MAX_WAIT, fakeRun(passMs, log, () => ts.now()))).subscribe();
          ts.schedule(() => deliver(0, 0), 0);
          flush();
        });
        assert.equal(log.started[0], 0);
        assert.ok(log.batches.length <= 2, `${log.batches.length} passes`);
        assert.equal(log.batches.reduce((k, b) => k + b.count, 0), n);
        assert.equal(log.maxActive, 1);
      }),
      { numRuns: runs(300) },
    );
  });

  it('property: flood protection — under any arrival pattern, every event is seen by a pass that starts within maxWait + 2 passes of it', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 50 })), { minLength: 1, maxLength: 120, size: 'max' }), fc.integer({ min: 0, max: 60 }), (arrivals, passMs) => {
        // Groups of events `gap` ms apart: trickles, floods and quiet spells, for seconds.
        const ts = scheduler();
        const log = { started: [] as number[], ended: [] as number[], batches: [] as Batch<string>[], maxActive: 0 };
        const at: number[] = [];
        ts.run(({ flush }) => {
          const src = new Subject<string>();
          let t = 0;
          for (const [gap, count] of arrivals) {
            t += gap;
            for (let i = 0; i < count; i++) at.push(t);
            ts.schedule(() => {
              for (let i = 0; i < count; i++) src.next('e');
            }, t);
          }
          src.pipe(react(SETTLE, MAX_WAIT, fakeRun(passMs, log, () => ts.now()))).subscribe();
          flush();
        });
        assert.equal(log.maxActive, 1);
        assert.equal(log.batches.reduce((k, b) => k + b.count, 0), at.length, 'every event counted once');
        // Level-triggered: an event is handled by the first pass that starts at or after it.
        for (const t of at) {
          const next = log.started.find((s) => s >= t);
          assert.ok(next !== undefined, `no pass after the event at ${t}`);
          assert.ok(next - t <= MAX_WAIT + 2 * passMs, `event at ${t} waited ${next - t} ms (pass ${passMs} ms)`);
        }
      }),
      { numRuns: runs(300) },
    );
  });

  it('100k events trickled over 10 s: bounded passes, all counted, memory per batch bounded', () => {
    const ts = scheduler();
    ts.run(({ flush }) => {
      const log = { started: [] as number[], ended: [] as number[], batches: [] as Batch<string>[], maxActive: 0 };
      const src = new Subject<string>();
      const N = 100_000;
      // 100 events every 10 ms for 10 s, the shape of an ENOBUFS storm or a 1000-queue NIC.
      for (let i = 0; i < N / 100; i++) {
        ts.schedule(() => {
          for (let j = 0; j < 100; j++) src.next('e');
        }, i * 10);
      }
      src.pipe(react(SETTLE, MAX_WAIT, fakeRun(30, log, () => ts.now()))).subscribe();
      flush();
      assert.equal(log.batches.reduce((n, b) => n + b.count, 0), N);
      // One pass per maxWait at most (plus the last one): 10 000 ms / 100 ms.
      assert.ok(log.batches.length <= 10_000 / MAX_WAIT + 2, `${log.batches.length} passes`);
      assert.ok(log.batches.every((b) => b.events.length <= MAX_KEPT));
      assert.equal(log.maxActive, 1);
    });
  });
});
