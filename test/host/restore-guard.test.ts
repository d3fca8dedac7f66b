// Restore on exit, with real child processes: SIGTERM, SIGINT, an uncaught exception, an
// unhandled rejection and a plain process.exit all put the RAPL limit back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { copyFixture, readIn, removeFixture, repoRoot } from './helpers/fixture.js';

const LIMIT = 'sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/constraint_0_power_limit_uw';
const helper = join(repoRoot, 'dist/test/host/helpers/guard-child.js');

function run(root: string, mode: string, signal?: NodeJS.Signals): Promise<{ code: number | null; out: string; err: string; during: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [helper, root, mode], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let during = '';
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timeout; out=${out} err=${err}`));
    }, 60000);
    child.stdout.on('data', (d) => {
      out += d;
      if (!during && out.includes('applied')) {
        during = readIn(root, LIMIT);
        if (signal) child.kill(signal);
        else child.stdin.write('go\n');
      }
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out, err, during });
    });
  });
}

const cases: [string, NodeJS.Signals | undefined, number, RegExp][] = [
  ['wait', 'SIGTERM', 143, /restored rapl-power-limit \(received SIGTERM\)/],
  ['wait', 'SIGINT', 130, /restored rapl-power-limit \(received SIGINT\)/],
  ['throw', undefined, 1, /restored rapl-power-limit \(uncaught error\)/],
  ['reject', undefined, 1, /restored rapl-power-limit \(uncaught error\)/],
  ['exit', undefined, 3, /restored rapl-power-limit \(exit\)/],
];

for (const [mode, signal, code, log] of cases) {
  test(`restore guard: ${signal ?? mode} restores the previous value`, async () => {
    const root = copyFixture('intel-1s-wrap');
    try {
      const r = await run(root, mode, signal);
      assert.equal(r.during, '30000000', `cap in force while running; out=${r.out} err=${r.err}`);
      assert.equal(r.code, code, r.err);
      assert.match(r.out, log);
      assert.equal(readIn(root, LIMIT), '65000000');
      if (mode === 'throw') assert.match(r.out, /boom/);
    } finally {
      removeFixture(root);
    }
  });
}
