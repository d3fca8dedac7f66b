#!/usr/bin/env node
// The `verdant` command. Every file in cli/commands/ exports `register(program)`; this file only
// discovers them, so adding a command never touches this file. Command modules must keep their
// top-level imports light and load heavy parts inside their action handlers.
import { Command, CommanderError } from 'commander';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { ConfigError } from '../runtime/common/config-error.js';

export type RegisterCommand = (program: Command) => void;

const program = new Command('verdant')
  .description('energy- and resource-aware runtime for replicated services')
  .version('0.1.0')
  .exitOverride();

const commandsDir = join(dirname(fileURLToPath(import.meta.url)), 'commands');
for (const file of readdirSync(commandsDir).filter((f) => f.endsWith('.js')).sort()) {
  const mod = (await import(join(commandsDir, file))) as { register?: RegisterCommand };
  if (typeof mod.register === 'function') mod.register(program);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`verdant: ${err.message}`);
    process.exit(2);
  }
  if (err instanceof CommanderError) {
    // Usage errors (unknown option, missing argument) are configuration errors too.
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  console.error(`verdant: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
