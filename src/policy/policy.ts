// policy/policy — load the operator's policy: INI files → validated, layered Policy.
//
// Three steps, kept apart so that drop-ins layer correctly:
//   scan     one file → its sections and raw settings, with line numbers (scan.ts) and
//            per-value checks (schema.ts);
//   merge    layer the file onto what came before, key by key (later wins);
//   resolve  fill defaults, inherit [defaults] into [net:*]/[irq:*], cross-key checks.
// Only the merged result is resolved, so a drop-in may complete what the main file started
// (main: strategy = pin, drop-in: pin = 2-3) and a drop-in's [defaults] reaches every
// section that did not set the key itself. Every problem becomes a PolicyError naming
// file:line, section and key; all of them are collected and the first is thrown.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Match, Policy, PolicySection, SerialMatch, SerialSection, Strategy, TriState } from '../types.js';
import { ErrorList, PolicyError } from './errors.js';
import { scanIni } from './scan.js';
import { readRegularFile, UnreadableFileError } from '../snapshot/fsroot.js';
import {
  builtinPolicy,
  FIXED_SECTIONS,
  keysOf,
  keySpec,
  kindsOf,
  kindTitle,
  LABEL_RE,
  LABELLED_PREFIXES,
  matchSpecsOf,
  objectOf,
  parseBool,
  sectionKind,
  specsOf,
  ValueError,
  type KeySpec,
  type SectionKind,
} from './schema.js';
import { closest } from './suggest.js';
import { shippedPolicyPath } from './shipped.js';

export { PolicyError } from './errors.js';
export { matchNicSection, matchIrqSection, matchSerialSection, type NicIdentity } from './match.js';
export { formatPolicy } from './format.js';
export { shippedPolicyPath } from './shipped.js';

/** An empty value (`pin =`) resets the key to its default, e.g. to undo a main-file key in a drop-in. */
const RESET = Symbol('reset');

interface Setting {
  value: unknown;
  file: string;
  line: number | null;
}

interface RawSection {
  name: string;
  kind: SectionKind;
  /** The latest file that declared the section (rawOf: the file a hand-built Policy names last). */
  file: string;
  line: number | null;
  keys: Map<string, Setting>;
  /** A value in it failed to parse: skip cross-key checks that would only echo that error. */
  broken: boolean;
}

interface RawPolicy {
  files: string[];
  /** Insertion order = match order for [net:*]/[irq:*]; a re-declared section moves last. */
  sections: Map<string, RawSection>;
}

// The layered raw settings behind each Policy this module returned, so that parsePolicy's
// `base` keeps knowing which keys were set and which were inherited. A Policy built by hand
// (not in the map) is taken as if every field had been written out.
const rawOfPolicy = new WeakMap<Policy, RawPolicy>();

// ---------------------------------------------------------------------------------------
// Public API

/**
 * Parse one INI file, layered on `base` (drop-ins) or on the built-in defaults. Throws a
 * PolicyError (message: the first problem; `errors`: all of them).
 */
export function parsePolicy(text: string, file: string, base?: Policy): Policy {
  const { policy, errors } = build(base === undefined ? emptyRaw() : rawOf(base), [{ text, file }]);
  if (errors.length > 0) throw PolicyError.collect(errors);
  return policy;
}

/** Every problem in a file (layered on `base`), in line order; [] when it is valid. */
export function validatePolicy(text: string, file: string, base?: Policy): PolicyError[] {
  return build(base === undefined ? emptyRaw() : rawOf(base), [{ text, file }]).errors;
}

export interface LoadOptions {
  /** Root of the filesystem to read (fixtures); default "/". */
  root?: string;
  /** --config: read only this file (no drop-ins), layered on the built-in defaults. */
  configFile?: string;
}

/**
 * The files loadPolicy reads, in layering order: `configFile` alone, or
 * <root>/etc/affinityd/affinityd.ini (if present) then <root>/etc/affinityd/affinityd.d/*.ini
 * in byte order of their names (so 10-x.ini < 20-y.ini < a.ini, independent of locale).
 */
export function policyFiles(opts: LoadOptions = {}): string[] {
  if (opts.configFile !== undefined) return [opts.configFile];
  const dir = path.join(opts.root ?? '/', 'etc/affinityd');
  const main = path.join(dir, 'affinityd.ini');
  // Absent is normal (built-in defaults). Present but not a readable regular file — a dangling
  // or looping link, a directory, a FIFO, /etc/affinityd being a file — is the operator's
  // policy we cannot read: say so (exit 78) rather than apply the defaults as if it did not exist.
  const files = policyFileExists(main) ? [main] : [];
  const dropDir = path.join(dir, 'affinityd.d');
  let names: string[] = [];
  try {
    names = fs.readdirSync(dropDir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // No drop-in directory is the normal case; anything else hides drop-ins we were meant to read.
    if (code !== 'ENOENT') throw new PolicyError(dropDir, null, null, null, `cannot read the drop-in directory: ${errnoText(code)}`);
  }
  // sort() without a comparator compares UTF-16 code units: byte order for ASCII names, and
  // never the locale's collation. (libuv's scandir already lists them by strcmp, but Node
  // does not promise any order.)
  names = names.filter((n) => n.endsWith('.ini') && !n.startsWith('.')).sort();
  for (const n of names) if (policyFileExists(path.join(dropDir, n))) files.push(path.join(dropDir, n));
  return files;
}

/**
 * Load the policy: `configFile` only when given, else the main file then the drop-ins.
 * No file at all → defaultPolicy(). Errors from every file are collected before throwing.
 */
export function loadPolicy(opts: LoadOptions = {}): Policy {
  const files = policyFiles(opts);
  if (files.length === 0) return defaultPolicy();
  const inputs = files.map((file) => ({ text: readPolicyFile(file), file }));
  const { policy, errors } = build(emptyRaw(), inputs);
  if (errors.length > 0) throw PolicyError.collect(errors);
  return policy;
}

/**
 * The policy of the shipped etc/affinityd.ini (a fresh object each call). The file is found
 * next to the package (dist/src/policy/policy.js → ../../../etc); it is in package.json
 * "files". Should a repackaging lose it, the built-in table is the same policy (tested), so
 * fall back to it rather than refuse to start.
 */
export function defaultPolicy(): Policy {
  const shipped = shippedPolicyPath();
  if (shipped === null) return builtinPolicy();
  return parsePolicy(readPolicyFile(shipped), shipped);
}

// ---------------------------------------------------------------------------------------
// Scan + merge + resolve

function build(base: RawPolicy, inputs: { text: string; file: string }[]): { policy: Policy; errors: PolicyError[] } {
  let raw = base;
  const errors = new ErrorList();
  for (const { text, file } of inputs) {
    if (text.length > MAX_POLICY_BYTES) {
      errors.push(new PolicyError(file, null, null, null, `${text.length} characters, larger than any policy (max ${MAX_POLICY_BYTES}): refused`));
      raw = { ...raw, files: [...raw.files, file] };
      continue;
    }
    const layer = scanLayer(text, file, errors);
    raw = merge(raw, layer, file);
  }
  const policy = resolve(raw, errors);
  rawOfPolicy.set(policy, raw);
  const order = new Map(raw.files.map((f, i) => [f, i]));
  return { policy, errors: errors.list((a, b) => (order.get(a.file) ?? -1) - (order.get(b.file) ?? -1) || (a.line ?? 0) - (b.line ?? 0)) };
}

function emptyRaw(): RawPolicy {
  return { files: [], sections: new Map() };
}

function scanLayer(text: string, file: string, errors: ErrorList): RawSection[] {
  const sections = new Map<string, RawSection>();
  const firstKeyLine = new Map<RawSection, Map<string, number>>();
  // undefined: before any header; null: inside a rejected header (its keys are not checked,
  // one error for the header is enough).
  let cur: RawSection | null | undefined;
  const err = (line: number, section: string | null, key: string | null, detail: string): void => {
    errors.push(new PolicyError(file, line, section, key, detail));
  };

  for (const e of scanIni(text)) {
    if (e.type === 'bad') {
      err(e.line, cur ? cur.name : null, null, e.why);
      continue;
    }
    if (e.type === 'section') {
      const problem = checkSectionName(e.name);
      if (problem !== null) {
        err(e.line, e.name, null, problem);
        cur = null;
        continue;
      }
      const existing = sections.get(e.name);
      if (existing) {
        err(e.line, e.name, null, `duplicate section (first at line ${existing.line}); merge the two`);
        cur = existing;
        continue;
      }
      cur = { name: e.name, kind: sectionKind(e.name)!, file, line: e.line, keys: new Map(), broken: false };
      sections.set(e.name, cur);
      firstKeyLine.set(cur, new Map());
      continue;
    }
    // A key line.
    if (cur === null) continue;
    if (cur === undefined) {
      const kinds = kindsOf(e.key);
      const where = kinds.length ? ` (it belongs in ${kinds.map(kindTitle).join(' or ')})` : '';
      err(e.line, null, e.key, `key outside any [section]${where}`);
      continue;
    }
    const spec = keySpec(cur.kind, e.key);
    if (!spec) {
      err(e.line, cur.name, e.key, unknownKeyDetail(e.key, cur.kind));
      continue;
    }
    const seen = firstKeyLine.get(cur)!;
    const first = seen.get(e.key);
    if (first !== undefined) {
      err(e.line, cur.name, e.key, `duplicate key (first set at line ${first})`);
      continue;
    }
    seen.set(e.key, e.line);
    if (e.bare) {
      err(e.line, cur.name, e.key, `missing '= value' (write '${e.key} = ${spec.parse === parseBool ? 'true' : '<value>'}')`);
      cur.broken = true;
      continue;
    }
    if (e.value === '') {
      cur.keys.set(e.key, { value: RESET, file, line: e.line });
      continue;
    }
    try {
      cur.keys.set(e.key, { value: spec.parse(e.value), file, line: e.line });
    } catch (x) {
      if (!(x instanceof ValueError)) throw x;
      err(e.line, cur.name, e.key, x.message);
      cur.broken = true;
    }
  }
  return [...sections.values()];
}

function checkSectionName(name: string): string | null {
  const kind = sectionKind(name);
  if (kind !== null) {
    if (!kind.endsWith(':')) return null;
    const label = name.slice(kind.length);
    if (label === '') return `empty label: write [${kind}<label>], e.g. [${kind}${kind === 'serial:' ? 'gps' : 'wan'}]`;
    if (!LABEL_RE.test(label)) {
      return `label '${label}' may only contain letters, digits and . _ - @ + (put interface names in match-name, not in the header)`;
    }
    return null;
  }
  const colon = name.indexOf(':');
  let guess: string | null;
  if (colon > 0) {
    // Few prefixes exist, so a 3-letter slip of two ([nic:wan]) is still unambiguous.
    const p = closest(name.slice(0, colon), LABELLED_PREFIXES, 2);
    guess = p === null ? null : `[${p}:${name.slice(colon + 1)}]`;
  } else {
    const f = closest(name, FIXED_SECTIONS);
    guess = f === null ? null : `[${f}]`;
  }
  const known = '[cpus], [defaults], [net], [agent], [metrics], [net:<label>], [irq:<label>], [serial:<label>]';
  return guess !== null ? `unknown section (did you mean '${guess}'?)` : `unknown section; known sections: ${known}`;
}

function unknownKeyDetail(key: string, kind: SectionKind): string {
  const kinds = kindsOf(key);
  if (kinds.length) return `not valid in ${kindTitle(kind)} sections (it belongs in ${kinds.map(kindTitle).join(' or ')})`;
  const here = keysOf(kind);
  const guess = closest(key, here);
  return guess !== null ? `unknown key (did you mean '${guess}'?)` : `unknown key; valid here: ${here.join(', ')}`;
}

/** Layer one file's sections onto `base` without mutating it (a base Policy stays valid). */
function merge(base: RawPolicy, layer: RawSection[], file: string): RawPolicy {
  const sections = new Map(base.sections);
  for (const s of layer) {
    const prev = sections.get(s.name);
    const keys = new Map(prev?.keys ?? []);
    // A later file that changes the strategy away from pin means the earlier pin no longer
    // applies; keeping it would make the later file an error. (A pin the later file sets
    // itself is put back by the loop below.)
    const strat = s.keys.get('strategy');
    if (strat && strat.value !== 'pin') keys.delete('pin');
    for (const [k, v] of s.keys) {
      if (v.value === RESET) keys.delete(k);
      else keys.set(k, v);
    }
    const merged: RawSection = { ...s, keys, broken: s.broken || (prev?.broken ?? false) };
    if (s.kind.endsWith(':')) sections.delete(s.name); // re-declared → matches after older sections
    sections.set(s.name, merged);
  }
  return { files: [...base.files, file], sections };
}

/** Typed value of a key in a raw section (parsed by the schema already), undefined when not given. */
function val<T>(s: RawSection, key: string): T | undefined {
  return s.keys.get(key)?.value as T | undefined;
}

/**
 * The loaded value of a key: as set (a copy), with the file and line that set it for keys
 * that carry their origin, or undefined when the section does not set it.
 */
function loaded(s: RawSection | undefined, spec: KeySpec): unknown {
  const set = s?.keys.get(spec.key);
  if (set === undefined) return undefined;
  if (spec.origin && set.value !== null) return { ...(set.value as object), file: set.file, line: set.line };
  return structuredClone(set.value);
}

/** The effective policy: built-in defaults, then the layered files' values; errors collected. */
function resolve(raw: RawPolicy, errors: ErrorList): Policy {
  const err: ErrFn = (file, line, section, key, detail) => {
    errors.push(new PolicyError(file, line, section, key, detail));
  };
  // Every fixed-section key: the table's default (builtinPolicy), replaced by the value a file
  // set — also when that value is null (`listen = off`, `textfile-directory = off`).
  const policy = builtinPolicy();
  policy.files = [...raw.files];
  for (const kind of FIXED_SECTIONS) {
    const s = raw.sections.get(kind);
    const target = objectOf(policy, kind);
    for (const spec of specsOf(kind)) {
      const v = loaded(s, spec);
      if (v !== undefined) target[spec.field] = v;
    }
  }
  // [defaults] pin only counts with strategy = pin (checked: required there, an error elsewhere).
  const d = raw.sections.get('defaults');
  const defaultsBroken = d?.broken ?? false;
  // Without a [defaults] section the strategy is the built-in one, which needs no pin.
  if (d !== undefined && !defaultsBroken) policy.defaults.pin = checkPin(d, 'defaults', policy.defaults.strategy, undefined, err);
  for (const s of raw.sections.values()) if (s.kind === 'net:' || s.kind === 'irq:') policy.sections.push(resolveSection(s, policy.defaults, defaultsBroken, err));
  const serialSections = resolveSerial(raw, err);
  // Only present when used, so a policy without serial ports keeps its earlier shape.
  if (serialSections.length > 0) policy.serialSections = serialSections;
  return policy;
}

/** The match-* keys a section sets, as its `match`; an error when it sets none. */
function resolveMatch<M extends object>(s: RawSection, err: ErrFn): M {
  const match: Record<string, unknown> = {};
  const specs = matchSpecsOf(s.kind);
  for (const spec of specs) {
    const v = loaded(s, spec);
    if (v !== undefined) match[spec.field] = v;
  }
  if (Object.keys(match).length === 0 && !s.broken) {
    err(s.file, s.line, s.name, null, `no ${specs.map((k) => k.key).join(', ')} key: the section would match nothing`);
  }
  return match as M;
}

/** One [net:*] or [irq:*] section, complete: what it does not say comes from [defaults]. */
function resolveSection(s: RawSection, defaults: Policy['defaults'], defaultsBroken: boolean, err: ErrFn): PolicySection {
  const match = resolveMatch<Match>(s, err);
  const strategy = val<Strategy>(s, 'strategy') ?? defaults.strategy;
  // A section that inherits [defaults] strategy = pin without pin would only repeat the
  // error already reported for [defaults].
  const echoesDefaults = !s.keys.has('strategy') && !s.keys.has('pin') && strategy === 'pin' && defaults.pin === null;
  // Skipped checks mean an error was reported (here or in [defaults]), and a policy with
  // errors is never returned: no pin value can matter then.
  const skipChecks = s.broken || defaultsBroken || echoesDefaults;
  const pin = skipChecks ? null : checkPin(s, s.name, strategy, defaults.pin, err);
  // Every other key [defaults] has: the section's own value, else the inherited one. [irq:*]
  // sections only take match-irq, strategy and pin; the rest is inherited so that every
  // PolicySection is complete and the planner never meets an undefined field.
  const inherited: Record<string, unknown> = {};
  const from = defaults as unknown as Record<string, unknown>;
  for (const spec of specsOf('defaults')) {
    if (spec.key === 'strategy' || spec.key === 'pin') continue;
    inherited[spec.field] = loaded(s, spec) ?? structuredClone(from[spec.field]);
  }
  return {
    name: s.name,
    kind: s.kind === 'net:' ? 'net' : 'irq',
    match,
    strategy,
    pin,
    ...(inherited as Pick<PolicySection, 'rps' | 'xps' | 'rpsFlowCnt' | 'crossNode'>),
    file: s.file,
    line: s.line ?? 0,
  };
}

type ErrFn = (file: string, line: number | null, section: string, key: string | null, detail: string) => void;

/**
 * [serial:*] sections. They inherit nothing from [defaults] (that section is about NICs):
 * strategy defaults to pin, the one thing a serial section is for, so `pin` is required
 * unless the section says strategy = ignore.
 */
function resolveSerial(raw: RawPolicy, err: ErrFn): SerialSection[] {
  const out: SerialSection[] = [];
  const strategyDefault = specsOf('serial:').find((k) => k.key === 'strategy')!.default as SerialSection['strategy'];
  for (const s of raw.sections.values()) {
    if (s.kind !== 'serial:') continue;
    const match = resolveMatch<SerialMatch>(s, err);
    const strategy = val<SerialSection['strategy']>(s, 'strategy') ?? strategyDefault;
    let pin: number[] | null;
    if (s.broken) pin = null; // an error was reported: the policy is not returned
    else if (!s.keys.has('strategy') && !s.keys.has('pin')) {
      err(s.file, s.line, s.name, 'pin', 'required: the CPUs for the port\'s IRQ (a cpulist, e.g. pin = 1), or strategy = ignore');
      pin = null;
    } else pin = checkPin(s, s.name, strategy, undefined, err);
    out.push({ name: s.name, match, strategy, pin, file: s.file, line: s.line ?? 0 });
  }
  return out;
}

/** pin is required with strategy = pin and meaningless otherwise; returns the effective pin. */
function checkPin(
  s: RawSection,
  name: string,
  strategy: Strategy,
  inherited: number[] | null | undefined,
  err: ErrFn,
): number[] | null {
  const pin = s.keys.get('pin');
  if (strategy === 'pin') {
    const cpus = (pin?.value as number[] | undefined) ?? inherited ?? null;
    if (cpus === null || cpus.length === 0) {
      // Reported where the strategy (else the pin) was set, else at the section's header.
      const at = s.keys.get('strategy') ?? pin ?? s;
      err(at.file, at.line, name, 'pin', 'required when strategy = pin (a cpulist, e.g. pin = 2-3)');
      return null;
    }
    return [...cpus];
  }
  if (pin !== undefined) {
    err(pin.file, pin.line, name, 'pin', `only used with strategy = pin, but strategy is '${strategy}' (remove pin or set strategy = pin)`);
  }
  return null;
}

/** Raw settings behind a Policy: remembered for our own results, reconstructed otherwise. */
function rawOf(p: Policy): RawPolicy {
  const known = rawOfPolicy.get(p);
  if (known) return known;
  const file = p.files.at(-1) ?? '<policy>';
  const sections = new Map<string, RawSection>();
  // Each key of the section's object, as if written out: a null that only means "the
  // default" is left unset; a null that is a value of its own (textfile-directory = off)
  // is kept; pin only with strategy = pin.
  const keysOf = (kind: SectionKind, o: Record<string, unknown>, f: string, line: number | null): Map<string, Setting> => {
    const keys = new Map<string, Setting>();
    for (const spec of specsOf(kind)) {
      // Only labelled sections have match-* keys, and each of them has a `match`.
      const v = spec.match ? (o.match as Record<string, unknown>)[spec.field] : o[spec.field];
      if (v === undefined || (v === null && (spec.default ?? null) === null)) continue;
      if (spec.key === 'pin' && o.strategy !== 'pin') continue;
      if (spec.origin && v !== null) {
        const { file: vf, line: vl, ...value } = v as { file: string; line: number | null };
        keys.set(spec.key, { value, file: vf, line: vl });
      } else keys.set(spec.key, { value: v, file: f, line });
    }
    return keys;
  };
  for (const kind of FIXED_SECTIONS) {
    sections.set(kind, { name: kind, kind, file, line: null, keys: keysOf(kind, objectOf(p, kind), file, null), broken: false });
  }
  for (const s of p.sections) {
    const kind: SectionKind = s.kind === 'net' ? 'net:' : 'irq:';
    sections.set(s.name, { name: s.name, kind, file: s.file, line: s.line, keys: keysOf(kind, s as unknown as Record<string, unknown>, s.file, s.line), broken: false });
  }
  for (const s of p.serialSections ?? []) {
    sections.set(s.name, { name: s.name, kind: 'serial:', file: s.file, line: s.line, keys: keysOf('serial:', s as unknown as Record<string, unknown>, s.file, s.line), broken: false });
  }
  return { files: [...p.files], sections };
}

// ---------------------------------------------------------------------------------------
// Small helpers

/** Largest policy file read; a real one is a few KB. */
export const MAX_POLICY_BYTES = 1024 * 1024;

function errnoText(code: string | undefined): string {
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a path component is not a directory';
    case 'ELOOP':
      return 'too many levels of symbolic links (a link loop)';
    default:
      return code ?? 'error';
  }
}

function readPolicyFile(file: string): string {
  try {
    return readRegularFile(file, MAX_POLICY_BYTES);
  } catch (e) {
    if (e instanceof UnreadableFileError) throw new PolicyError(file, null, null, null, `cannot read policy file: ${e.message.slice(file.length + 2)}`);
    throw new PolicyError(file, null, null, null, `cannot read policy file: ${errnoText((e as NodeJS.ErrnoException).code)}`);
  }
}

/**
 * Whether a policy file is there to be read: false only when nothing is at the path; a name
 * that exists but is not a readable regular file throws a PolicyError.
 */
function policyFileExists(p: string): boolean {
  let st: fs.Stats;
  try {
    if (fs.lstatSync(p, { throwIfNoEntry: false }) === undefined) return false;
    st = fs.statSync(p);
  } catch (e) {
    // ENOTDIR: /etc/affinityd is a file; EACCES: a directory on the way cannot be searched
    // (lstat and stat walk the same directories, so either fails the same way). lstat never
    // throws ENOENT here: an ENOENT is stat's, on a link to nothing.
    const code = (e as NodeJS.ErrnoException).code;
    throw new PolicyError(p, null, null, null, `cannot read policy file: ${code === 'ENOENT' ? 'dangling symbolic link' : errnoText(code)}`);
  }
  if (!st.isFile()) throw new PolicyError(p, null, null, null, `cannot read policy file: ${st.isDirectory() ? 'is a directory' : 'not a regular file'}`);
  return true;
}
