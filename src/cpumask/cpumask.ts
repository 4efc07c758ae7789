// cpumask — Linux CPU mask and CPU list text formats (pure functions, no I/O).
//
// A CPU set is represented as a sorted, de-duplicated array of CPU numbers. That keeps the
// planner's arithmetic simple and makes sets cheap to compare; masks of 8192 CPUs are still
// only a few hundred numbers in practice.
//
// Formats, as the kernel prints them:
//   hex mask  "00000000,000000ff"  32-bit words, most significant first, comma-separated
//             (smp_affinity, rps_cpus, xps_cpus, local_cpus). The kernel accepts words
//             without leading zeros and fewer words than nr_cpu_ids needs.
//   cpulist   "0-3,8,10-11"        ranges (smp_affinity_list, online, local_cpulist). The
//             kernel also accepts strides "0-7:2/4"; we parse those so that any list the
//             kernel would accept on the command line reads back the same here.

import { clip } from '../text/printable.js';

export type CpuSet = readonly number[];

/** Largest CPU count Linux supports (CONFIG_NR_CPUS max); bounds every parse. */
export const MAX_CPUS = 8192;

export class CpuFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CpuFormatError';
  }
}

export function normalize(cpus: Iterable<number>): number[] {
  return [...new Set(cpus)].sort((a, b) => a - b);
}

/**
 * Longest cpulist or mask text accepted. The longest list the kernel prints for MAX_CPUS CPUs
 * (every other CPU: "0,2,…,8190") is ~20 KB; a hex mask of MAX_CPUS bits is 2 KB. Anything
 * longer is not a CPU set, and refusing it bounds the work a hostile file can cause.
 */
export const MAX_CPU_TEXT = 32 * 1024;

function tooLong(what: string, s: string): CpuFormatError {
  return new CpuFormatError(`${what} of ${s.length} characters is longer than any CPU set (max ${MAX_CPU_TEXT}): "${clip(s, 40)}"`);
}

/**
 * Parse a cpulist ("0-3,8"); empty or whitespace-only text is the empty set.
 * Work and memory are bounded by MAX_CPU_TEXT and maxCpus, whatever the text: CPUs go into a
 * bitmap no wider than maxCpus (a range is one fill), and a repeated element is expanded once
 * ("0-8191" repeated 2000 times used to build a 16-million-entry array).
 */
export function parseCpuList(text: string, maxCpus = MAX_CPUS): number[] {
  if (text.length > MAX_CPU_TEXT) throw tooLong('cpulist', text.trim());
  const s = text.trim();
  if (s === '') return [];
  // Parse first (at most MAX_CPU_TEXT/2 elements), then fill a bitmap only as wide as needed.
  const ranges: [lo: number, hi: number, used: number, group: number][] = [];
  const seen = new Set<string>();
  let top = 0;
  for (const raw of s.split(',')) {
    const part = raw.trim();
    if (seen.has(part)) continue;
    seen.add(part);
    const m = /^(\d+)(?:-(\d+)(?::(\d+)\/(\d+))?)?$/.exec(part);
    if (!m) throw new CpuFormatError(`invalid cpulist element "${clip(part, 40)}" in "${clip(s)}"`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new CpuFormatError(`descending range "${clip(part, 40)}" in cpulist "${clip(s)}"`);
    if (hi >= maxCpus) throw new CpuFormatError(`CPU ${clip(m[2] ?? m[1]!, 20)} out of range (max ${maxCpus - 1}) in cpulist "${clip(s)}"`);
    let used = 1;
    let group = 1;
    if (m[3] !== undefined) {
      // Kernel group syntax: "a-b:used/group" takes `used` CPUs out of every `group`.
      used = Number(m[3]);
      group = Number(m[4]);
      if (group === 0 || used > group) throw new CpuFormatError(`invalid stride "${clip(part, 40)}" in cpulist "${clip(s)}"`);
    }
    ranges.push([lo, hi, used, group]);
    if (hi > top) top = hi;
  }
  const bits = new Uint8Array(top + 1);
  for (const [lo, hi, used, group] of ranges) {
    if (used >= group) bits.fill(1, lo, hi + 1);
    else for (let base = lo; base <= hi; base += group) for (let c = base; c < base + used && c <= hi; c++) bits[c] = 1;
  }
  const out: number[] = [];
  for (let c = bits.indexOf(1); c >= 0; c = bits.indexOf(1, c + 1)) out.push(c);
  return out;
}

/** Format a CPU set as the kernel's cpulist ("0-3,8"); empty set is "". */
export function formatCpuList(cpus: CpuSet): string {
  const sorted = isSorted(cpus) ? cpus : normalize(cpus);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = sorted[i]!;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) {
      end++;
      i++;
    }
    parts.push(start === end ? `${start}` : `${start}-${end}`);
    i++;
  }
  return parts.join(',');
}

/** Parse a hex mask ("ff,00000001"); "0"/"" is the empty set. */
export function parseCpuMask(text: string, maxCpus = MAX_CPUS): number[] {
  if (text.length > MAX_CPU_TEXT) throw tooLong('mask', text.trim());
  const s = text.trim();
  if (s === '') return [];
  const words = s.split(',');
  const out: number[] = [];
  for (let w = 0; w < words.length; w++) {
    const word = words[w]!.trim();
    if (!/^[0-9a-fA-F]{1,8}$/.test(word)) throw new CpuFormatError(`invalid hex mask word "${clip(word, 40)}" in "${clip(s)}"`);
    const value = parseInt(word, 16);
    const base = (words.length - 1 - w) * 32;
    for (let bit = 0; bit < 32; bit++) {
      if ((value >>> bit) & 1) {
        const cpu = base + bit;
        if (cpu >= maxCpus) throw new CpuFormatError(`CPU ${cpu} out of range (max ${maxCpus - 1}) in mask "${clip(s)}"`);
        out.push(cpu);
      }
    }
  }
  return out.sort((a, b) => a - b);
}

/**
 * Format a CPU set as the kernel prints a mask for `nrCpus` possible CPUs: ceil(nrCpus/32)
 * words, the first one trimmed to the digits it needs (the kernel prints "3" for 2 CPUs and
 * "00000000,00000003" for 64). Writing that back is always accepted.
 */
export function formatCpuMask(cpus: CpuSet, nrCpus?: number): string {
  const max = cpus.length === 0 ? -1 : Math.max(...cpus);
  const width = Math.max(nrCpus ?? 0, max + 1, 1);
  const nWords = Math.ceil(width / 32);
  const words = new Array<number>(nWords).fill(0);
  for (const c of cpus) words[Math.floor(c / 32)]! |= 1 << c % 32;
  const out: string[] = [];
  const topBits = width - (nWords - 1) * 32;
  for (let w = nWords - 1; w >= 0; w--) {
    const hex = (words[w]! >>> 0).toString(16);
    const digits = w === nWords - 1 ? Math.ceil(topBits / 4) : 8;
    out.push(hex.padStart(digits, '0'));
  }
  return out.join(',');
}

export function isSorted(a: CpuSet): boolean {
  for (let i = 1; i < a.length; i++) if (a[i]! <= a[i - 1]!) return false;
  return true;
}

export function equalSets(a: CpuSet, b: CpuSet): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function intersect(a: CpuSet, b: CpuSet): number[] {
  const sb = new Set(b);
  return a.filter((c) => sb.has(c));
}

export function subtract(a: CpuSet, b: CpuSet): number[] {
  const sb = new Set(b);
  return a.filter((c) => !sb.has(c));
}

export function union(a: CpuSet, b: CpuSet): number[] {
  return normalize([...a, ...b]);
}
