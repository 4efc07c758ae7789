// text/printable — text that came from outside (config lines, sysfs names, journal MESSAGEs)
// made safe to print. Two jobs, both pure:
//   clip       an error message quotes what it found, but never more than a screenful: a
//              10 MB config line must not become a 10 MB error line;
//   printable  a terminal interprets ESC, CSI (C1 0x9b), BEL, backspace and bidi overrides,
//              so a NIC named "\e]0;pwned\a" or a journal MESSAGE could retitle or repaint the
//              operator's terminal. Every such character is shown as a \uXXXX escape, which
//              reads the same in a table and stays valid inside a JSON string.

/** Longest quoted excerpt of foreign text in a message. */
export const CLIP_CHARS = 80;

/** `s` cut to `max` characters (by code point) with "…(N more)" when longer. */
export function clip(s: string, max = CLIP_CHARS): string {
  if (s.length <= max) return s;
  const head = [...s.slice(0, max)].slice(0, max).join('');
  return `${head}…(${s.length - head.length} more chars)`;
}

// C0 controls except \t and \n, DEL, C1 controls, line/paragraph separators, bidi
// embeddings/overrides/isolates, and lone surrogates (unprintable, and they break UTF-8 output).
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `s` with every control character (tab and newline excepted) written as \uXXXX. */
export function printable(s: string): string {
  return s.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** printable() for one line: newlines and tabs escaped too (error lines, table cells). */
export function printableLine(s: string): string {
  return printable(s).replace(/[\n\t]/g, (c) => (c === '\n' ? '\\n' : '\\t'));
}
