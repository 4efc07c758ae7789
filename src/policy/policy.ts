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
  sectionKind,
  ValueError,
  type ListenAddress,
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
  /** Header of the latest file that declared the section (null for built-in). */
  file: string | null;
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
  names = names.filter((n) => n.endsWith('.ini') && !n.startsWith('.')).sort(byteOrder);
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
      err(e.line, cur.name, e.key, `missing '= value' (write '${e.key} = ${e.key.startsWith('allow') || e.key === 'cross-node' ? 'true' : '<value>'}')`);
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
  if (colon >= 0) {
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
    // A later file that changes the strategy away from pin without naming CPUs means the
    // earlier pin no longer applies; keeping it would make the later file an error.
    const strat = s.keys.get('strategy');
    if (strat && strat.value !== 'pin' && !s.keys.has('pin')) keys.delete('pin');
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
function val<T>(s: RawSection | undefined, key: string): T | undefined {
  return s?.keys.get(key)?.value as T | undefined;
}

/** The effective policy: built-in defaults, then the layered files' values; errors collected. */
function resolve(raw: RawPolicy, errors: ErrorList): Policy {
  const b = builtinPolicy();
  const sec = (name: string): RawSection | undefined => raw.sections.get(name);
  const err: ErrFn = (file, line, section, key, detail) => {
    errors.push(new PolicyError(file ?? '<built-in>', line, section, key, detail));
  };
  const cpus = sec('cpus');
  const net = sec('net');
  const agent = sec('agent');
  const metrics = sec('metrics');
  const { defaults, broken: defaultsBroken } = resolveDefaults(sec('defaults'), b, err);
  const sections: PolicySection[] = [];
  for (const s of raw.sections.values()) if (s.kind === 'net:' || s.kind === 'irq:') sections.push(resolveSection(s, defaults, defaultsBroken, err));
  const serialSections = resolveSerial(raw, err);

  return {
    files: [...raw.files],
    cpus: copy(val<number[] | null>(cpus, 'cpus') ?? b.cpus),
    excludeCpus: [...(val<number[]>(cpus, 'exclude-cpus') ?? b.excludeCpus)],
    allowIsolated: val<boolean>(cpus, 'allow-isolated') ?? b.allowIsolated,
    allowNohzFull: val<boolean>(cpus, 'allow-nohz-full') ?? b.allowNohzFull,
    onlineHotplugged: val<boolean>(cpus, 'online-hotplugged') ?? b.onlineHotplugged,
    rpsSockFlowEntries: val<number>(net, 'rps-sock-flow-entries') ?? b.rpsSockFlowEntries,
    defaults: { ...defaults, pin: copy(defaults.pin) },
    sections,
    // Only present when used, so a policy without serial ports keeps its earlier shape.
    ...(serialSections.length > 0 ? { serialSections } : {}),
    agent: {
      settleMs: val<number>(agent, 'settle-ms') ?? b.agent.settleMs,
      resyncIntervalS: val<number>(agent, 'resync-interval') ?? b.agent.resyncIntervalS,
      stateFile: val<string>(agent, 'state-file') ?? b.agent.stateFile,
    },
    metrics: resolveMetrics(metrics, b.metrics),
  };
}

/** [metrics]: a key set to `off` parses to null, which must win over the default. */
function resolveMetrics(s: RawSection | undefined, b: Policy['metrics']): Policy['metrics'] {
  const dir = s?.keys.get('textfile-directory');
  const listen = s?.keys.get('listen');
  const addr = listen?.value as ListenAddress | null | undefined;
  return {
    textfileDirectory: dir !== undefined ? (dir.value as string | null) : b.textfileDirectory,
    listen: addr ? { ...addr, file: listen!.file, line: listen!.line } : null,
  };
}

/** [defaults]: what every [net:*] and [irq:*] section inherits. `broken`: its errors are already reported. */
function resolveDefaults(d: RawSection | undefined, b: Policy, err: ErrFn): { defaults: Policy['defaults']; broken: boolean } {
  const defaults: Policy['defaults'] = {
    strategy: val<Strategy>(d, 'strategy') ?? b.defaults.strategy,
    pin: null,
    rps: val<TriState>(d, 'rps') ?? b.defaults.rps,
    xps: val<TriState>(d, 'xps') ?? b.defaults.xps,
    rpsFlowCnt: val<number>(d, 'rps-flow-cnt') ?? b.defaults.rpsFlowCnt,
    crossNode: val<boolean>(d, 'cross-node') ?? b.defaults.crossNode,
  };
  const broken = d?.broken ?? false;
  defaults.pin = broken ? (val<number[]>(d, 'pin') ?? null) : checkPin(d, 'defaults', defaults.strategy, undefined, err);
  return { defaults, broken };
}

/** One [net:*] or [irq:*] section, complete: what it does not say comes from [defaults]. */
function resolveSection(s: RawSection, defaults: Policy['defaults'], defaultsBroken: boolean, err: ErrFn): PolicySection {
  const kind = s.kind === 'net:' ? 'net' : 'irq';
  const match: Match = {};
  const matchKeys: [keyof Match, string][] =
    kind === 'net'
      ? [['name', 'match-name'], ['driver', 'match-driver'], ['pci', 'match-pci'], ['mac', 'match-mac']]
      : [['irq', 'match-irq']];
  for (const [field, key] of matchKeys) {
    const v = val<string[]>(s, key);
    if (v !== undefined) match[field] = [...v];
  }
  if (Object.keys(match).length === 0 && !s.broken) {
    const need = matchKeys.map(([, k]) => k).join(', ');
    err(s.file, s.line, s.name, null, `no ${need} key: the section would match nothing`);
  }
  const strategy = val<Strategy>(s, 'strategy') ?? defaults.strategy;
  // A section that inherits [defaults] strategy = pin without pin would only repeat the
  // error already reported for [defaults].
  const echoesDefaults = !s.keys.has('strategy') && !s.keys.has('pin') && strategy === 'pin' && defaults.pin === null;
  const skipChecks = s.broken || defaultsBroken || echoesDefaults;
  const pin = skipChecks ? (val<number[]>(s, 'pin') ?? (strategy === 'pin' ? defaults.pin : null)) : checkPin(s, s.name, strategy, defaults.pin, err);
  // [irq:*] sections only take match-irq, strategy and pin; the rest is inherited so that
  // every PolicySection is complete and the planner never meets an undefined field.
  return {
    name: s.name,
    kind,
    match,
    strategy,
    pin,
    rps: val<TriState>(s, 'rps') ?? defaults.rps,
    xps: val<TriState>(s, 'xps') ?? defaults.xps,
    rpsFlowCnt: val<number>(s, 'rps-flow-cnt') ?? defaults.rpsFlowCnt,
    crossNode: val<boolean>(s, 'cross-node') ?? defaults.crossNode,
    file: s.file ?? '<built-in>',
    line: s.line ?? 0,
  };
}

type ErrFn = (file: string | null, line: number | null, section: string, key: string | null, detail: string) => void;

const SERIAL_MATCH_KEYS: [keyof SerialMatch, string][] = [
  ['path', 'match-path'],
  ['byId', 'match-by-id'],
  ['usbId', 'match-usb-id'],
  ['serial', 'match-serial'],
];

/**
 * [serial:*] sections. They inherit nothing from [defaults] (that section is about NICs):
 * strategy defaults to pin, the one thing a serial section is for, so `pin` is required
 * unless the section says strategy = ignore.
 */
function resolveSerial(raw: RawPolicy, err: ErrFn): SerialSection[] {
  const out: SerialSection[] = [];
  for (const s of raw.sections.values()) {
    if (s.kind !== 'serial:') continue;
    const match: SerialMatch = {};
    for (const [field, key] of SERIAL_MATCH_KEYS) {
      const v = s.keys.get(key)?.value as string[] | undefined;
      if (v !== undefined) match[field] = [...v];
    }
    if (Object.keys(match).length === 0 && !s.broken) {
      err(s.file, s.line, s.name, null, `no ${SERIAL_MATCH_KEYS.map(([, k]) => k).join(', ')} key: the section would match nothing`);
    }
    const strategy = (s.keys.get('strategy')?.value as SerialSection['strategy'] | undefined) ?? 'pin';
    let pin: number[] | null;
    if (s.broken) pin = (s.keys.get('pin')?.value as number[] | undefined) ?? null;
    else if (!s.keys.has('strategy') && !s.keys.has('pin')) {
      err(s.file, s.line, s.name, 'pin', 'required: the CPUs for the port\'s IRQ (a cpulist, e.g. pin = 1), or strategy = ignore');
      pin = null;
    } else pin = checkPin(s, s.name, strategy, undefined, err);
    out.push({ name: s.name, match, strategy, pin, file: s.file ?? '<built-in>', line: s.line ?? 0 });
  }
  return out;
}

/** pin is required with strategy = pin and meaningless otherwise; returns the effective pin. */
function checkPin(
  s: RawSection | undefined,
  name: string,
  strategy: Strategy,
  inherited: number[] | null | undefined,
  err: ErrFn,
): number[] | null {
  const pin = s?.keys.get('pin');
  if (strategy === 'pin') {
    const cpus = (pin?.value as number[] | undefined) ?? inherited ?? null;
    if (cpus === null || cpus.length === 0) {
      const at = s?.keys.get('strategy') ?? pin ?? { file: s?.file ?? null, line: s?.line ?? null };
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
  const set = (m: Map<string, Setting>, key: string, value: unknown, f = file, line: number | null = null): void => {
    if (value !== null && value !== undefined) m.set(key, { value, file: f, line });
  };
  const sections = new Map<string, RawSection>();
  const fixed = (name: string): Map<string, Setting> => {
    const keys = new Map<string, Setting>();
    sections.set(name, { name, kind: name as SectionKind, file, line: null, keys, broken: false });
    return keys;
  };
  const c = fixed('cpus');
  set(c, 'cpus', p.cpus ?? null);
  set(c, 'exclude-cpus', p.excludeCpus);
  set(c, 'allow-isolated', p.allowIsolated);
  set(c, 'allow-nohz-full', p.allowNohzFull);
  set(c, 'online-hotplugged', p.onlineHotplugged);
  const d = fixed('defaults');
  set(d, 'strategy', p.defaults.strategy);
  set(d, 'pin', p.defaults.strategy === 'pin' ? p.defaults.pin : null);
  set(d, 'rps', p.defaults.rps);
  set(d, 'xps', p.defaults.xps);
  set(d, 'rps-flow-cnt', p.defaults.rpsFlowCnt);
  set(d, 'cross-node', p.defaults.crossNode);
  set(fixed('net'), 'rps-sock-flow-entries', p.rpsSockFlowEntries);
  const a = fixed('agent');
  set(a, 'settle-ms', p.agent.settleMs);
  set(a, 'resync-interval', p.agent.resyncIntervalS);
  set(a, 'state-file', p.agent.stateFile);
  const m = fixed('metrics');
  // null is "off" here, not "unset": write it as the value that parses to null.
  m.set('textfile-directory', { value: p.metrics.textfileDirectory, file, line: null });
  if (p.metrics.listen) m.set('listen', { value: { host: p.metrics.listen.host, port: p.metrics.listen.port }, file: p.metrics.listen.file, line: p.metrics.listen.line });
  for (const s of p.sections) {
    const keys = new Map<string, Setting>();
    const at = (key: string, v: unknown): void => set(keys, key, v, s.file, s.line);
    at('strategy', s.strategy);
    at('pin', s.strategy === 'pin' ? s.pin : null);
    if (s.kind === 'net') {
      at('match-name', s.match.name);
      at('match-driver', s.match.driver);
      at('match-pci', s.match.pci);
      at('match-mac', s.match.mac);
      at('rps', s.rps);
      at('xps', s.xps);
      at('rps-flow-cnt', s.rpsFlowCnt);
      at('cross-node', s.crossNode);
    } else {
      at('match-irq', s.match.irq);
    }
    const kind: SectionKind = s.kind === 'net' ? 'net:' : 'irq:';
    sections.set(s.name, { name: s.name, kind, file: s.file, line: s.line, keys, broken: false });
  }
  for (const s of p.serialSections ?? []) {
    const keys = new Map<string, Setting>();
    const at = (key: string, v: unknown): void => set(keys, key, v, s.file, s.line);
    for (const [field, key] of SERIAL_MATCH_KEYS) at(key, s.match[field]);
    at('strategy', s.strategy);
    at('pin', s.strategy === 'pin' ? s.pin : null);
    sections.set(s.name, { name: s.name, kind: 'serial:', file: s.file, line: s.line, keys, broken: false });
  }
  return { files: [...p.files], sections };
}

// ---------------------------------------------------------------------------------------
// Small helpers

function copy(a: number[] | null): number[] | null {
  return a === null ? null : [...a];
}

/** Largest policy file read; a real one is a few KB. */
export const MAX_POLICY_BYTES = 1024 * 1024;

function errnoText(code: string | undefined): string {
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
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
  try {
    if (fs.lstatSync(p, { throwIfNoEntry: false }) === undefined) return false;
  } catch (e) {
    // ENOTDIR: /etc/affinityd is a file; EACCES: a directory on the way cannot be searched.
    throw new PolicyError(p, null, null, null, `cannot read policy file: ${errnoText((e as NodeJS.ErrnoException).code)}`);
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new PolicyError(p, null, null, null, `cannot read policy file: ${code === 'ENOENT' ? 'dangling symbolic link' : errnoText(code)}`);
  }
  if (!st.isFile()) throw new PolicyError(p, null, null, null, `cannot read policy file: ${st.isDirectory() ? 'is a directory' : 'not a regular file'}`);
  return true;
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
