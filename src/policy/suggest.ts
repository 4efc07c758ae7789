// policy/suggest — "did you mean …?" for misspelt keys and section names.

/** Levenshtein distance (insert, delete, substitute each cost 1). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

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
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  // A third of the length tolerates two slips in a typical 8–14 character key without
  // "suggesting" something unrelated for a short word.
  if (best !== null && bestD <= (maxDistance ?? Math.max(1, Math.floor(w.length / 3)))) return best;
  if (w.length >= 3) {
    const prefixed = candidates.find((c) => c.toLowerCase().startsWith(w));
    if (prefixed !== undefined) return prefixed;
  }
  return null;
}
