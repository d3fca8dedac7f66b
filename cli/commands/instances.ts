// `verdant instances`: the multi-Raft instances of a cluster (docs/multiraft.md).
//
//   verdant instances [show] [--dir DIR] [--json]     R, epoch, leader of every instance, progress counters
//   verdant instances set N [--dir DIR] [--timeout MS] change R while serving: a record in the global
//                                                     log, applied at the same point on every replica
//
// Both talk to the replicas' control APIs: of a local cluster (--dir), or given as
// --control URL,... --control-token-file FILE (replicas on other hosts).
import type { Command } from 'commander';
import { ConfigError } from '../../runtime/common/config-error.js';

interface Target {
  readonly id: number | null;
  readonly url: string;
}

interface Opts {
  dir: string;
  control?: string;
  controlTokenFile?: string;
  json?: boolean;
}

async function targets(o: Opts): Promise<{ targets: Target[]; token: string }> {
  const lc = await import('../../runtime/replica/local-cluster.js');
  if (o.control !== undefined) {
    if (o.controlTokenFile === undefined) throw new ConfigError('--control-token-file', 'needed with --control');
    const urls = o.control.split(',').map((s) => s.trim()).filter(Boolean);
    if (urls.length === 0) throw new ConfigError('--control', 'expected one or more control URLs (http://host:port)');
    return { targets: urls.map((url) => ({ id: null, url: url.replace(/\/+$/, '') })), token: lc.readToken(o.controlTokenFile) };
  }
  const m = lc.readManifest(o.dir);
  return { targets: m.replicas.map((r) => ({ id: r.id, url: r.control })), token: lc.readToken(m.controlTokenFile) };
}

type Answer = { readonly ok: true; readonly status: number; readonly json: Record<string, unknown> } | { readonly ok: false; readonly error: string };

async function call(t: Target, token: string, route: string, body?: unknown, timeoutMs = 5000): Promise<Answer> {
  try {
    const res = await fetch(`${t.url}${route}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { ok: true, status: res.status, json: (await res.json()) as Record<string, unknown> };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    return { ok: false, error: err.cause?.code === 'ECONNREFUSED' ? 'down' : err.name === 'TimeoutError' ? 'not answering' : err.message };
  }
}

const label = (t: Target): string => (t.id !== null ? `replica ${t.id}` : t.url);

export function register(program: Command): void {
  const cmd = program.command('instances').description('show or change the multi-Raft instances (R) of a cluster');
  const common = (c: Command): Command =>
    c
      .option('--dir <dir>', 'local cluster directory', '.verdant/cluster')
      .option('--control <urls>', 'control API URLs instead of --dir (http://host:port,...)')
      .option('--control-token-file <file>', 'control token file (with --control)')
      .option('--json', 'JSON output');

  common(cmd.command('show', { isDefault: true }).description('R, epoch, the leader of every instance, no-op/skip counters, per replica')).action(async (o: Opts) => {
    const { targets: ts, token } = await targets(o);
    const rows = await Promise.all(ts.map(async (t) => ({ t, r: await call(t, token, '/v1/status') })));
    let down = 0;
    const out: Record<string, unknown>[] = [];
    for (const { t, r } of rows) {
      if (!r.ok || r.status !== 200) {
        down++;
        out.push({ replica: label(t), up: false, error: !r.ok ? r.error : `HTTP ${r.status}` });
        continue;
      }
      const s = r.json as { id: number; applied: number; multiraft?: Record<string, unknown> };
      if (!s.multiraft) {
        out.push({ replica: s.id, up: true, multiraft: false });
        continue;
      }
      out.push({ replica: s.id, up: true, applied: s.applied, ...s.multiraft });
    }
    if (o.json) console.log(JSON.stringify(out));
    else {
      for (const x of out) {
        if (x.up !== true) {
          console.log(`${String(x.replica)}: ${String(x.error)}`);
          continue;
        }
        if (x.multiraft === false) {
          console.log(`replica ${String(x.replica)}: single Raft`);
          continue;
        }
        const c = x.counters as Record<string, number>;
        const tr = x.transition as { instances: number; pendingSeal: number[]; added: number[] } | null;
        console.log(
          `replica ${String(x.replica)}: R=${String(x.instances)} epoch ${String(x.epoch)}${tr ? ` (changing to ${tr.instances}: sealing ${tr.pendingSeal.join(',') || '-'}, joining ${tr.added.join(',') || '-'})` : ''}, progress ${String(x.progress)}, global log ${String(x.globalSlots)} slots / ${String(x.outputIndex)} commands, applied ${String(x.applied)}, leads instances ${(x.localLeaders as number[]).join(',') || 'none'}`,
        );
        console.log(`  no-ops ${c.noopsProposed ?? 0}, skip records ${c.skipRecordsProposed ?? 0} (${c.skipSlotsProposed ?? 0} slots), merged no-ops ${c['merge.noops'] ?? 0}, skipped slots ${c['merge.skipSlots'] ?? 0}, reads served ${c.readsServed ?? 0}`);
        for (const v of x.instancesView as { group: number; role: string; leader: number; term: number; mode: string; pending: number }[]) {
          console.log(`  instance ${v.group}: ${v.mode.padEnd(7)} leader ${v.leader || '-'} (term ${v.term}), here ${v.role}, ${v.pending} slots waiting in the merge`);
        }
      }
    }
    if (down > 0) process.exitCode = 1;
  });

  common(cmd.command('set <count>').description('change R while serving (waits until applied on the replica that proposed it)'))
    .option('--timeout <ms>', 'how long to wait for the change to be applied', '30000')
    .action(async (countArg: string, o: Opts & { timeout: string }) => {
      const count = Number(countArg);
      if (!Number.isInteger(count) || count < 1 || count > 64) throw new ConfigError('count', `expected an integer in 1..64, got ${JSON.stringify(countArg)}`);
      const timeoutMs = Number(o.timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 100) throw new ConfigError('--timeout', `expected milliseconds >= 100, got ${JSON.stringify(o.timeout)}`);
      const { targets: ts, token } = await targets(o);
      const errors: string[] = [];
      // Any replica that leads an open instance can propose; the others say so (409).
      for (const t of ts) {
        const r = await call(t, token, '/v1/instances', { count, timeoutMs }, timeoutMs + 5000);
        if (r.ok && r.status === 200) {
          if (o.json) console.log(JSON.stringify({ replica: label(t), ...r.json }));
          else console.log(`R = ${String(r.json.instances)} (epoch ${String(r.json.epoch)})${r.json.changed ? `, proposed by ${label(t)}` : ', unchanged'}`);
          return;
        }
        const why = !r.ok ? r.error : String(r.json.error ?? `HTTP ${r.status}`);
        errors.push(`${label(t)}: ${why}`);
        if (r.ok && r.status === 400) break;
      }
      throw new Error(`could not set R = ${count}:\n  ${errors.join('\n  ')}`);
    });
}
