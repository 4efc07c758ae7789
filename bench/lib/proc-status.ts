// bench/lib/proc-status — one number from a /proc/PID/status text (VmRSS, RssAnon,
// voluntary_ctxt_switches…): kB for the memory lines, a count for the rest; NaN when absent.

export function statusField(status: string, name: string): number {
  return Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
}
