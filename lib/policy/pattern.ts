/**
 * Subject and claim conditions: an exact string, or a glob when it contains `*`. A glob is
 * anchored at both ends and `*` matches any run of characters (including none, `/` and `:`).
 * Matching is the two-pointer wildcard algorithm: linear in practice, never exponential.
 */
export interface Pattern {
  readonly source: string;
  matches(value: unknown): boolean;
}

export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = t;
    } else if (star !== -1) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

export function compilePattern(source: string): Pattern {
  if (!source.includes('*')) {
    return { source, matches: (value) => claimText(value) === source };
  }
  return {
    source,
    matches: (value) => {
      const text = claimText(value);
      return text !== undefined && globMatch(source, text);
    },
  };
}

/** A claim value a condition can match: strings as they are, numbers and booleans as text. */
export function claimText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}
