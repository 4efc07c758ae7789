// policy/format — the effective policy as INI text (`affinityd check-config`).
//
// Every key is written out, defaults included, so the operator sees what the agent will do
// rather than what they typed. The output parses back to the same policy (tested), which
// makes it a valid starting point for a config file. Values go through ini.safe() so a
// state-file path with ';' or '#' survives the round trip through ini.unsafe().

import * as ini from 'ini';
import type { Policy } from '../types.js';
import { FIXED_SECTIONS, objectOf, specsOf, type SectionKind } from './schema.js';
import { decodeValue } from './scan.js';
import { shippedPolicyPath } from './shipped.js';

export function formatPolicy(p: Policy): string {
  const out: string[] = ['; affinityd effective policy'];
  if (p.files.length === 0) out.push('; source: built-in defaults (no policy file found)');
  else if (p.files.length === 1 && p.files[0] === shippedPolicyPath()) {
    out.push(`; source: ${p.files[0]} (the shipped defaults: no policy file was found)`);
  } else for (const f of p.files) out.push(`; source: ${f}`);

  for (const kind of FIXED_SECTIONS) {
    out.push('', `[${kind}]`);
    writeKeys(out, kind, objectOf(p, kind));
  }
  for (const s of p.sections) {
    out.push('', `; from ${s.file}:${s.line}`, `[${s.name}]`);
    writeKeys(out, s.kind === 'net' ? 'net:' : 'irq:', s as unknown as Record<string, unknown>);
  }
  for (const s of p.serialSections ?? []) {
    out.push('', `; from ${s.file}:${s.line}`, `[${s.name}]`);
    writeKeys(out, 'serial:', s as unknown as Record<string, unknown>);
  }
  return out.join('\n') + '\n';
}

/**
 * Every key of a section kind that the object holds, in table order: match-* keys the
 * section set, a value through its KeySpec.format, a null with an `unset` meaning as a
 * commented-out key.
 */
function writeKeys(out: string[], kind: SectionKind, o: Record<string, unknown>): void {
  for (const spec of specsOf(kind)) {
    // Only labelled sections have match-* keys, and each of them has a `match`.
    const v = spec.match ? (o.match as Record<string, unknown>)[spec.field] : o[spec.field];
    if (v === undefined) continue;
    if (v === null && spec.unset !== undefined) {
      out.push(`;${spec.key} =   ; unset: ${spec.unset}`);
      continue;
    }
    const text = spec.format(v as never);
    if (text !== null) out.push(text === '' ? `${spec.key} =` : `${spec.key} = ${iniValue(text)}`);
  }
}

/**
 * `text` written so that scanIni reads it back: ini.safe() quotes or escapes what needs it,
 * except a lone quote character, which ini.unsafe() reads as an empty quoted value. JSON
 * quoting reads back as itself in every case.
 */
function iniValue(text: string): string {
  const safe = ini.safe(text);
  return decodeValue(safe) === text ? safe : JSON.stringify(text);
}
