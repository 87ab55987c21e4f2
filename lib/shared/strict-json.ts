// JSON.parse silently keeps the last of duplicate keys, which lets two parsers disagree about a
// token's claims. `parseStrictJson` refuses duplicate keys anywhere in the document.

/** `JSON.parse`, but a duplicate key anywhere in the document throws a SyntaxError naming it. */
export function parseStrictJson(text: string): unknown {
  const value = JSON.parse(text) as unknown; // syntax errors first, with JSON.parse's own message
  assertNoDuplicateKeys(text);
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
function assertNoDuplicateKeys(text: string): void {
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
        if (top.has(key)) throw new SyntaxError(`duplicate key "${key}"`);
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
