// Restores actuators when the process ends: SIGINT, SIGTERM, SIGHUP, an uncaught exception or
// unhandled rejection, and as a last resort the 'exit' event. SIGKILL cannot be caught; values
// changed by a process killed that way stay until the next restore (see docs/host.md).

export interface Restorable {
  readonly name: string;
  restoreSync(): void;
}

export interface RestoreGuardOptions {
  /** Called after restoring on a signal; default: exit with 128 + signal number. */
  onSignal?: (signal: NodeJS.Signals) => void;
  log?: (line: string) => void;
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const SIGNO: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

export class RestoreGuard {
  private readonly items = new Set<Restorable>();
  private readonly log: (line: string) => void;
  private readonly onSignal: (signal: NodeJS.Signals) => void;
  private readonly handlers: { event: string; fn: (...args: unknown[]) => void }[] = [];
  private restored = false;

  constructor(opts: RestoreGuardOptions = {}) {
    this.log = opts.log ?? ((l) => process.stderr.write(l + '\n'));
    this.onSignal = opts.onSignal ?? ((s) => process.exit(128 + (SIGNO[s] ?? 0)));
    for (const sig of SIGNALS) {
      const fn = () => {
        this.restoreAll(`received ${sig}`);
        this.onSignal(sig);
      };
      process.on(sig, fn);
      this.handlers.push({ event: sig, fn });
    }
    const onError = (err: unknown) => {
      this.log(`verdant: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      this.restoreAll('uncaught error');
      process.exit(1);
    };
    process.on('uncaughtException', onError);
    process.on('unhandledRejection', onError);
    this.handlers.push({ event: 'uncaughtException', fn: onError }, { event: 'unhandledRejection', fn: onError });
    const onExit = () => this.restoreAll('exit');
    process.on('exit', onExit);
    this.handlers.push({ event: 'exit', fn: onExit });
  }

  add(item: Restorable): void {
    this.items.add(item);
    this.restored = false;
  }

  /** Restores every registered actuator once; later calls are no-ops until add() again. */
  restoreAll(why: string): void {
    if (this.restored) return;
    this.restored = true;
    for (const item of [...this.items].reverse()) {
      try {
        item.restoreSync();
        this.log(`restored ${item.name} (${why})`);
      } catch (err) {
        this.log(`failed to restore ${item.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  /** Removes the handlers (after a clean restore). */
  dispose(): void {
    for (const h of this.handlers) process.removeListener(h.event, h.fn);
    this.handlers.length = 0;
  }
}
