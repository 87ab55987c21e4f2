import { cpus, loadavg, platform, release, totalmem } from 'node:os';

/** Small statistics and the description of the machine a run happened on. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (`p` in 0..100) of values sorted ascending. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Runs `op` sequentially `count` times; returns operations per second. */
export async function opsPerSecond<T>(
  items: readonly T[],
  count: number,
  op: (item: T) => unknown,
): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i++) await op(items[i % items.length]!);
  return count / ((performance.now() - started) / 1000);
}

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly os: string;
  /** 1-minute load average when the run started: a busy machine makes every number noisier. */
  readonly loadAverage: number;
  /** The same when the run ended (set by the runner). */
  loadAverageAtEnd?: number;
  readonly date: string;
}

export const loadAverage = (): number => Math.round(loadavg()[0]! * 100) / 100;

export function machine(): Machine {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${platform()} ${release()}`,
    loadAverage: loadAverage(),
    date: new Date().toISOString(),
  };
}

export const fixed = (value: number, digits = 0): string =>
  Number.isFinite(value) ? value.toFixed(digits) : 'n/a';

/** A markdown table; numbers are right-aligned when the header says so (`:` suffix). */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const right = headers.map((header) => header.endsWith(':'));
  const names = headers.map((header) => header.replace(/:$/, ''));
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(names),
    line(right.map((isRight) => (isRight ? '---:' : '---'))),
    ...rows.map((row) => line(row)),
  ].join('\n');
}
