// Near-miss suggestions for unknown configuration fields: the known field a typo most likely
// meant — within a small edit distance, or the one field it is the start of. Pure; a table has
// tens of fields, so a plain O(n·m) Levenshtein per candidate is cheap enough.

/** Edits (insert, delete, substitute) at most this many apart count as a near miss. */
const MAX_SUGGESTION_DISTANCE = 2
/** A typo shorter than this is suggested only by distance, never as a prefix (`m` → `methods`). */
const MIN_PREFIX_LENGTH = 3

/**
 * The known name `word` most likely meant: the nearest within MAX_SUGGESTION_DISTANCE edits
 * (case-insensitive; the first on a tie), else the only known name that starts with it; undefined
 * when nothing is close or several names start with it.
 */
export function closestName(word: string, known: readonly string[]): string | undefined {
  const typed = word.toLowerCase()
  let best: string | undefined
  let bestDistance = MAX_SUGGESTION_DISTANCE + 1
  for (const name of known) {
    const distance = editDistance(typed, name.toLowerCase())
    // A distance as long as the word itself would suggest anything for a short typo.
    if (distance < bestDistance && distance < typed.length) {
      best = name
      bestDistance = distance
    }
  }
  if (best !== undefined) return best
  if (typed.length < MIN_PREFIX_LENGTH) return undefined
  const started = known.filter((name) => name.toLowerCase().startsWith(typed))
  return started.length === 1 ? started[0] : undefined
}

/** Levenshtein distance between a and b (one row of the table at a time). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)
      row.push(Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, substitution))
    }
    previous = row
  }
  return previous[b.length] ?? 0
}
