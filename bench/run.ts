// `npm run bench -- NAME [args...]` runs bench/suites/NAME.ts.
// A suite's default export returns one result object; it is printed as the last line of output,
// as a single JSON object, so scripts can `tail -n1 | jq`.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export type BenchSuite = (args: string[]) => Promise<Record<string, unknown>>;

const suitesDir = join(dirname(fileURLToPath(import.meta.url)), 'suites');
const available = readdirSync(suitesDir)
  .filter((f) => f.endsWith('.js'))
  .map((f) => f.slice(0, -3))
  .sort();

const [name, ...rest] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- NAME [args]\navailable: ${available.join(', ') || '(none)'}`);
  process.exit(2);
}
const mod = (await import(join(suitesDir, `${name}.js`))) as { default: BenchSuite };
const result = await mod.default(rest);
process.stdout.write(JSON.stringify({ bench: name, ...result }) + '\n');
process.exit(0);
