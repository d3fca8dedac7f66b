// What simulated clients and replicas say to each other (outside the consensus protocol).
import type { NodeId } from '../protocols/api.js';
import type { KvInput, KvOutput } from './lincheck/history.js';

export interface ClientRequest {
  readonly client: number;
  readonly seq: number;
  readonly input: KvInput;
}

export type ClientReply =
  | { readonly client: number; readonly seq: number; readonly output: KvOutput }
  /** Not served here: retry, preferably at `leader` (NONE when unknown). */
  | { readonly client: number; readonly seq: number; readonly redirect: NodeId; readonly why: string };

/** One line describing a protocol message for traces; uses the protocol's own when it has one. */
export function describeGeneric(m: object): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(m)) {
    if (k === 'from' || k === 'to') continue;
    parts.push(`${k}=${summarize(v)}`);
  }
  const e = m as { from?: unknown; to?: unknown };
  return `${String(e.from)}->${String(e.to)} ${parts.join(' ')}`;
}

function summarize(v: unknown): string {
  if (v instanceof Uint8Array) return `<${v.length}B>`;
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    const first = v[0] as { index?: unknown };
    const last = v[v.length - 1] as { index?: unknown };
    if (first && typeof first === 'object' && typeof first.index === 'number') return `[${v.length}: ${first.index}..${String(last.index)}]`;
    return `[${v.length}]`;
  }
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('meta' in o) return `{snapshot ${JSON.stringify((o.meta as { index?: unknown; term?: unknown }) ?? {})}}`;
    return '{' + Object.entries(o).map(([k, x]) => `${k}:${summarize(x)}`).join(',') + '}';
  }
  return String(v);
}
