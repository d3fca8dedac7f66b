import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('env')
    .description('print the runtime environment verdant sees (node, platform, cpus)')
    .action(async () => {
      const os = await import('node:os');
      console.log(JSON.stringify({ node: process.version, platform: process.platform, arch: process.arch, cpus: os.availableParallelism() }));
    });
}
