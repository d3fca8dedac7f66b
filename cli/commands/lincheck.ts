// `verdant lincheck FILE`: check a recorded KV history (Porcupine-shaped JSON, as `verdant sim
// --export-history` writes it) for linearizability. Exit 0 if linearizable, 1 if not (or if the
// search budget ran out), 2 on unreadable input.
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('lincheck <file>')
    .description('check a KV history (Porcupine JSON: clientId, input, call, output, return) for linearizability')
    .option('--json', 'print the verdict as one JSON object')
    .option('--max-steps <n>', 'search budget per key', '20000000')
    .action(async (file: string, o: { json?: boolean; maxSteps: string }) => {
      const { ConfigError } = await import('../../runtime/common/config-error.js');
      const { readFileSync } = await import('node:fs');
      const { parseHistoryJson } = await import('../../runtime/sim/lincheck/history.js');
      const { checkKvHistory, describeFailure } = await import('../../runtime/sim/lincheck/kv-check.js');
      const maxSteps = Number(o.maxSteps);
      if (!Number.isSafeInteger(maxSteps) || maxSteps < 1) throw new ConfigError('max-steps', `expected a positive integer, got ${JSON.stringify(o.maxSteps)}`);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new ConfigError('', `cannot read history: ${e instanceof Error ? e.message : String(e)}`, file);
      }
      let history;
      try {
        history = parseHistoryJson(text);
      } catch (e) {
        throw new ConfigError('', e instanceof Error ? e.message : String(e), file);
      }
      const started = performance.now();
      const r = checkKvHistory(history, { maxStepsPerKey: maxSteps });
      const ms = Math.round(performance.now() - started);
      if (o.json) {
        console.log(JSON.stringify({ file, result: r.result, ops: r.ops, keys: r.keys, steps: r.steps, ms, failing_keys: r.failures.map((f) => f.key) }));
      } else {
        console.log(`${file}: ${r.result === 'ok' ? 'linearizable' : r.result === 'illegal' ? 'NOT linearizable' : 'undecided (search budget exhausted)'} (${r.ops} ops, ${r.keys} keys, ${ms} ms)`);
        if (r.result !== 'ok') console.log(describeFailure(history, r));
      }
      if (r.result !== 'ok') process.exitCode = 1;
    });
}
