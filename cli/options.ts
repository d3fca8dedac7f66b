// Numeric command-line options, parsed the same way by every command: a bad value is a
// ConfigError naming the option (the CLI prints it and exits 2).
import type { Command } from 'commander';
import { ConfigError } from '../runtime/common/config-error.js';

/** An integer option in [min, max]; undefined when it was not given. */
export function intOption(field: string, v: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new ConfigError(field, `must be an integer ${range} (got ${JSON.stringify(v)})`);
  }
  return n;
}

/** A number > 0 (`parse` turns the text into one, e.g. "5m" into seconds); undefined when not given. */
export function positiveOption(field: string, v: string | undefined, parse: (s: string) => number | undefined = Number): number | undefined {
  if (v === undefined) return undefined;
  const n = parse(v);
  if (n === undefined || !Number.isFinite(n) || n <= 0) throw new ConfigError(field, `must be a positive number (got ${JSON.stringify(v)})`);
  return n;
}

/** The `bench` command that several command files add subcommands to. */
export function benchCommand(program: Command): Command {
  return program.commands.find((c) => c.name() === 'bench') ?? program.command('bench').description('benchmarks that need running clusters');
}
