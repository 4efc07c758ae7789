// agent/heap — gives back the memory a pass used, once the pass is over.
//
// The agent runs with V8's memory reducer off (--no-memory-reducer in the executable's
// shebang): the reducer shrinks the heap from timers after activity, and those timers woke an
// idle agent (issue 14). Without it, what a pass allocated (the snapshot of every IRQ and queue,
// the plan, the diff; on start-up also the policy, the bundle's module code) stays resident
// until a later GC, which on a quiet machine never comes. One full, synchronous GC after a pass
// does the reducer's work at a moment the agent is awake anyway, and never when it is idle.
// Measured with bench/idle.ts: see the README's benchmark section.
//
// gc() exists only when node runs with --expose-gc (the executable's shebang, and
// `npm run bench`); an agent started otherwise (in-process in the tests) skips it.

/** One full GC if the runtime allows it; true if it ran. */
export function compactHeap(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') return false;
  gc();
  return true;
}
