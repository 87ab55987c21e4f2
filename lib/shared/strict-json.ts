// JSON.parse silently keeps the last of duplicate keys, which lets two parsers (or a reviewer and
// the service) disagree about a document: a token's claims, a policy file. `parseStrictJson`
// refuses duplicate keys anywhere in the document, naming the path of the duplicate; it can also
// refuse keys that are dangerous once parsed (`__proto__`, `constructor`: config files).

/** A key that is repeated, or forbidden, at `path` (e.g. `policies[0].subject`). */
export class JsonKeyError extends SyntaxError {
  override readonly name = 'JsonKeyError';
  constructor(
    readonly problem: 'duplicate' | 'forbidden',
    readonly key: string,
    readonly path: string,
  ) {
    super(`${problem === 'duplicate' ? 'duplicate' : 'forbidden'} key "${key}" at ${path}`);
  }
}

export interface StrictJsonOptions {
  /** Keys refused wherever they appear (config files: `__proto__`, `constructor`). */
  readonly forbiddenKeys?: ReadonlySet<string>;
}

/**
 * `JSON.parse`, but a duplicate key anywhere in the document (or a forbidden one) throws a
 * `JsonKeyError` (a SyntaxError) naming it and its path.
 *
 * @example parseStrictJson('{"policies":[{"subject":"a","subject":"*"}]}') // throws: duplicate key "subject" at policies[0].subject
 */
export function parseStrictJson(text: string, options: StrictJsonOptions = {}): unknown {
  const value = JSON.parse(text) as unknown; // syntax errors first, with JSON.parse's own message
  assertNoDuplicateKeys(text, options.forbiddenKeys);
  return value;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** Runs after JSON.parse succeeded, so every string is closed and every bracket balanced. */
function assertNoDuplicateKeys(text: string, forbidden: ReadonlySet<string> | undefined): void {
  const stack: Array<Set<string> | null> = [];
  let expectingKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === QUOTE) {
      let end = i + 1;
      let escaped = false;
      for (let c = text.charCodeAt(end); c !== QUOTE; c = text.charCodeAt(end)) {
        if (c === BACKSLASH) {
          escaped = true;
          end += 2;
        } else {
          end++;
        }
      }
      const top = stack[stack.length - 1];
      if (expectingKey && top) {
        // A key without escapes is its raw text; one with escapes is decoded by JSON.parse.
        const key = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
        if (top.has(key)) throw new JsonKeyError('duplicate', key, pathAt(text, i));
        if (forbidden?.has(key)) throw new JsonKeyError('forbidden', key, pathAt(text, i));
        top.add(key);
        expectingKey = false;
      }
      i = end;
    } else if (ch === OPEN_OBJECT) {
      stack.push(new Set());
      expectingKey = true;
    } else if (ch === OPEN_ARRAY) {
      stack.push(null);
    } else if (ch === CLOSE_OBJECT || ch === CLOSE_ARRAY) {
      stack.pop();
    } else if (ch === COMMA) {
      expectingKey = stack[stack.length - 1] !== null && stack.length > 0;
    }
  }
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * The path (`a.b[2].c`) of the key whose opening quote is at `offset`: a second, slower scan that
 * runs only to word an error.
 */
function pathAt(text: string, offset: number): string {
  type Frame = { array: boolean; index: number; key: string | undefined };
  const stack: Frame[] = [];
  let expectingKey = false;
  let key = '';
  for (let i = 0; i <= offset; i++) {
    const ch = text.charCodeAt(i);
    if (ch === QUOTE) {
      let end = i + 1;
      while (text.charCodeAt(end) !== QUOTE) end += text.charCodeAt(end) === BACKSLASH ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectingKey && top && !top.array) {
        key = JSON.parse(text.slice(i, end + 1)) as string;
        top.key = key;
        expectingKey = false;
      }
      i = end;
    } else if (ch === OPEN_OBJECT || ch === OPEN_ARRAY) {
      stack.push({ array: ch === OPEN_ARRAY, index: 0, key: undefined });
      expectingKey = ch === OPEN_OBJECT;
    } else if (ch === CLOSE_OBJECT || ch === CLOSE_ARRAY) {
      stack.pop();
    } else if (ch === COMMA) {
      const top = stack[stack.length - 1];
      if (top?.array) top.index++;
      expectingKey = top !== undefined && !top.array;
    }
  }
  let path = '';
  for (const frame of stack) {
    if (frame.array) path += `[${frame.index}]`;
    else if (frame.key !== undefined)
      path += IDENTIFIER.test(frame.key)
        ? `${path ? '.' : ''}${frame.key}`
        : `[${JSON.stringify(frame.key)}]`;
  }
  return path || '(top level)';
}
