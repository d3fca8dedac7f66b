// Writes a run's results: JSON (summary + timeline) or CSV (timeline, with the summary beside it
// as FILE.summary.json), and a short human-readable digest.
import { writeFileSync } from 'node:fs';
import type { LoadResult, TimelineRow } from './report.js';

export type OutputFormat = 'json' | 'csv';

export function formatFor(file: string, explicit?: string): OutputFormat {
  if (explicit === 'json' || explicit === 'csv') return explicit;
  return file.toLowerCase().endsWith('.csv') ? 'csv' : 'json';
}

const COLUMNS: Array<keyof TimelineRow> = [
  't', 'span_s', 'planned_rate', 'offered', 'offered_rate', 'ok', 'achieved_rate', 'errors', 'not_found', 'cas_failed',
  'p50_ms', 'p99_ms', 'p999_ms', 'max_ms', 'client_cpu_pct',
];

export function timelineCsv(rows: readonly TimelineRow[]): string {
  const lines = [COLUMNS.join(',')];
  for (const r of rows) lines.push(COLUMNS.map((c) => (r[c] === null ? '' : String(r[c]))).join(','));
  return lines.join('\n') + '\n';
}

/** Writes the result; returns the files written. */
export function writeResult(result: LoadResult, file: string, format: OutputFormat): string[] {
  if (format === 'csv') {
    const summaryFile = file.replace(/\.csv$/i, '') + '.summary.json';
    writeFileSync(file, timelineCsv(result.timeline));
    writeFileSync(summaryFile, JSON.stringify(result.summary, null, 2) + '\n');
    return [file, summaryFile];
  }
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  return [file];
}

export function digest(result: LoadResult): string {
  const s = result.summary;
  const l = s.latency;
  const lines = [
    `${s.partial ? 'PARTIAL (' + s.interrupted + ') ' : ''}${s.profile} -> ${s.target}: ${s.elapsed_s}s of ${s.planned_duration_s}s`,
    `  offered ${s.offered} (${s.offered_rate}/s)  ok ${s.ok} (${s.achieved_rate}/s)  errors ${s.errors}` +
      (Object.keys(s.errors_by_code).length ? ` ${JSON.stringify(s.errors_by_code)}` : '') +
      (s.abandoned ? `  abandoned ${s.abandoned}` : ''),
    `  latency ms: p50 ${l.p50_ms}  p99 ${l.p99_ms}  p99.9 ${l.p999_ms}  max ${l.max_ms}`,
    `  client: ${s.client.cpu_s}s CPU (${s.client.cpu_cores_used} cores of ${s.client.cores_available}, ${s.client.workers} thread(s)), ` +
      `send lag p99 ${s.client.send_lag_ms.p99} ms — ${s.client.note}`,
  ];
  return lines.join('\n');
}
