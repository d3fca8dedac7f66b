// `verdant actors topology|stats|plan`: talk to the actor-runtime control API of a running process.
import type { Command } from 'commander';
import { ConfigError } from '../../runtime/common/config-error.js';

interface Target {
  url?: string;
  socket?: string;
  tokenFile: string;
}

async function call(t: Target, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const { readTokenFile } = await import('../../runtime/actors/control-api.js');
  let token: string;
  try {
    token = readTokenFile(t.tokenFile);
  } catch (err) {
    throw new ConfigError('--token-file', err instanceof Error ? err.message : String(err));
  }
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  const payload = body === undefined ? undefined : JSON.stringify(body);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  if (t.socket) {
    const http = await import('node:http');
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: t.socket, path, method, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(payload);
    });
  }
  if (!t.url) throw new ConfigError('--url', 'give --url http://127.0.0.1:PORT or --socket PATH');
  const res = await fetch(new URL(path, t.url), { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  return { status: res.status, text: await res.text() };
}

function show(r: { status: number; text: string }): void {
  if (r.status === 400) {
    let reason = r.text;
    try {
      reason = (JSON.parse(r.text) as { error?: string }).error ?? r.text;
    } catch {
      /* not JSON */
    }
    throw new ConfigError('plan', `rejected: ${reason}`);
  }
  if (r.status !== 200) throw new Error(`control API answered ${r.status}: ${r.text}`);
  console.log(JSON.stringify(JSON.parse(r.text), null, 2));
}

export function register(program: Command): void {
  const actors = program.command('actors').description("inspect or remap a running process's actors through its control API");
  const target = (c: Command): Command =>
    c
      .option('--url <url>', 'control API base URL, e.g. http://127.0.0.1:7070')
      .option('--socket <path>', 'control API unix socket')
      .requiredOption('--token-file <file>', 'file holding the bearer token');
  target(actors.command('topology').description('executors, their threads and CPU sets, and where each actor lives')).action(async (o: Target) =>
    show(await call(o, 'GET', '/v1/topology')),
  );
  target(actors.command('stats').description('per-actor and per-executor metrics')).action(async (o: Target) => show(await call(o, 'GET', '/v1/stats')));
  target(actors.command('plan <file>').description("apply a plan (JSON file, or '-' for stdin)")).action(async (file: string, o: Target) => {
    const { readFileSync } = await import('node:fs');
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (err) {
      throw new ConfigError('', err instanceof Error ? err.message : String(err), file);
    }
    let plan: unknown;
    try {
      plan = JSON.parse(text);
    } catch (err) {
      throw new ConfigError('', `not JSON: ${err instanceof Error ? err.message : String(err)}`, file);
    }
    show(await call(o, 'POST', '/v1/plan', plan));
  });
}
