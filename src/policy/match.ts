// policy/match — which [net:*] / [irq:*] / [serial:*] section applies to a NIC, an IRQ or a
// serial port.
//
// Order rule (also documented in etc/affinityd.ini): the LAST matching section wins, counting
// sections in the order they were read — file order within a file, drop-ins after the main
// file in name order. That is the same "later wins" rule as for plain keys, so a drop-in can
// override any section of the main file without knowing where it sits, and inside one file a
// specific section goes after the general one it refines.
//
// Inside a section every match-* key given must match (AND); each key is a list of globs of
// which one must match (OR). A section with no match-* key is rejected by the loader.

import type { Match, Policy, PolicySection, SerialMatch, SerialSection } from '../types.js';
import { clip } from '../text/printable.js';

export interface NicIdentity {
  name: string;
  driver: string | null;
  pci: string | null;
  mac: string | null;
}

/** What a [serial:*] section can match on (a subset of SerialPortInfo). */
export interface SerialIdentity {
  path: string;
  byId: readonly string[];
  vendorId: string | null;
  productId: string | null;
  serialNumber: string | null;
}

export class GlobError extends Error {}

/** Longest glob accepted: names are at most a few hundred bytes, a longer pattern is a mistake. */
export const MAX_GLOB_LENGTH = 256;

/**
 * A compiled glob: `*` any run, `?` one character, a class, or a literal. Matching walks
 * pattern and text together and, on a mismatch, only backs up to the most recent `*` — the
 * classic wildcard algorithm, O(pattern × text) in the worst case and never exponential.
 * Why not RegExp (or picomatch, which compiles to one): V8's backtracking engine takes
 * seconds on `*?*?*?…x` against a long name, long enough to trip WatchdogSec on a big host,
 * and a reversed class (`[9-0]`) surfaced as a SyntaxError from `new RegExp`.
 */
type Token =
  | { t: 'star' }
  | { t: 'any' }
  | { t: 'lit'; c: number }
  | { t: 'class'; neg: boolean; ranges: number[] /* lo, hi pairs (UTF-16 code units) */ };

export interface CompiledGlob {
  readonly glob: string;
  test(text: string): boolean;
}

const globCache = new Map<string, CompiledGlob>();
const GLOB_CACHE_MAX = 4096;

/**
 * fnmatch-style glob: `*` any run (dots included, so `eth0*` matches `eth0.100`), `?` one
 * character, `[a-c]` / `[!a-c]` / `[^a-c]` classes (`]` first in a class is literal, also
 * after `!`/`^`; `-` first or last is literal), `\x` a literal x. Throws GlobError on an
 * unterminated class, a reversed range or an over-long glob, so the loader can name the key.
 */
export function compileGlob(glob: string): CompiledGlob {
  const hit = globCache.get(glob);
  if (hit !== undefined) return hit;
  if (glob.length > MAX_GLOB_LENGTH) throw new GlobError(`glob of ${glob.length} characters is too long (max ${MAX_GLOB_LENGTH})`);
  const tokens: Token[] = [];
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (tokens.at(-1)?.t !== 'star') tokens.push({ t: 'star' });
    } else if (c === '?') tokens.push({ t: 'any' });
    else if (c === '\\' && i + 1 < glob.length) tokens.push({ t: 'lit', c: glob.charCodeAt(++i) });
    else if (c === '[') {
      // The class body starts after '[' and a '!'/'^'; its first character is taken even when
      // it is ']' (`[]a]`, `[!]a]`), so the body is never empty and `[]`, `[!]` are unterminated.
      const neg = glob[i + 1] === '!' || glob[i + 1] === '^';
      const start = neg ? i + 2 : i + 1;
      const end = glob.indexOf(']', start + 1);
      if (end < 0) throw new GlobError(`unterminated '[' in glob "${clip(glob, 60)}"`);
      const body = glob.slice(start, end);
      const ranges: number[] = [];
      for (let k = 0; k < body.length; k++) {
        const lo = body.charCodeAt(k);
        if (body[k + 1] === '-' && k + 2 < body.length) {
          const hi = body.charCodeAt(k + 2);
          if (hi < lo) throw new GlobError(`reversed range '${body.slice(k, k + 3)}' in glob "${clip(glob, 60)}" (write '${body[k + 2]}-${body[k]}')`);
          ranges.push(lo, hi);
          k += 2;
        } else ranges.push(lo, lo);
      }
      tokens.push({ t: 'class', neg, ranges });
      i = end;
    } else tokens.push({ t: 'lit', c: glob.charCodeAt(i) });
  }
  const compiled: CompiledGlob = { glob, test: (text) => matchTokens(tokens, text) };
  if (globCache.size >= GLOB_CACHE_MAX) globCache.clear();
  globCache.set(glob, compiled);
  return compiled;
}

/** Does one non-`*` token take character code `c`? (`*` is handled by matchTokens.) */
function matchOne(tok: Exclude<Token, { t: 'star' }>, c: number): boolean {
  switch (tok.t) {
    case 'any':
      return true;
    case 'lit':
      return tok.c === c;
    case 'class': {
      let inside = false;
      for (let r = 0; r < tok.ranges.length && !inside; r += 2) inside = c >= tok.ranges[r]! && c <= tok.ranges[r + 1]!;
      return inside !== tok.neg;
    }
  }
}

/** Longer names (no kernel name is) never match, so matching time stays bounded. */
export const MAX_MATCH_TEXT = 4096;

function matchTokens(tokens: readonly Token[], text: string): boolean {
  if (text.length > MAX_MATCH_TEXT) return false;
  let p = 0; // next token
  let t = 0; // next text position
  let starP = -1; // token index after the last `*` seen
  let starT = 0; // text position that `*` is currently taken to end at
  while (t < text.length) {
    const tok = tokens[p];
    if (tok?.t === 'star') {
      starP = ++p;
      starT = t;
    } else if (tok !== undefined && matchOne(tok, text.charCodeAt(t))) {
      p++;
      t++;
    } else if (starP >= 0) {
      // Let the last `*` take one more character and retry what follows it.
      p = starP;
      t = ++starT;
    } else return false;
  }
  while (tokens[p]?.t === 'star') p++;
  return p === tokens.length;
}

/**
 * Split a list value on whitespace and commas, except inside `[...]` so that a class like
 * `eth[0,2]` stays one glob.
 */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inClass = false;
  for (const c of value) {
    if (inClass) {
      cur += c;
      if (c === ']') inClass = false;
    } else if (c === '[') {
      cur += c;
      inClass = true;
    } else if (c === ',' || /\s/.test(c)) {
      if (cur !== '') out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur !== '') out.push(cur);
  return out;
}

export function globMatch(glob: string, text: string): boolean {
  return compileGlob(glob).test(text);
}


function anyGlob(globs: readonly string[], text: string | null): boolean {
  return text !== null && globs.some((g) => globMatch(g, text));
}

function hasNicMatch(m: Match): boolean {
  return m.name !== undefined || m.driver !== undefined || m.pci !== undefined || m.mac !== undefined;
}

/** Does one section's match apply to this NIC? (Exported for `check-config --explain`.) */
export function nicMatches(m: Match, nic: NicIdentity): boolean {
  if (!hasNicMatch(m)) return false;
  if (m.name !== undefined && !anyGlob(m.name, nic.name)) return false;
  if (m.driver !== undefined && !anyGlob(m.driver, nic.driver)) return false;
  // PCI addresses and MACs are printed lower case by sysfs; the loader lower-cases the globs.
  if (m.pci !== undefined && !anyGlob(m.pci, nic.pci?.toLowerCase() ?? null)) return false;
  if (m.mac !== undefined && !anyGlob(m.mac, nic.mac?.toLowerCase() ?? null)) return false;
  return true;
}

/** An `irq` pattern that is a number ("24") or a range ("24-31") names IRQ numbers. */
export function parseIrqNumberPattern(p: string): [number, number] | null {
  const m = /^(\d+)(?:-(\d+))?$/.exec(p);
  if (!m) return null;
  const lo = Number(m[1]);
  return [lo, m[2] === undefined ? lo : Number(m[2])];
}

export function irqMatches(m: Match, irqName: string, irq: number): boolean {
  if (m.irq === undefined || m.irq.length === 0) return false;
  // A shared line lists several actions ("ehci_hcd:usb1, uhci_hcd:usb2"): a glob may name
  // the whole line as /proc/interrupts prints it or any one of its actions.
  const names = irqName === '' ? [] : [irqName, ...irqName.split(', ')];
  return m.irq.some((p) => {
    const range = parseIrqNumberPattern(p);
    if (range !== null) return irq >= range[0] && irq <= range[1];
    return names.some((n) => globMatch(p, n));
  });
}

/** The [net:*] section for a NIC (last match wins), or null when [defaults] applies. */
export function matchNicSection(p: Policy, nic: NicIdentity): PolicySection | null {
  for (let i = p.sections.length - 1; i >= 0; i--) {
    const s = p.sections[i]!;
    if (s.kind === 'net' && nicMatches(s.match, nic)) return s;
  }
  return null;
}

/** The [irq:*] section for a non-NIC IRQ (last match wins), or null. */
export function matchIrqSection(p: Policy, irqName: string, irq: number): PolicySection | null {
  for (let i = p.sections.length - 1; i >= 0; i--) {
    const s = p.sections[i]!;
    if (s.kind === 'irq' && irqMatches(s.match, irqName, irq)) return s;
  }
  return null;
}

const BY_ID_DIR = '/dev/serial/by-id/';

/**
 * Does one [serial:*] section's match apply to this port? match-path also accepts the
 * port's /dev/serial/by-id/ link paths, since that is the path people copy from `ls -l`.
 */
export function serialMatches(m: SerialMatch, port: SerialIdentity): boolean {
  if (m.path === undefined && m.byId === undefined && m.usbId === undefined && m.serial === undefined) return false;
  if (m.path !== undefined) {
    const paths = [port.path, ...port.byId.map((l) => BY_ID_DIR + l)];
    if (!paths.some((p) => anyGlob(m.path!, p))) return false;
  }
  if (m.byId !== undefined && !port.byId.some((l) => anyGlob(m.byId!, l))) return false;
  // sysfs prints idVendor/idProduct in lower case; the loader lower-cases the globs.
  const usbId = port.vendorId !== null && port.productId !== null ? `${port.vendorId}:${port.productId}`.toLowerCase() : null;
  if (m.usbId !== undefined && !anyGlob(m.usbId, usbId)) return false;
  if (m.serial !== undefined && !anyGlob(m.serial, port.serialNumber)) return false;
  return true;
}

/** The [serial:*] section for a port (last match wins), or null. */
export function matchSerialSection(p: Policy, port: SerialIdentity): SerialSection | null {
  const sections = p.serialSections ?? [];
  for (let i = sections.length - 1; i >= 0; i--) {
    const s = sections[i]!;
    if (serialMatches(s.match, port)) return s;
  }
  return null;
}
