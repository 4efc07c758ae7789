// policy/suggest — "did you mean …?" for misspelt keys and section names. The edit distance
// is fastest-levenshtein's (small, dependency-free, the one most of npm uses).

import { distance } from 'fastest-levenshtein';

/**
 * The candidate closest to `word`, or null when nothing is close enough to be a plausible
 * typo. Case is ignored ("Strategy" → "strategy"). A word that is a prefix of a candidate
 * ("settle" → "settle-ms") also counts: people drop unit suffixes more often than they typo.
 */
export function closest(word: string, candidates: readonly string[], maxDistance?: number): string | null {
  const w = word.toLowerCase();
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  // A third of the length tolerates two slips in a typical 8–14 character key without
  // "suggesting" something unrelated for a short word. (No candidates: bestD stays Infinity.)
  if (bestD <= (maxDistance ?? Math.max(1, Math.floor(w.length / 3)))) return best;
  if (w.length >= 3) {
    const prefixed = candidates.find((c) => c.toLowerCase().startsWith(w));
    if (prefixed !== undefined) return prefixed;
  }
  return null;
}
