// The replica configuration file: one replica of a cluster, everything it needs to start.
//
// Strict on purpose: an unknown key or a bad value is a ConfigError naming the field path (the CLI
// exits 2), because a typo in a replicated system's config ("electonTicks") silently falling back
// to a default is how clusters end up with members that disagree.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, configErrorFromZod } from '../common/config-error.js';
import { MULTIRAFT_BUGS } from '../protocols/multiraft/options.js';
import { RAFT_BUGS } from '../protocols/raft/options.js';
import { storageConfigSchema } from '../storage/options.js';

/** `host:port` or `[v6]:port`. Port 0 means "any free port" and is allowed only where noted. */
const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/;

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export function parseHostPort(s: string): HostPort | null {
  const m = HOST_PORT.exec(s.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { host: (m[1] ?? m[2])!, port };
}

export function formatHostPort(a: HostPort): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

const address = (allowZero: boolean) =>
  z.string().transform((s, ctx) => {
    const a = parseHostPort(s);
    if (a === null || (!allowZero && a.port === 0)) {
      ctx.addIssue({ code: 'custom', message: `expected host:port${allowZero ? '' : ' with a port in 1..65535'}, got ${JSON.stringify(s)}` });
      return z.NEVER;
    }
    return a;
  });

const nodeId = z.number().int().min(1).max(0xffff_ffff);

const memberSchema = z.strictObject({
  id: nodeId,
  /** Where the other replicas reach this one (peer transport). */
  peer: address(false),
  /** Where clients reach it (redirects name this address). */
  client: address(false),
});

/** Options of the Raft core that make sense in a config file (see docs/raft.md), plus the tick. */
const raftSchema = z.strictObject({
  /** Milliseconds per logical tick (the core counts timeouts in ticks). */
  tickMs: z.number().int().min(1).max(10_000).default(100),
  electionTicks: z.number().int().min(2).max(10_000).default(10),
  heartbeatTicks: z.number().int().min(1).max(10_000).default(1),
  preVote: z.boolean().default(true),
  checkQuorum: z.boolean().default(true),
  leaseReads: z.boolean().default(false),
  maxEntriesPerMsg: z.number().int().min(1).default(4096),
  maxBytesPerMsg: z.number().int().min(1).default(1 << 20),
  maxInflightMsgs: z.number().int().min(1).default(256),
  maxInflightBytes: z.number().int().min(0).default(16 << 20),
  maxEntryBytes: z.number().int().min(1024).default(4 << 20),
  maxUncommittedBytes: z.number().int().min(0).default(64 << 20),
  snapshotChunkBytes: z.number().int().min(1024).default(256 << 10),
  snapshotChunksInFlight: z.number().int().min(1).default(4),
  maxSnapshotBytes: z.number().int().min(0).default(1 << 30),
  compactionRetainEntries: z.number().int().min(0).default(1024),
  /** Deliberately broken variants of the core, for tests that prove the checks can fail. Never in production. */
  bugs: z.array(z.enum(RAFT_BUGS)).default([]),
});

const sessionsSchema = z.strictObject({
  window: z.number().int().min(1).max(65_536).default(64),
  maxSessions: z.number().int().min(1).default(4096),
  ttlMs: z.number().int().min(1000).default(600_000),
  maxCachedResultBytes: z.number().int().min(0).max(65_536).default(256),
});

const serviceSchema = z.strictObject({
  /** Take a snapshot (and compact the log) after this many applied entries ... */
  snapshotEveryEntries: z.number().int().min(1).default(20_000),
  /** ... or this many applied entry bytes, whichever comes first. */
  snapshotEveryBytes: z.number().int().min(4096).default(256 << 20),
  /** Replicated behaviour: every replica of a cluster must use the same values. */
  sessions: sessionsSchema.prefault({}),
});

const clientSchema = z.strictObject({
  /** One log entry carries the commands that arrived in one scheduling slice, up to these bounds. */
  maxBatchBytes: z.number().int().min(1024).default(256 << 10),
  maxBatchCommands: z.number().int().min(1).default(4096),
  /** Unanswered requests per client connection before the replica stops reading it. */
  maxInFlight: z.number().int().min(1).default(4096),
  /** A linearizable read or a write not answered within this time is answered "retry". */
  requestTimeoutMs: z.number().int().min(100).default(10_000),
});

/**
 * Multi-Raft (docs/multiraft.md). Present (or groups > 1): the replica runs `groups` Raft instances
 * and the Niagara sequencer. Every replica of a cluster must use the same values for the replicated
 * ones (groups, maxInstances, progress); the rest only shape what this replica proposes.
 */
const multiraftSchema = z.strictObject({
  /** How instances without load keep the merge moving: Niagara's no-ops or Multi-Ring skip records. */
  progress: z.enum(['noop', 'skip', 'none']).default('noop'),
  /** Upper bound for R (verdant instances set N). */
  maxInstances: z.number().int().min(1).max(64).default(16),
  /** No-op mode: the rule runs every this many ticks ... */
  noopIntervalTicks: z.number().int().min(1).default(1),
  /** ... and this long after the merge stalls on one instance while others hold entries (0: off). */
  stallNoopMs: z.number().min(0).max(10_000).default(2),
  maxNoopsPerRound: z.number().int().min(1).default(4096),
  /** Skip mode: interval Δ in ticks (initial, adaptive within min..max), target λ (0: adaptive). */
  skipIntervalTicks: z.number().int().min(1).optional(),
  skipIntervalMinTicks: z.number().int().min(1).default(1),
  skipIntervalMaxTicks: z.number().int().min(1).default(8),
  skipLambda: z.number().int().min(0).default(0),
  skipHeadroom: z.number().min(1).max(100).default(1.5),
  skipLambdaMin: z.number().int().min(0).default(0),
  skipLambdaMax: z.number().int().min(1).default(1 << 20),
  /** Spread instance leaders over the replicas so every replica has a local leader (Niagara §3.1). */
  balanceLeaders: z.boolean().default(true),
  balanceIntervalTicks: z.number().int().min(1).default(20),
  membershipIntervalTicks: z.number().int().min(1).default(2),
  /** Merge states kept for compaction. */
  checkpoints: z.number().int().min(1).max(65_536).default(64),
  controlRetryTicks: z.number().int().min(1).default(20),
  /** Tests only: deliberately broken variants of the sequencer. Never in production. */
  bugs: z.array(z.enum(MULTIRAFT_BUGS)).default([]),
});

const placementSchema = z.record(z.string().min(1), z.number().int().min(0).max(64));

const runtimeSchema = z.strictObject({
  /** Worker-thread executors at start (0: every actor on the main thread). */
  workers: z.number().int().min(0).max(64).default(0),
  /** Executor per movable actor id (raft/0, kv, sequencer); unnamed actors stay on the main thread. */
  placement: placementSchema.default({}),
  /** CPU set per executor index ("0".."workers"); omitted: not pinned. */
  cpus: z.record(z.string().regex(/^\d+$/), z.array(z.number().int().min(0)).min(1)).optional(),
  codec: z.enum(['msgpack', 'clone']).default('msgpack'),
});

/**
 * Mutual TLS around every peer connection (docs/replica.md, "TLS"). The HMAC handshake over
 * `secretFile` still runs inside it: a peer needs a certificate from `ca` naming its id and the
 * cluster secret.
 */
const tlsSchema = z.strictObject({
  /** This replica's PEM certificate: CN `replica-<id>`, signed by `ca`. */
  cert: z.string().min(1),
  /** Its PEM private key (unencrypted), a 0600 file. */
  key: z.string().min(1),
  /** PEM CA certificate(s); peers' certificates must chain to one of them. */
  ca: z.string().min(1),
  /** Serve the client port over TLS too, with the same certificate (clients verify it against `ca`). */
  clientPort: z.boolean().default(false),
});

const controlSchema = z.strictObject({
  /** The control API (status, topology, plans). Loopback unless deliberately widened. */
  listen: address(true).default({ host: '127.0.0.1', port: 0 }),
  tokenFile: z.string().min(1),
});

export const replicaConfigSchema = z
  .strictObject({
    id: nodeId,
    clusterId: z.string().min(1).max(64),
    dataDir: z.string().min(1),
    /** The cluster secret for peer authentication (HMAC), a 0600 file. */
    secretFile: z.string().min(1),
    /** Accepted client tokens, one per line (several allow rotation), a 0600 file. */
    clientTokenFile: z.string().min(1),
    /** Optional mutual TLS between replicas (and optionally on the client port). */
    tls: tlsSchema.optional(),
    /** Every replica of the bootstrap configuration, this one included. */
    members: z.array(memberSchema).min(1).max(64),
    /**
     * Dial these addresses instead of members[].peer, per peer id ("2": "host:port"): for a proxy
     * or NAT between replicas (the fault tests put a FaultProxy there).
     */
    peerDial: z.record(z.string().regex(/^[1-9]\d*$/, 'keys are member ids'), address(false)).optional(),
    /** Where to bind; default: this replica's own member addresses. */
    listen: z.strictObject({ peer: address(true).optional(), client: address(true).optional() }).prefault({}),
    control: controlSchema,
    /**
     * Consensus groups: 1 = single Raft (unless `multiraft` is given); R > 1 = multi-Raft with R
     * instances at bootstrap (R then changes through the global log: verdant instances set N).
     */
    groups: z.number().int().min(1).max(64).default(1),
    multiraft: multiraftSchema.optional(),
    raft: raftSchema.prefault({}),
    storage: storageConfigSchema.prefault({}),
    service: serviceSchema.prefault({}),
    client: clientSchema.prefault({}),
    runtime: runtimeSchema.prefault({}),
    log: z.strictObject({ level: z.enum(['error', 'warn', 'info', 'debug']).default('info') }).prefault({}),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<number>();
    c.members.forEach((m, i) => {
      if (seen.has(m.id)) ctx.addIssue({ code: 'custom', path: ['members', i, 'id'], message: `duplicate member id ${m.id}` });
      seen.add(m.id);
    });
    for (const k of Object.keys(c.peerDial ?? {})) {
      if (!seen.has(Number(k)) || Number(k) === c.id) ctx.addIssue({ code: 'custom', path: ['peerDial', k], message: `not the id of another member` });
    }
    if (!seen.has(c.id)) ctx.addIssue({ code: 'custom', path: ['id'], message: `replica ${c.id} is not one of members (${[...seen].join(', ')})` });
    if (c.raft.heartbeatTicks >= c.raft.electionTicks) {
      ctx.addIssue({ code: 'custom', path: ['raft', 'heartbeatTicks'], message: `must be below electionTicks (${c.raft.electionTicks})` });
    }
    if (c.client.maxBatchBytes > c.raft.maxEntryBytes) {
      ctx.addIssue({ code: 'custom', path: ['client', 'maxBatchBytes'], message: `must not exceed raft.maxEntryBytes (${c.raft.maxEntryBytes}): a batch is one log entry` });
    }
    const multi = c.multiraft !== undefined || c.groups > 1;
    const maxInstances = c.multiraft?.maxInstances ?? 16;
    if (multi && c.groups > maxInstances) ctx.addIssue({ code: 'custom', path: ['groups'], message: `must not exceed multiraft.maxInstances (${maxInstances})` });
    const mr = c.multiraft;
    if (mr && mr.skipIntervalMaxTicks < mr.skipIntervalMinTicks) ctx.addIssue({ code: 'custom', path: ['multiraft', 'skipIntervalMaxTicks'], message: `must be at least skipIntervalMinTicks (${mr.skipIntervalMinTicks})` });
    if (mr?.skipIntervalTicks !== undefined && (mr.skipIntervalTicks < mr.skipIntervalMinTicks || mr.skipIntervalTicks > mr.skipIntervalMaxTicks)) {
      ctx.addIssue({ code: 'custom', path: ['multiraft', 'skipIntervalTicks'], message: `must lie in skipIntervalMinTicks..skipIntervalMaxTicks (${mr.skipIntervalMinTicks}..${mr.skipIntervalMaxTicks})` });
    }
    if (mr && mr.skipLambdaMax < mr.skipLambdaMin) ctx.addIssue({ code: 'custom', path: ['multiraft', 'skipLambdaMax'], message: `must be at least skipLambdaMin (${mr.skipLambdaMin})` });
    // Instances created later by a change of R may be placed in advance.
    const movable = new Set(['sequencer', 'kv', ...Array.from({ length: multi ? maxInstances : c.groups }, (_, g) => `raft/${g}`)]);
    for (const [actor, ex] of Object.entries(c.runtime.placement)) {
      if (!movable.has(actor)) ctx.addIssue({ code: 'custom', path: ['runtime', 'placement', actor], message: `not a movable actor (${[...movable].join(', ')}); wal, peer and client stay on the main thread` });
      else if (ex > c.runtime.workers) ctx.addIssue({ code: 'custom', path: ['runtime', 'placement', actor], message: `executor ${ex} does not exist (workers: ${c.runtime.workers})` });
    }
  });

export type ReplicaConfigInput = z.input<typeof replicaConfigSchema>;
export type ReplicaConfig = z.output<typeof replicaConfigSchema>;
export type MultiRaftConfig = z.output<typeof multiraftSchema>;
export type TlsConfig = z.output<typeof tlsSchema>;

/** The multi-Raft settings in force, or null for single Raft. */
export function multiraftConfig(c: ReplicaConfig): MultiRaftConfig | null {
  if (c.multiraft === undefined && c.groups === 1) return null;
  return c.multiraft ?? multiraftSchema.parse({});
}

/** The options of runtime/protocols/multiraft for this config (the sequencer's coordinator). */
export function multiraftCoreOptions(c: ReplicaConfig, mr: MultiRaftConfig): Record<string, unknown> {
  const { stallNoopMs: _stall, skipIntervalTicks, ...rest } = mr;
  return { ...rest, ...(skipIntervalTicks !== undefined ? { skipIntervalTicks } : {}), instances: c.groups, bugs: [...mr.bugs] };
}

/** Validates a parsed config object; relative paths are resolved against `baseDir`. */
export function parseReplicaConfig(raw: unknown, file?: string, baseDir = process.cwd()): ReplicaConfig {
  const r = replicaConfigSchema.safeParse(raw);
  if (!r.success) throw configErrorFromZod(r.error, file);
  const c = r.data;
  const abs = (p: string) => path.resolve(baseDir, p);
  return {
    ...c,
    dataDir: abs(c.dataDir),
    secretFile: abs(c.secretFile),
    clientTokenFile: abs(c.clientTokenFile),
    ...(c.tls ? { tls: { ...c.tls, cert: abs(c.tls.cert), key: abs(c.tls.key), ca: abs(c.tls.ca) } } : {}),
    control: { ...c.control, tokenFile: abs(c.control.tokenFile) },
  };
}

/** Reads a JSON or YAML replica config file; relative paths inside it are relative to the file. */
export async function loadReplicaConfig(file: string): Promise<ReplicaConfig> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError('', `cannot read config: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file);
  }
  let raw: unknown;
  try {
    if (/\.ya?ml$/i.test(file)) {
      const { parse } = await import('yaml');
      raw = parse(text);
    } else {
      raw = JSON.parse(text);
    }
  } catch (e) {
    throw new ConfigError('', `not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(e as Error).message}`, file);
  }
  return parseReplicaConfig(raw, file, path.dirname(path.resolve(file)));
}

/** Reads the client token file: one token per line, blank lines and #comments ignored. */
export function readTokens(file: string, fieldPath: string): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new ConfigError(fieldPath, `cannot read token file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if ((st.mode & 0o077) !== 0) throw new ConfigError(fieldPath, `token file ${file} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  const tokens = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (tokens.length === 0) throw new ConfigError(fieldPath, `token file ${file} holds no token`);
  for (const t of tokens) if (Buffer.byteLength(t) < 16 || Buffer.byteLength(t) > 256) throw new ConfigError(fieldPath, `a token in ${file} is not 16..256 bytes long`);
  return tokens;
}
