// runs — how many random cases a fast-check property tries. `npm run mutate` sets
// AFFINITYD_MUTATION=1: each of thousands of mutants reruns the suite on instrumented (slower)
// code, so properties sample a tenth of their cases there (at least 20); `npm test` runs
// them all. A mutant that only a rare case can catch is then listed as a survivor, not
// hidden: docs/mutation.md.

export function runs(n: number): number {
  return process.env.AFFINITYD_MUTATION === '1' ? Math.max(20, Math.round(n / 10)) : n;
}
