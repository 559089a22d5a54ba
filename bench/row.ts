/** One result line of the benchmark table (and of the JSON results). */
export interface Row {
  name: string;
  metric: string;
  value: number;
  baseline?: number;
  ratio?: number;
  target?: string;
  pass?: boolean;
  /** Everything else measured, for the JSON results. */
  details?: Record<string, unknown>;
}

/** What a benchmark returns: its rows, and notes printed under the table (why a target was missed). */
export interface BenchOutput {
  rows: Row[];
  notes?: string[];
}

/** The median of the values (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Milliseconds since `t0` (`performance.now()`), to two decimals. */
export function round2(v: number): number {
  return Math.round(v * 100) / 100;
}
