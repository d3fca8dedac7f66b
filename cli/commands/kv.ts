// `verdant kv put|get|del|cas|scan ...` against a local cluster (--dir) or any replicas
// (--endpoints host:port,... with --token-file). Keys and values are UTF-8 text on the command line.
//
// Exit codes: 0 success; 3 key not found (get), compare failed (cas), nothing deleted (del);
// 1 failure (unreachable, timeout, refused); 2 bad usage.
import type { Command } from 'commander';
import { ConfigError } from '../../runtime/common/config-error.js';

interface Common {
  dir?: string;
  endpoints?: string;
  tokenFile?: string;
  ca?: string;
  timeout: string;
  json?: boolean;
}

const NOT_FOUND = 3;

async function client(o: Common) {
  const { KvClient } = await import('../../runtime/client/index.js');
  let endpoints: string[];
  let token: string;
  let caFile = o.ca;
  const lc = await import('../../runtime/replica/local-cluster.js');
  if (o.endpoints !== undefined) {
    endpoints = o.endpoints.split(',').map((s) => s.trim()).filter(Boolean);
    if (endpoints.length === 0) throw new ConfigError('--endpoints', 'expected host:port[,host:port...]');
    const file = o.tokenFile ?? process.env.VERDANT_TOKEN_FILE;
    if (file === undefined && process.env.VERDANT_TOKEN === undefined) throw new ConfigError('--token-file', 'needed with --endpoints (or set VERDANT_TOKEN)');
    token = file !== undefined ? lc.readToken(file) : process.env.VERDANT_TOKEN!;
  } else {
    const m = lc.readManifest(o.dir ?? '.verdant/cluster');
    endpoints = m.replicas.map((r) => r.client);
    token = lc.readToken(o.tokenFile ?? m.clientTokenFile);
    caFile ??= m.tls?.ca;
  }
  let tls: { ca: Buffer } | undefined;
  if (caFile !== undefined) {
    const { readFileSync } = await import('node:fs');
    try {
      tls = { ca: readFileSync(caFile) };
    } catch (e) {
      throw new ConfigError('--ca', `cannot read ${caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const timeout = Number(o.timeout);
  if (!Number.isInteger(timeout) || timeout < 1) throw new ConfigError('--timeout', `expected milliseconds, got ${JSON.stringify(o.timeout)}`);
  return KvClient.connect({ endpoints, token, requestTimeoutMs: timeout, connectTimeoutMs: Math.min(2000, timeout), maxSessions: 1, ...(tls ? { tls } : {}) });
}

const text = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('utf8'));

const shellQuote = (s: string): string => (/^[\w.,:/@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

function entryJson(e: { key: Uint8Array; value: Uint8Array | null; createRevision: number; modRevision: number; version: number } | null) {
  if (e === null) return null;
  return { key: text(e.key), value: text(e.value), createRevision: e.createRevision, modRevision: e.modRevision, version: e.version };
}

function common(c: Command): Command {
  return c
    .option('--dir <dir>', 'local cluster directory', '.verdant/cluster')
    .option('--endpoints <list>', 'replica client addresses host:port,... (instead of --dir)')
    .option('--token-file <file>', 'client token file (default: the cluster directory\'s)')
    .option('--ca <file>', 'the replicas serve clients over TLS: verify them against this CA (PEM; default: the cluster directory\'s, if it uses TLS)')
    .option('--timeout <ms>', 'deadline of the operation, retries included', '10000')
    .option('--json', 'print the result as JSON');
}

async function run(o: Common, f: (kv: Awaited<ReturnType<typeof client>>) => Promise<void>): Promise<void> {
  const kv = await client(o);
  try {
    await f(kv);
  } finally {
    await kv.close();
  }
}

export function register(program: Command): void {
  const kv = program.command('kv').description('read and write the replicated key-value store');

  common(kv.command('put').description('set KEY to VALUE').argument('<key>').argument('<value>')).action(async (key: string, value: string, o: Common) => {
    await run(o, async (c) => {
      const r = await c.put(key, value);
      console.log(o.json ? JSON.stringify({ ok: true, revision: r.revision }) : `OK (revision ${r.revision})`);
    });
  });

  common(kv.command('get').description('print the value of KEY (exit 3 if absent)').argument('<key>').option('--stale', 'read from whichever replica answers, without a read-index round (may be behind)')).action(
    async (key: string, o: Common & { stale?: boolean }) => {
      await run(o, async (c) => {
        const r = await c.get(key, { consistency: o.stale ? 'stale' : 'linearizable' });
        if (o.json) console.log(JSON.stringify({ revision: r.revision, entry: entryJson(r.entry) }));
        else if (r.entry !== null) console.log(text(r.entry.value));
        else console.error(`${key}: not found`);
        if (r.entry === null) process.exitCode = NOT_FOUND;
      });
    },
  );

  common(kv.command('del').alias('delete').description('delete KEY (exit 3 if it did not exist)').argument('<key>')).action(async (key: string, o: Common) => {
    await run(o, async (c) => {
      const r = await c.delete(key);
      console.log(o.json ? JSON.stringify({ deleted: r.deleted, revision: r.revision }) : r.deleted ? `deleted (revision ${r.revision})` : `${key}: not found`);
      if (!r.deleted) process.exitCode = NOT_FOUND;
    });
  });

  common(
    kv
      .command('cas')
      .description('compare-and-set: set KEY to NEW if the comparison holds (exit 3 if it does not)')
      .argument('<key>')
      .argument('[new]', 'the new value (omit with --delete)')
      .option('--expect <value>', 'the current value must be this')
      .option('--absent', 'the key must not exist')
      .option('--mod-revision <n>', 'the key\'s last modification revision must be N (0 = absent)')
      .option('--delete', 'delete the key instead of setting it'),
  ).action(async (key: string, nv: string | undefined, o: Common & { expect?: string; absent?: boolean; modRevision?: string; delete?: boolean }) => {
    const given = [o.expect !== undefined, o.absent === true, o.modRevision !== undefined].filter(Boolean).length;
    if (given !== 1) throw new ConfigError('cas', 'give exactly one of --expect VALUE, --absent, --mod-revision N');
    if ((nv === undefined) !== (o.delete === true)) throw new ConfigError('cas', 'give either NEW or --delete');
    let compare: { kind: 'absent' } | { kind: 'value'; value: string } | { kind: 'mod-revision'; revision: number };
    if (o.absent) compare = { kind: 'absent' };
    else if (o.expect !== undefined) compare = { kind: 'value', value: o.expect };
    else {
      const n = Number(o.modRevision);
      if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError('--mod-revision', `expected a revision, got ${JSON.stringify(o.modRevision)}`);
      compare = { kind: 'mod-revision', revision: n };
    }
    await run(o, async (c) => {
      const r = await c.cas(key, compare, nv ?? null);
      if (o.json) console.log(JSON.stringify({ succeeded: r.succeeded, revision: r.revision, current: entryJson(r.current) }));
      else console.log(r.succeeded ? `OK (revision ${r.revision})` : `compare failed; current: ${r.current === null ? '(absent)' : JSON.stringify(text(r.current.value))}`);
      if (!r.succeeded) process.exitCode = NOT_FOUND;
    });
  });

  common(
    kv
      .command('scan')
      .description('list keys in [START, END) in byte order')
      .argument('[start]', 'first key (default: the first)', '')
      .argument('[end]', 'stop before this key (default: no bound)')
      .option('--limit <n>', 'at most N keys (1..100000)', '100')
      .option('--after <key>', 'start after this key (exclusive): where the previous page ended')
      .option('--keys-only', 'print keys only')
      .option('--stale', 'read without a read-index round (may be behind)'),
  ).action(async (start: string, end: string | undefined, o: Common & { limit: string; after?: string; keysOnly?: boolean; stale?: boolean }) => {
    const limit = Number(o.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new ConfigError('--limit', `expected 1..100000, got ${JSON.stringify(o.limit)}`);
    // START is inclusive; the key right after K in byte order is K followed by a zero byte, which
    // cannot be typed as an argument, hence --after. It only raises the lower bound, so repeating
    // a command with --after LAST continues it whatever its START.
    let from = Buffer.from(start, 'utf8');
    if (o.after !== undefined) {
      const next = Buffer.concat([Buffer.from(o.after, 'utf8'), Buffer.of(0)]);
      if (Buffer.compare(next, from) > 0) from = next;
    }
    await run(o, async (c) => {
      const r = await c.scan(from, end ?? null, limit, { consistency: o.stale ? 'stale' : 'linearizable', keysOnly: o.keysOnly ?? false });
      if (o.json) console.log(JSON.stringify({ revision: r.revision, more: r.more, entries: r.entries.map(entryJson) }));
      else {
        for (const e of r.entries) console.log(o.keysOnly ? text(e.key) : `${text(e.key)}\t${text(e.value)}`);
        const last = r.entries[r.entries.length - 1];
        if (r.more && last) console.error(`(more keys follow; to continue, repeat the command with --after=${shellQuote(text(last.key)!)})`);
      }
    });
  });
}
