// policy/scan — INI text → a flat list of entries that keep their line numbers.
//
// Why not ini.decode(): it never reports a line number, silently drops lines it cannot
// parse, turns a bare key into `true` and "true"/"false" into booleans, lets a repeated key
// overwrite the first, and nests dotted section names ([net:eth0.100] → net:eth0 → 100).
// Each of those hides an operator's mistake. So the structure (sections, keys, lines) comes
// from this scan, and only the value syntax is delegated to the `ini` package: ini.unsafe()
// strips quotes, inline `;`/`#` comments and `\;` `\#` escapes exactly as ini.decode would,
// so a value means the same thing here as in any other tool built on `ini`.

import * as ini from 'ini';
import { clip } from '../text/printable.js';

export type Entry =
  | { type: 'section'; name: string; line: number }
  | { type: 'key'; key: string; value: string; line: number; bare: boolean }
  | { type: 'bad'; line: number; why: string };

export function scanIni(text: string): Entry[] {
  const out: Entry[] = [];
  // \r\n (files edited on Windows), \n and a lone \r all end a line; a BOM is not content.
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const s = raw.trim();
    if (s === '' || s.startsWith(';') || s.startsWith('#')) return;
    if (s.startsWith('[')) {
      // ini only accepts "[name]" followed by blanks; a trailing comment is harmless, allow it.
      const m = /^\[([^\]]*)\]\s*(?:[;#].*)?$/.exec(s);
      if (m) out.push({ type: 'section', name: m[1]!.trim(), line });
      else out.push({ type: 'bad', line, why: `malformed section header '${clip(s)}': expected '[name]'` });
      return;
    }
    const eq = s.indexOf('=');
    if (eq < 0) {
      // ini would read a bare word as `key = true`; report it as a key so the message can
      // name it and say what to write instead.
      if (/^[A-Za-z0-9_.-]+$/.test(s)) out.push({ type: 'key', key: s, value: '', line, bare: true });
      else out.push({ type: 'bad', line, why: `malformed line '${clip(s)}': expected 'key = value', '[section]' or a comment` });
      return;
    }
    const key = s.slice(0, eq).trim();
    if (key === '') {
      out.push({ type: 'bad', line, why: `malformed line '${clip(s)}': missing key before '='` });
      return;
    }
    out.push({ type: 'key', key, value: decodeValue(s.slice(eq + 1)), line, bare: false });
  });
  return out;
}

/** The text a value means, as scanIni reads it (also what format.ts checks its output against). */
export function decodeValue(raw: string): string {
  // ini.unsafe JSON-parses a quoted value, so '123' or 'true' come back as a number or a
  // boolean despite the typings; a quoted value is text, whatever it looks like.
  const v = ini.unsafe(raw) as unknown;
  if (typeof v === 'string') return v;
  const t = raw.trim();
  return t.slice(1, -1);
}
