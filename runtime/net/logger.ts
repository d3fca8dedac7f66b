// The logging surface the network layer needs: a subset of pino's Logger, so a replica passes its
// pino instance (or a child of it) and tests pass a recorder.

export interface NetLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const noop = (): void => {};
export const silentLogger: NetLogger = { debug: noop, info: noop, warn: noop, error: noop };

/** Warnings and errors as JSON lines on stderr; used when the caller passes no logger. */
export const stderrLogger: NetLogger = {
  debug: noop,
  info: noop,
  warn: (obj, msg) => process.stderr.write(JSON.stringify({ level: 'warn', msg, ...obj }) + '\n'),
  error: (obj, msg) => process.stderr.write(JSON.stringify({ level: 'error', msg, ...obj }) + '\n'),
};

/**
 * Logs the first event of each key, then at most one per `intervalMs` with the number suppressed
 * in between. Used where a remote party controls the event rate (refused handshakes, redials).
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    readonly log: NetLogger,
    private readonly intervalMs = 10_000,
  ) {}

  warn(key: string, obj: object, msg: string): void {
    this.emit('warn', key, obj, msg);
  }

  info(key: string, obj: object, msg: string): void {
    this.emit('info', key, obj, msg);
  }

  /** Forget `key`, so its next event is logged at once (e.g. after a peer reconnects). */
  clear(key: string): void {
    this.last.delete(key);
  }

  private emit(level: 'warn' | 'info', key: string, obj: object, msg: string): void {
    const now = Date.now();
    const prev = this.last.get(key);
    if (prev && now - prev.at < this.intervalMs) {
      prev.suppressed++;
      return;
    }
    const suppressed = prev?.suppressed ?? 0;
    this.last.set(key, { at: now, suppressed: 0 });
    if (this.last.size > 10_000) this.last.clear();
    this.log[level](suppressed > 0 ? { ...obj, suppressed } : obj, msg);
  }
}
