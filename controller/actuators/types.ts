// The actuator contract. Every actuator detects what the machine offers before touching it,
// can run dry (report the writes it would make), and restores what it changed.

export interface Capability {
  available: boolean;
  /** Why (not) available, in words an operator can act on. */
  reason: string;
  detail?: Record<string, unknown>;
}

/** One change made (or, dry, planned) on the machine. */
export interface Change {
  /** A file path, or a description such as 'affinity of tid 1234'. */
  target: string;
  from: string;
  to: string;
}

export interface ApplyOutcome {
  actuator: string;
  dryRun: boolean;
  /** Changes made by this call (planned ones when dry). */
  changes: Change[];
  summary: string;
}

export interface Actuator<T> {
  readonly name: string;
  readonly dryRun: boolean;
  capability(): Capability;
  apply(value: T): Promise<ApplyOutcome>;
  /** Puts back every value this actuator changed since it was created; idempotent. */
  restore(): Promise<void>;
  /** The same, synchronously, for signal and exit handlers. */
  restoreSync(): void;
}

/** Bad value for an actuator (out of range, unknown governor...): the CLI exits 2 on these. */
export class ActuatorRangeError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'ActuatorRangeError';
    this.field = field;
  }
}

/** The machine cannot do what was asked (capability missing). */
export class ActuatorUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ActuatorUnavailableError';
  }
}
