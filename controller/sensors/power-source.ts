// The power contract: every reading says whether it was measured (RAPL) or modelled, and that
// label travels with it to every output (CLI lines, JSON, the controller's decisions).

export type PowerSourceKind = 'rapl' | 'model';

export interface ZoneReading {
  id: string;
  name: string;
  watts: number;
  joules: number;
}

export interface PowerReading {
  /** Average power over the last interval, in watts. */
  watts: number;
  /** Energy since the source was opened, in joules (wraparound-corrected for RAPL). */
  joules: number;
  source: PowerSourceKind;
  /** Per-zone breakdown (RAPL only). */
  zones?: ZoneReading[];
  /** Which host profile produced a modelled reading, whether it matched this CPU, and the RAPL
   *  long-term limit (sum over packages) that capped it, when one is set but energy is unreadable. */
  model?: { profile: string; matched: boolean; capWatts?: number };
  /** Why the reading is modelled although RAPL zones exist (e.g. EACCES on energy_uj). */
  fallbackReason?: string;
}

export interface PowerSource {
  readonly source: PowerSourceKind;
  read(): PowerReading;
  close(): void;
}

/** One-line rendering used by the CLI; the source label is always included. */
export function formatPowerReading(r: PowerReading): string {
  let label: string = r.source;
  if (r.model) label += `(profile=${r.model.profile}${r.model.matched ? '' : ', not matched to this CPU'}${r.model.capWatts !== undefined ? `, capped by RAPL limit ${r.model.capWatts.toFixed(1)} W` : ''})`;
  return `watts=${r.watts.toFixed(2)} joules=${r.joules.toFixed(2)} source=${label}`;
}
