// Recorded load traces for `replay` phases: CSV with a header naming `timestamp` and `rate`
// columns (others are ignored). Timestamps are seconds (any origin) or ISO 8601 times; they must
// increase. Rates are ops/s. The last row marks the end of the trace.
import { readFileSync } from 'node:fs';

export interface Trace {
  /** Seconds from the first row. */
  times: number[];
  rates: number[];
}

export class TraceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TraceError';
  }
}

function parseTimestamp(s: string): number | undefined {
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  if (/^\d{4}-\d{2}-\d{2}[T ]/.test(s)) {
    const ms = Date.parse(s);
    return Number.isNaN(ms) ? undefined : ms / 1000;
  }
  return undefined;
}

export function parseTrace(text: string, name: string): Trace {
  const lines = text.split(/\r?\n/);
  let headerLine = -1;
  let tCol = -1;
  let rCol = -1;
  const times: number[] = [];
  const rates: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const cells = raw.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
    const where = `${name}:${i + 1}`;
    if (headerLine < 0) {
      headerLine = i;
      const lower = cells.map((c) => c.toLowerCase());
      tCol = lower.indexOf('timestamp');
      rCol = lower.indexOf('rate');
      if (tCol < 0 || rCol < 0) throw new TraceError(`${where}: header must name a "timestamp" and a "rate" column (got ${JSON.stringify(raw)})`);
      continue;
    }
    const ts = cells[tCol];
    const rs = cells[rCol];
    if (ts === undefined || rs === undefined) throw new TraceError(`${where}: expected ${Math.max(tCol, rCol) + 1} columns, got ${cells.length}`);
    const t = parseTimestamp(ts);
    if (t === undefined) throw new TraceError(`${where}: bad timestamp ${JSON.stringify(ts)} (seconds or ISO 8601)`);
    const r = Number(rs);
    if (rs === '' || !Number.isFinite(r) || r < 0) throw new TraceError(`${where}: bad rate ${JSON.stringify(rs)} (ops/s, >= 0)`);
    if (times.length > 0 && t <= times[times.length - 1]!) throw new TraceError(`${where}: timestamp ${ts} does not increase`);
    times.push(t);
    rates.push(r);
  }
  if (headerLine < 0) throw new TraceError(`${name}: empty trace`);
  if (times.length < 2) throw new TraceError(`${name}: a trace needs at least two rows (the last marks its end)`);
  const t0 = times[0]!;
  return { times: times.map((t) => t - t0), rates };
}

export function readTrace(path: string): Trace {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TraceError(`cannot read trace ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseTrace(text, path);
}
