// Runs the real `verdant` CLI as a child process and lets tests wait for output lines.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { cliPath, repoRoot } from './fixture.js';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: SpawnOptions = {}, timeoutMs = 60000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`verdant ${args.join(' ')} timed out; stdout=${stdout} stderr=${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface LiveCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout contains `text`. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<RunResult>;
}

export function startCli(args: string[], opts: SpawnOptions = {}): LiveCli {
  const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: { test: (s: string) => boolean; resolve: () => void }[] = [];
  child.stdout!.on('data', (d) => {
    out += d;
    for (const w of [...waiters]) if (w.test(out)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<RunResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(text, timeoutMs = 60000) {
      const test = (s: string) => (typeof text === 'string' ? s.includes(text) : text.test(s));
      if (test(out)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${String(text)}; stdout=${out} stderr=${err}`)), timeoutMs);
        waiters.push({ test, resolve: () => (clearTimeout(t), resolve()) });
        void exited.then((r) => {
          clearTimeout(t);
          if (!test(out)) reject(new Error(`exited (${r.code}/${r.signal}) before ${String(text)}; stdout=${out} stderr=${err}`));
        });
      });
    },
  };
}
