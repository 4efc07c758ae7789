// text/iso-time — the text of Date.prototype.toISOString(), built from the UTC fields.
//
// Why not toISOString() itself: in node 20 its first call makes V8 look up the local time
// zone's names in ICU's data (the zone name pool, meta zones: pages of the node binary that
// then stay resident, +0.6 MB of RSS in a running agent, issue 14), although a UTC timestamp
// never shows them. The getUTC…() getters do not touch them. The agent stamps every pass's
// state and every JSON audit line, so it would pay that on its first pass.

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** `d.toISOString()`, e.g. 2026-12-01T22:15:28.123Z; throws RangeError for an invalid date as it does. */
export function isoTime(d: Date): string {
  const y = d.getUTCFullYear();
  // Years outside 0…9999 (±YYYYYY) and the invalid date's RangeError: node's own text.
  if (!(y >= 0 && y <= 9999)) return d.toISOString();
  return `${pad(y, 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(d.getUTCMilliseconds(), 3)}Z`;
}
