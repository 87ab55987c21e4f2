// Subject and claim conditions: an exact string, or a glob when it contains `*`. A glob is
// anchored at both ends; `*` matches any run of characters within one `:`-separated segment
// (including none and `/`, never `:`), and `**` any run including `:` (the file-glob habit, with
// `:` as the separator). So `repo:acme/*:environment:prod` cannot be satisfied by
// `repo:acme/app:environment:staging:environment:prod`.
// Matching simulates the pattern's automaton over the text: O(pattern × text), never exponential.

export interface Pattern {
  readonly source: string;
  matches(value: unknown): boolean;
}

/** The character a single `*` never crosses. */
export const SEGMENT_SEPARATOR = ':';

/** One step of a compiled glob: a literal character, `*` (one segment) or `**` (any run). */
type Step = string | typeof STAR | typeof GLOBSTAR;
const STAR = 1;
const GLOBSTAR = 2;

/** Splits a glob into steps; a run of two or more `*` is one `**`. */
function steps(pattern: string): Step[] {
  const out: Step[] = [];
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] !== '*') {
      out.push(pattern[i]!);
      continue;
    }
    let run = 1;
    while (pattern[i + 1] === '*') {
      run++;
      i++;
    }
    out.push(run === 1 ? STAR : GLOBSTAR);
  }
  return out;
}

/** A compiled glob: `test(text)` is true when the whole text matches. */
function compileGlob(pattern: string): (text: string) => boolean {
  const program = steps(pattern);
  const size = program.length + 1;
  let current = new Uint8Array(size);
  let next = new Uint8Array(size);
  /** Activates state `i` and, through wildcards that match nothing, the states after it. */
  const enter = (states: Uint8Array, i: number) => {
    let at = i;
    for (;;) {
      states[at] = 1;
      const step = program[at];
      if (step !== STAR && step !== GLOBSTAR) return;
      at++;
    }
  };
  return (text) => {
    current.fill(0);
    enter(current, 0);
    for (let t = 0; t < text.length; t++) {
      const char = text[t]!;
      next.fill(0);
      let any = false;
      for (let i = 0; i < program.length; i++) {
        if (current[i] === 0) continue;
        const step = program[i];
        if (step === GLOBSTAR || (step === STAR && char !== SEGMENT_SEPARATOR)) {
          enter(next, i);
          any = true;
        } else if (step === char) {
          enter(next, i + 1);
          any = true;
        }
      }
      if (!any) return false;
      [current, next] = [next, current];
    }
    return current[program.length] === 1;
  };
}

/** Whether `text` matches the glob `pattern` (anchored; `*` within a segment, `**` across). */
export function globMatch(pattern: string, text: string): boolean {
  return compileGlob(pattern)(text);
}

/**
 * Compiles a condition once: exact comparison without `*`, otherwise the glob.
 *
 * @example compilePattern('repo:acme/*:environment:prod').matches('repo:acme/app:environment:prod') // true
 */
export function compilePattern(source: string): Pattern {
  if (!source.includes('*')) {
    return { source, matches: (value) => claimText(value) === source };
  }
  const test = compileGlob(source);
  return {
    source,
    matches: (value) => {
      const text = claimText(value);
      return text !== undefined && test(text);
    },
  };
}

/**
 * Whether the glob likely relied on `*` spanning `:`, before `*` stopped at segments: a single
 * `*` at either end of a pattern used to swallow every earlier or later segment
 * (`repo:acme/app:*` matched every ref, `*:environment:prod` every repository) and now stops at
 * the first `:`. `sts config validate` warns about these; `**` restores the old reach. A `*`
 * inside a pattern (`repo:acme/*:environment:prod`) spanning `:` was the flaw this fixed.
 */
export function spanChanged(source: string): boolean {
  return /(^|[^*])\*$/.test(source) || /^\*($|[^*])/.test(source);
}

/** A claim value a condition can match: strings as they are, numbers and booleans as text. */
export function claimText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}
