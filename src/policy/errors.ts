// policy/errors — the one error type the policy loader throws.
//
// An operator who mistypes a key must get one line that names the file, the line, the section
// and the key, and says what to do — never a stack trace. The CLI prints `message`; tools
// that want every problem at once (zigbee2mqtt-style settings validation) read `errors`.

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
  if (section !== null) s += key === null ? `[${section}]: ` : `[${section}] `;
  if (key !== null) s += `${key}: `;
  return s;
}
