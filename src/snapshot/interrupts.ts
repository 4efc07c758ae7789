// snapshot/interrupts — parser for the text of /proc/interrupts (pure: text in, rows out).
//
// Layout, as kernel/irq/proc.c prints it:
//   header   "           CPU0       CPU1       CPU3  "   one column per ONLINE CPU only, so
//            column k is not CPU k once a CPU is offline (CPU10 missing → CPU11 follows CPU9).
//   numeric  " 38:   0  1684  <chip> [hwirq][-handler|Edge|Level]  action[, action…]"
//   symbolic "LOC:   23587  25967   Local timer interrupts"  (arch counters: x86, arm64 IPIn,
//            s390 EXT, I/O — the latter before the numeric rows, and with a '/' in the label)
//   global   "ERR:  0" / "MIS:  0" / "Err:  0"  one machine-wide value, not one per CPU.
//
// The label ends at the first ':' and the counts follow without a guaranteed space
// ("IPI0:2768808080"), so we never split the line on whitespace first. Rows of 1152 CPUs are
// 12.7 KB, so the counts are read with a char-code scanner instead of split()/regex.
//
// What follows the counts is "chip [hwirq] trigger  actions", and every kernel generation
// prints it differently (see classifyTail). A line we cannot make sense of becomes a warning,
// never an exception: a snapshot must survive an odd driver name or a truncated read.

import { clip } from '../text/printable.js';

export interface InterruptRow {
  irq: number;
  /** Count per online CPU, keyed by CPU number (from the header, not the column index). */
  counts: Record<number, number>;
  total: number;
  /** Interrupt chip, without the hwirq and trigger ("IR-PCI-MSIX-0000:41:00.0", "GICv3", "IO-APIC"). */
  chip: string;
  /** Action names in request order; [] when the line has no handler. */
  actions: string[];
  /** Actions joined with ", " as printed; the whole unparsed tail when the layout was not recognised. */
  name: string;
  /** 1-based line number in the file. */
  line: number;
  /** Hardware IRQ number inside the chip's domain (MSI-X vector index on new kernels), when printed. */
  hwirq?: number;
  /** Flow handler / trigger as printed ("edge", "fasteoi", "Level"), when printed. */
  trigger?: string;
}

export interface SymbolicRow {
  /** "NMI", "LOC", "IPI0", "I/O", "ERR"… */
  label: string;
  /**
   * Per-CPU counts keyed by CPU number. Empty for machine-wide counters (ERR, MIS, Err),
   * which print one value: that value is in `total`.
   */
  counts: Record<number, number>;
  total: number;
  description: string;
  line: number;
}

export interface ParsedInterrupts {
  /** Column index → CPU number, from the header. */
  cpus: number[];
  irqs: InterruptRow[];
  symbolic: SymbolicRow[];
  warnings: string[];
}

export class InterruptsFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InterruptsFormatError';
  }
}

/** Most per-line warnings one parse reports. */
const MAX_WARNINGS = 100;

/** Machine-wide counters: one value whatever the CPU count. */
const GLOBAL_LABELS = new Set(['ERR', 'MIS', 'Err']);

/** Largest CPU number we accept in the header (CONFIG_NR_CPUS max is 8192). */
const MAX_CPU = 8191;

const SPACE = 0x20;
const TAB = 0x09;
const ZERO = 0x30;
const NINE = 0x39;

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB || c === 0x0d;
}

/** Header line → CPU numbers; throws on anything that is not a row of CPUn tokens. */
function parseHeader(line: string | undefined, file: string): number[] {
  if (line === undefined || line.trim() === '') {
    throw new InterruptsFormatError(`${file}:1: missing header line (expected "CPU0 CPU1 ...")`);
  }
  const cpus: number[] = [];
  const seen = new Set<number>();
  for (const tok of line.trim().split(/\s+/)) {
    const m = /^CPU(\d+)$/.exec(tok);
    if (!m) throw new InterruptsFormatError(`${file}:1: garbled header: "${clip(tok, 40)}" is not a CPU column name`);
    const cpu = Number(m[1]);
    if (cpu > MAX_CPU) throw new InterruptsFormatError(`${file}:1: garbled header: CPU${cpu} beyond CPU${MAX_CPU}`);
    if (seen.has(cpu)) throw new InterruptsFormatError(`${file}:1: garbled header: CPU${cpu} listed twice`);
    seen.add(cpu);
    cpus.push(cpu);
  }
  return cpus;
}

interface Counts {
  values: number[];
  /** Index in the line just after the last count read. */
  end: number;
}

/**
 * Read up to `max` unsigned decimal tokens starting at `pos`. A token must end at a blank or
 * the end of the line, so "5-edge" or "27 Level" stop the scan without being eaten.
 */
function scanCounts(line: string, pos: number, max: number): Counts {
  const values: number[] = [];
  const len = line.length;
  let end = pos;
  let i = pos;
  while (values.length < max) {
    while (i < len && isBlank(line.charCodeAt(i))) i++;
    let v = 0;
    const start = i;
    while (i < len) {
      const c = line.charCodeAt(i);
      if (c < ZERO || c > NINE) break;
      v = v * 10 + (c - ZERO);
      i++;
    }
    if (i === start || (i < len && !isBlank(line.charCodeAt(i)))) break;
    values.push(v);
    end = i;
  }
  return { values, end };
}

/** Flow-handler names the kernel glues to the chip or hwirq ("PCI-MSI-edge", "5-edge"). */
const GLUED_TRIGGER = /^(.*)-(edge|level|fasteoi|simple|percpu|percpu_devid|eoi|edge_eoi|level_eoi|fasteoi_ack)$/;
/** GENERIC_IRQ_SHOW_LEVEL (arm/arm64/riscv) prints a separate "Edge"/"Level" word. */
const WORD_TRIGGER = /^(Edge|Level)$/;
const DIGITS = /^\d+$/;

interface Tail {
  chip: string;
  hwirq?: number;
  trigger?: string;
  name: string;
}

/** Split "chip hwirq" tokens: a trailing all-digit token after at least one chip word is the hwirq. */
function chipAndHwirq(tokens: string[], into: Tail): void {
  const last = tokens[tokens.length - 1];
  if (tokens.length >= 2 && last !== undefined && DIGITS.test(last)) {
    into.hwirq = Number(last);
    tokens.pop();
  }
  into.chip = tokens.join(' ');
}

/**
 * Separate chip, hwirq, trigger and action text. The kernel prints " %8s" chip, " %*d"
 * hwirq (blank without a domain), then "-%-8s" handler (x86) or " %-8s" Edge/Level (arm),
 * then "  " and the actions. Generations seen in the corpus:
 *   old  "IO-APIC-fasteoi   acpi"          chip glued to handler
 *   mid  "IR-PCI-MSI 524288-edge  eth0"    hwirq glued to handler
 *   new  "IR-PCI-MSIX-0000:41:00.0  1-edge  ice-eno1-TxRx-0"
 *   arm  "GICv3  27 Level  arch_timer", "ITS-MSI 65536 Edge  nvme0q0"
 *   s390 "PCI-MSI  mlx5_comp0@pci:…"     no hwirq, no trigger
 * The first trigger-looking token ends the chip; everything after it is the action list,
 * kept verbatim because action names contain spaces ("PCIe PME, pciehp"). Without a trigger
 * the first run of two or more blanks separates chip from actions; with neither we cannot
 * tell, and keep the whole text as the name.
 */
function classifyTail(tail: string): Tail {
  const out: Tail = { chip: '', name: '' };
  if (tail === '') return out;
  // Tokens with their end offsets, so the action text can be sliced out unchanged.
  const re = /\S+/g;
  const tokens: string[] = [];
  let m: RegExpExecArray | null;
  while ((m = re.exec(tail)) !== null) {
    const tok = m[0];
    const end = m.index + tok.length;
    const word = WORD_TRIGGER.exec(tok);
    if (word && tokens.length > 0) {
      out.trigger = word[1]!;
      chipAndHwirq(tokens, out);
      // An arm chip may also have a handler name glued after the level word ("Level  -fasteoi").
      let rest = tail.slice(end);
      const handler = /^\s*-(\w+)(?=\s|$)/.exec(rest);
      if (handler) rest = rest.slice(handler[0].length);
      out.name = rest.trim();
      return out;
    }
    const glued = GLUED_TRIGGER.exec(tok);
    if (glued) {
      out.trigger = glued[2]!;
      const prefix = glued[1]!;
      if (DIGITS.test(prefix)) {
        out.hwirq = Number(prefix);
        out.chip = tokens.join(' ');
      } else {
        if (prefix !== '') tokens.push(prefix);
        chipAndHwirq(tokens, out);
      }
      out.name = tail.slice(end).trim();
      return out;
    }
    tokens.push(tok);
  }
  const gap = /^(\S+(?: \S+)*?)(?:\s+(\d+))?\s{2,}(\S.*)$/.exec(tail);
  if (gap) {
    out.chip = gap[1]!;
    if (gap[2] !== undefined) out.hwirq = Number(gap[2]);
    out.name = gap[3]!.trim();
  } else {
    out.name = tail;
  }
  return out;
}

function splitActions(name: string): string[] {
  if (name === '') return [];
  return name.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * Parse /proc/interrupts text. Throws InterruptsFormatError only when the header is missing
 * or garbled (without it no count can be attributed to a CPU); every other odd line becomes a
 * "<file>:<line>: …" warning and is skipped or kept partially.
 */
export function parseProcInterrupts(text: string, file = '/proc/interrupts'): ParsedInterrupts {
  const lines = text.split('\n');
  const cpus = parseHeader(lines[0], file);
  const ncpu = cpus.length;
  const irqs: InterruptRow[] = [];
  const symbolic: SymbolicRow[] = [];
  const warnings: string[] = [];
  // One warning per odd line, but not a million of them for a garbage file: the rest are counted.
  let unlisted = 0;
  const warn = (w: string): void => {
    if (warnings.length < MAX_WARNINGS) warnings.push(w);
    else unlisted++;
  };
  const seenIrq = new Set<number>();

  for (let li = 1; li < lines.length; li++) {
    const line = lines[li]!;
    const lineNo = li + 1;
    const colon = line.indexOf(':');
    if (colon < 0) {
      // Blank and whitespace-only lines occur (end of file, mid-file in fixtures): not an error.
      if (line.trim() !== '') warn(`${file}:${lineNo}: no "label:" at the start of the line, skipped`);
      continue;
    }
    const label = line.slice(0, colon).trim();
    if (label === '' || /\s/.test(label)) {
      warn(`${file}:${lineNo}: invalid row label "${clip(label, 40)}", skipped`);
      continue;
    }
    const { values, end } = scanCounts(line, colon + 1, ncpu);
    const tail = line.slice(end).trim();
    const counts: Record<number, number> = {};
    let total = 0;

    if (DIGITS.test(label)) {
      const irq = Number(label);
      if (seenIrq.has(irq)) {
        warn(`${file}:${lineNo}: IRQ ${clip(label, 20)} listed twice, later row skipped`);
        continue;
      }
      seenIrq.add(irq);
      if (values.length < ncpu) {
        warn(`${file}:${lineNo}: IRQ ${clip(label, 20)} has ${values.length} count columns, header has ${ncpu} CPUs`);
      }
      for (let k = 0; k < values.length; k++) {
        const v = values[k]!;
        counts[cpus[k]!] = v;
        total += v;
      }
      const t = classifyTail(tail);
      const row: InterruptRow = {
        irq,
        counts,
        total,
        chip: t.chip,
        actions: splitActions(t.name),
        name: t.name,
        line: lineNo,
      };
      if (t.hwirq !== undefined) row.hwirq = t.hwirq;
      if (t.trigger !== undefined) row.trigger = t.trigger;
      irqs.push(row);
      continue;
    }

    // Symbolic row. A single value without a description is a machine-wide counter
    // (ERR/MIS/Err; the set is arch-specific, hence the shape test besides the names).
    const global = values.length === 1 && (GLOBAL_LABELS.has(label) || (ncpu > 1 && tail === ''));
    if (global) {
      total = values[0]!;
    } else {
      if (values.length < ncpu) {
        warn(`${file}:${lineNo}: ${clip(label, 40)} has ${values.length} count columns, header has ${ncpu} CPUs`);
      }
      for (let k = 0; k < values.length; k++) {
        const v = values[k]!;
        counts[cpus[k]!] = v;
        total += v;
      }
    }
    symbolic.push({ label, counts, total, description: tail, line: lineNo });
  }
  if (unlisted > 0) warnings.push(`${file}: ${unlisted} more odd line(s) not listed`);
  return { cpus, irqs, symbolic, warnings };
}
