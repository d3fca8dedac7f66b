// A validated, resolved profile: absolute rates (percentages applied, --rate-scale folded in),
// time axis in seconds with --duration folded in, traces loaded. Plain data, so it can be posted
// to generator worker threads.

export type CompiledPhase =
  | { type: 'constant'; start: number; duration: number; rate: number }
  | { type: 'step'; start: number; duration: number; levels: number[]; hold: number }
  | { type: 'ramp'; start: number; duration: number; from: number; to: number }
  | { type: 'sine'; start: number; duration: number; period: number; min: number; max: number; shift: number }
  | { type: 'spike'; start: number; duration: number; base: number; peak: number; at: number; length: number }
  | { type: 'replay'; start: number; duration: number; times: number[]; rates: number[]; interpolate: 'step' | 'linear' };

export type OperationKind = 'read' | 'write' | 'insert' | 'cas' | 'scan' | 'delete';
export const OPERATION_KINDS: readonly OperationKind[] = ['read', 'write', 'insert', 'cas', 'scan', 'delete'];

export type ValueSizes =
  | { distribution: 'constant'; size: number }
  | { distribution: 'uniform'; min: number; max: number }
  | { distribution: 'weighted'; sizes: Array<{ bytes: number; weight: number }> };

export interface KeySpace {
  count: number;
  distribution: 'uniform' | 'zipfian' | 'latest';
  theta: number;
  scramble: boolean;
  prefix: string;
}

export interface Profile {
  name: string;
  description: string;
  /** The file it came from, when there is one. */
  file: string | undefined;
  seed: number;
  phases: CompiledPhase[];
  /** Total seconds of all phases. */
  duration: number;
  /** Operation weights (not normalized). */
  operations: Record<OperationKind, number>;
  keys: KeySpace;
  values: ValueSizes;
  consistency: { linearizable: number; stale: number };
  concurrency: { connections: number; max_in_flight: number; max_queue: number; workers: number };
  scan: { min_length: number; max_length: number };
  preload: number;
  timeoutMs: number;
  /** What was folded in from the command line, for the report. */
  rateScale: number;
  timeScale: number;
}

/** Zipfian skew used when a profile names zipfian or latest without theta (YCSB's constant). */
export const DEFAULT_THETA = 0.99;
