/**
 * JSON.parse silently keeps the last of duplicate keys, which lets two parsers disagree about a
 * token's claims. `parseStrictJson` refuses duplicate keys anywhere in the document.
 */
export function parseStrictJson(text: string): unknown {
  const value = JSON.parse(text) as unknown; // syntax errors first, with JSON.parse's own message
  assertNoDuplicateKeys(text);
  return value;
}

function assertNoDuplicateKeys(text: string): void {
  const stack: Array<Set<string> | null> = [];
  let expectingKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectingKey && top) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (top.has(key)) throw new SyntaxError(`duplicate key "${key}"`);
        top.add(key);
        expectingKey = false;
      }
      i = end;
    } else if (ch === '{') {
      stack.push(new Set());
      expectingKey = true;
    } else if (ch === '[') {
      stack.push(null);
    } else if (ch === '}' || ch === ']') {
      stack.pop();
    } else if (ch === ',') {
      expectingKey = stack[stack.length - 1] !== null && stack.length > 0;
    }
  }
}
