const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
export const DURATION_PATTERN = /^([1-9][0-9]{0,6})(s|m|h|d)$/;

/** Parses `30s`, `5m`, `1h`, `1d` into seconds; returns undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * UNITS[match[2]!]!;
}

export const DURATION_HINT = 'a duration such as "30s", "5m", "1h" or "1d"';
