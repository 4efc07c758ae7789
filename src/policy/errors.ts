// policy/errors — the one error type the policy loader throws.
//
// An operator who mistypes a key must get one line that names the file, the line, the section
// and the key, and says what to do — never a stack trace. The CLI prints `message`; tools
// that want every problem at once (zigbee2mqtt-style settings validation) read `errors`.

import { clip } from '../text/printable.js';

export class PolicyError extends Error {
  readonly file: string;
  /** 1-based line; null when the problem is the file as a whole (unreadable). */
  readonly line: number | null;
  /** Section as written ("net:wan"), null when the line is outside any section. */
  readonly section: string | null;
  readonly key: string | null;
  /** What is wrong, without the location prefix. */
  readonly detail: string;
  /** Every problem found in the same load, in file/line order; this error is errors[0]. */
  errors: PolicyError[];

  constructor(file: string, line: number | null, section: string | null, key: string | null, detail: string) {
    super(formatLocation(file, line, section, key) + detail);
    this.name = 'PolicyError';
    this.file = file;
    this.line = line;
    this.section = section;
    this.key = key;
    this.detail = detail;
    this.errors = [this];
  }

  /** The error to throw for a list of problems: the first one, carrying all of them. */
  static collect(errors: readonly PolicyError[]): PolicyError {
    const first = errors[0];
    if (first === undefined) throw new RangeError('PolicyError.collect needs at least one error');
    const top = new PolicyError(first.file, first.line, first.section, first.key, first.detail);
    top.errors = [...errors];
    return top;
  }
}

// "<file>:<line>: [section] key: " — the shape every policy message starts with, so that
// editors and grep can jump to the spot.
function formatLocation(file: string, line: number | null, section: string | null, key: string | null): string {
  let s = line === null ? `${file}: ` : `${file}:${line}: `;
  // Section and key are quoted from the file: a 10 MB "key" must not make a 10 MB line.
  if (section !== null) s += key === null ? `[${clip(section, 60)}]: ` : `[${clip(section, 60)}] `;
  if (key !== null) s += `${clip(key, 60)}: `;
  return s;
}

/**
 * Most problems one load collects. A file of a million bad lines must not hold a million
 * error objects (the heap died on tens of MB); past the bound they are only counted.
 */
export const MAX_POLICY_ERRORS = 100;

/** Problems of one load, bounded: the first MAX_POLICY_ERRORS kept, the rest counted per file. */
export class ErrorList {
  readonly kept: PolicyError[] = [];
  private readonly more = new Map<string, number>();

  push(e: PolicyError): void {
    if (this.kept.length < MAX_POLICY_ERRORS) this.kept.push(e);
    else this.more.set(e.file, (this.more.get(e.file) ?? 0) + 1);
  }

  /** The kept problems (sorted by `order`), then one line per file saying how many were left out. */
  list(order: (a: PolicyError, b: PolicyError) => number): PolicyError[] {
    const out = [...this.kept].sort(order);
    for (const [file, n] of this.more) out.push(new PolicyError(file, null, null, null, `${n} more problem(s) not listed (only the first ${MAX_POLICY_ERRORS} are)`));
    return out;
  }
}
