// One seeded simulation run: N replicas of any ProtocolFactory, simulated clients, a faulty network,
// crash-restarts, invariant checks after every step and a linearizability check of the client
// history at the end. Everything random comes from the seed, so a run replays exactly.
import type { Envelope, Membership, MembershipChange, NodeId, ProtocolFactory } from '../protocols/api.js';
import { SeededRng } from '../protocols/rng.js';
import { SimClient } from './client.js';
import { EventQueue } from './event-queue.js';
import { NO_FAULTS, drawFaults, type FaultConfig } from './faults.js';
import { SimHost } from './host.js';
import { InvariantChecker, type Violation } from './invariants.js';
import { HistoryRecorder, type Operation } from './lincheck/history.js';
import { checkKvHistory, describeFailure, type LinCheckResult } from './lincheck/kv-check.js';
import type { ClientReply, ClientRequest } from './messages.js';
import { describerFor } from './protocol-support.js';
import { SimNetwork, type NetStats } from './network.js';

export interface SimConfig {
  readonly factory: ProtocolFactory<Envelope, any>;
  /** Passed to factory.create (protocol bugs included, e.g. { bugs: ['vote-twice'] }). */
  readonly protocolOptions: Record<string, unknown>;
  /** Replica count; 0 draws 3 or 5 from the seed. */
  readonly replicas: number;
  readonly clients: number;
  readonly keys: number;
  /** Simulated ms with faults and new client operations. */
  readonly durationMs: number;
  /** Then this many ms with the network healed and no crashes, for pending operations to finish. */
  readonly drainMs: number;
  readonly tickMs: number;
  readonly clientTimeoutMs: number;
  readonly thinkMs: number;
  /** 'random': each seed draws its own rates (drawFaults); 'none': a clean network. */
  readonly faults: 'random' | 'none' | FaultConfig;
  /** Mean ms between leadership-transfer requests to the current leader (0: never). */
  readonly transferEvery: number;
  /** Mean ms between membership changes (0: never): a voter is removed, later re-added as a
   *  learner and promoted, one change at a time, through the current leader. */
  readonly membershipEvery: number;
  /** Mean ms between requests to change the number of consensus instances (0: never). Only
   *  protocols that offer InstanceControl (multi-Raft) are asked; others are unaffected. */
  readonly instanceChangeEvery: number;
  /** Changes pick R uniformly from 1..instanceChangeMax (never the current R). */
  readonly instanceChangeMax: number;
  /** Snapshot + compact after this many applied entries; 0 draws 10..60 per replica. */
  readonly compactEvery: number;
  /** Host-side injected bugs: 'send-before-persist'. */
  readonly hostBugs: readonly string[];
  readonly trace: boolean;
  /** Keep the history in the result (for export). */
  readonly keepHistory: boolean;
  /** Stop a run after this many events (a message storm, say); the run counts as truncated. */
  readonly maxSteps: number;
  /** Keep running after an invariant violation (to see what clients observe); default: stop. */
  readonly keepGoing: boolean;
}

export const DEFAULT_SIM_CONFIG: Omit<SimConfig, 'factory'> = {
  protocolOptions: {},
  replicas: 0,
  clients: 4,
  keys: 3,
  durationMs: 3000,
  drainMs: 3000,
  tickMs: 10,
  clientTimeoutMs: 250,
  thinkMs: 10,
  faults: 'random',
  transferEvery: 1500,
  membershipEvery: 1000,
  instanceChangeEvery: 700,
  instanceChangeMax: 4,
  compactEvery: 0,
  hostBugs: [],
  trace: false,
  keepHistory: false,
  maxSteps: 200_000,
  keepGoing: false,
};

export interface SimRunResult {
  readonly seed: number;
  readonly replicas: number;
  readonly faults: FaultConfig;
  readonly violations: readonly Violation[];
  /** Verdict on the client history ('unknown': the search hit its budget). */
  readonly linearizable: LinCheckResult['result'];
  readonly linearizabilityReport: string;
  readonly ops: number;
  readonly completedOps: number;
  readonly unknownOps: number;
  readonly crashes: number;
  readonly partitions: number;
  readonly compactions: number;
  readonly snapshotsInstalled: number;
  /** Writes without an fsync (mustSync false) that a crash discarded. */
  readonly unsyncedWritesLost: number;
  /** Membership changes proposed (and accepted by the leader). */
  readonly reconfigurations: number;
  /** Changes of the number of instances proposed (and accepted by a leader). */
  readonly instanceChanges: number;
  readonly steps: number;
  /** The run hit maxSteps before its clients were done. */
  readonly truncated: boolean;
  readonly simulatedMs: number;
  readonly net: NetStats;
  readonly history: readonly Operation[] | null;
  readonly trace: readonly string[] | null;
  /** The protocol's stats().counters summed over the replicas alive at the end (a restart resets a
   *  replica's counters), to see which protocol paths a run exercised. */
  readonly protocolCounters: Readonly<Record<string, number>>;
}

export function runSimulation(cfgIn: Partial<SimConfig> & { factory: ProtocolFactory<Envelope, any> }, seed: number): SimRunResult {
  const cfg: SimConfig = { ...DEFAULT_SIM_CONFIG, ...cfgIn };
  const root = new SeededRng(seed);
  const faultRng = root.fork();
  const netRng = root.fork();
  const clientRng = root.fork();
  const coreSeedRng = root.fork();
  const hostRng = root.fork();
  // Forked last, so protocols without instance control replay exactly as before it existed.
  const instanceRng = root.fork();
  const n = cfg.replicas > 0 ? cfg.replicas : faultRng.nextInt(2) === 0 ? 3 : 5;
  const faults: FaultConfig =
    cfg.faults === 'random' ? drawFaults(() => faultRng.nextFloat(), n) : cfg.faults === 'none' ? NO_FAULTS : cfg.faults;

  const queue = new EventQueue();
  let now = 0;
  const nowFn = (): number => now;
  const traceLines: string[] | null = cfg.trace ? [] : null;
  const trace = traceLines ? (line: string): void => void traceLines.push(`${String(now).padStart(6)} ${line}`) : null;
  const describe = describerFor(cfg.factory);
  const checker = new InvariantChecker(nowFn);
  const network = new SimNetwork(n, faults, netRng, queue, nowFn);
  const history = new HistoryRecorder();
  let hclock = 0;
  const endFaults = cfg.durationMs;
  const end = cfg.durationMs + cfg.drainMs;

  let crashes = 0;
  let partitions = 0;
  const down = new Set<NodeId>();
  const ids: NodeId[] = Array.from({ length: n }, (_, i) => i + 1);
  const membership: Membership = { voters: ids, learners: [] };
  const hosts: SimHost[] = [];
  const clients: SimClient[] = [];
  const hostEnv = {
    now: nowFn,
    schedule: (at: number, fire: () => void) => queue.schedule(at, fire),
    sendToPeer: (from: NodeId, to: NodeId, msg: Envelope) => {
      const host = hosts[to - 1];
      if (!host) {
        checker.report('core-error', `replica ${from} sent to unknown replica ${to}`);
        return;
      }
      if (trace) trace(`send ${describe(msg)}`);
      network.send(
        from,
        to,
        () => {
          if (trace) trace(`recv ${describe(msg)}${host.alive ? '' : ' (down)'}`);
          host.deliver(msg);
        },
        trace ? (why) => trace(`lost(${why}) ${describe(msg)}`) : undefined,
      );
    },
    replyToClient: (from: NodeId, reply: ClientReply) => {
      const c = clients[reply.client - 1];
      if (!c) return;
      if (trace) {
        const what = 'redirect' in reply ? `redirect to ${reply.redirect} (${reply.why})` : JSON.stringify(reply.output);
        trace(`reply ${from}->client ${reply.client} #${reply.seq} ${what}`);
      }
      clientLink(() => c.onReply(reply));
    },
    checker,
    trace,
    fsyncLatency: () => faults.fsyncMin + hostRng.nextInt(faults.fsyncMax - faults.fsyncMin + 1),
    onFsyncStart: (h: SimHost, completesAt: number) => {
      if (faults.crashInFsync <= 0 || now >= endFaults || down.size >= faults.maxDown) return;
      if (faultRng.nextFloat() >= faults.crashInFsync) return;
      // Power loss just before the fsync completes (events scheduled earlier at the same instant
      // fire first, so this lands before the completion).
      queue.schedule(Math.max(now, completesAt - 1), () => {
        if (down.has(h.id) || !h.alive) return;
        down.add(h.id);
        crashes++;
        trace?.(`crash ${h.id} (in fsync)`);
        h.crash();
        queue.schedule(Math.min(endFaults, now + faults.downMin + faultRng.nextInt(100)), () => restart(h));
      });
    },
  };
  // Clients reach replicas over lossy, delayed links that partitions do not cut.
  const clientLink = (fire: () => void): void => {
    if (faults.drop > 0 && netRng.nextFloat() < faults.drop) return;
    queue.schedule(now + faults.delayMin + netRng.nextInt(faults.delayMax - faults.delayMin + 1), fire);
  };
  const sendBeforePersist = cfg.hostBugs.includes('send-before-persist');
  for (const id of ids) {
    const coreSeed = coreSeedRng.nextU32();
    hosts.push(
      new SimHost(
        {
          id,
          factory: cfg.factory,
          options: cfg.protocolOptions,
          membership,
          sendBeforePersist,
          compactEvery: cfg.compactEvery > 0 ? cfg.compactEvery : 10 + hostRng.nextInt(51),
          rngFor: (inc) => new SeededRng((coreSeed ^ Math.imul(inc, 0x9e3779b1)) >>> 0),
        },
        hostEnv,
      ),
    );
  }
  const clientEnv = {
    now: nowFn,
    schedule: (at: number, fire: () => void) => queue.schedule(at, fire),
    send: (to: NodeId, req: ClientRequest) => {
      const h = hosts[to - 1]!;
      trace?.(`request client ${req.client}->${to} #${req.seq} ${req.input.op} ${req.input.key}`);
      clientLink(() => h.clientRequest(req));
    },
    historyTime: () => ++hclock,
    stopIssuingAt: cfg.durationMs,
    replicas: n,
    keys: cfg.keys,
    timeoutMs: cfg.clientTimeoutMs,
    thinkMs: cfg.thinkMs,
    history,
    trace,
  };
  for (let c = 1; c <= cfg.clients; c++) clients.push(new SimClient(c, clientEnv, clientRng.fork()));

  // Ticks: every replica ticks every tickMs (give or take its clock drift), each with its own phase.
  for (const h of hosts) {
    // Clock drift: this replica's tick period; fractional periods accumulate exactly.
    const period = cfg.tickMs * (1 + faults.tickSkew * (2 * hostRng.nextFloat() - 1));
    let next = 1 + hostRng.nextInt(cfg.tickMs);
    const tickLoop = (): void => {
      h.tick();
      next += period;
      if (Math.round(next) <= end) queue.schedule(Math.max(now, Math.round(next)), tickLoop);
    };
    queue.schedule(next, tickLoop);
  }

  // Faults.
  const jitter = (mean: number): number => Math.max(1, Math.round(mean * (0.5 + faultRng.nextFloat())));
  if (faults.partitionEvery > 0) {
    const partitionLoop = (): void => {
      if (now >= endFaults) return;
      const what = network.partitionRandomly();
      partitions++;
      trace?.(`partition ${what}`);
      const healAt = Math.min(endFaults, now + faults.partitionMin + faultRng.nextInt(faults.partitionMax - faults.partitionMin + 1));
      queue.schedule(healAt, () => {
        network.heal();
        trace?.('heal');
        queue.schedule(now + jitter(faults.partitionEvery), partitionLoop);
      });
    };
    queue.schedule(jitter(faults.partitionEvery), partitionLoop);
  }
  const restart = (h: SimHost): void => {
    if (!down.has(h.id)) return;
    down.delete(h.id);
    trace?.(`restart ${h.id}`);
    h.start();
  };
  if (faults.crashEvery > 0) {
    const crashLoop = (): void => {
      if (now >= endFaults) return;
      if (down.size < faults.maxDown) {
        const h = hosts[faultRng.nextInt(n)]!;
        if (!down.has(h.id)) {
          down.add(h.id);
          crashes++;
          trace?.(`crash ${h.id}`);
          h.crash();
          const upAt = Math.min(endFaults, now + faults.downMin + faultRng.nextInt(faults.downMax - faults.downMin + 1));
          queue.schedule(upAt, () => restart(h));
        }
      }
      queue.schedule(now + jitter(faults.crashEvery), crashLoop);
    };
    queue.schedule(jitter(faults.crashEvery), crashLoop);
  }
  if (cfg.transferEvery > 0 && cfg.faults !== 'none') {
    const transferLoop = (): void => {
      if (now >= endFaults) return;
      const leader = hosts.find((h) => h.alive && h.views().some((v) => v.role === 'leader'));
      if (leader) {
        const to = ids[faultRng.nextInt(n)]!;
        if (to !== leader.id) {
          trace?.(`transfer ${leader.id} -> ${to}`);
          leader.transferLeadership(to);
        }
      }
      queue.schedule(now + jitter(cfg.transferEvery), transferLoop);
    };
    queue.schedule(jitter(cfg.transferEvery), transferLoop);
  }
  let reconfigs = 0;
  if (cfg.membershipEvery > 0 && cfg.faults !== 'none' && n >= 3) {
    const reconfigLoop = (): void => {
      if (now >= endFaults) return;
      const leader = hosts.find((h) => h.alive && h.views().some((v) => v.role === 'leader'));
      const m = leader?.views()[0]?.membership;
      if (leader && m) {
        const learner = m.learners[0];
        const missing = ids.find((id) => !m.voters.includes(id) && !m.learners.includes(id));
        let change: MembershipChange;
        if (learner !== undefined) change = { type: 'promote', node: learner };
        else if (missing !== undefined) change = { type: 'add-learner', node: missing };
        else change = { type: 'remove', node: m.voters[faultRng.nextInt(m.voters.length)]! };
        const ok = leader.proposeMembership(change);
        if (ok) reconfigs++;
        trace?.(`membership ${change.type} ${change.node} via ${leader.id}: ${ok ? 'proposed' : 'refused'}`);
      }
      queue.schedule(now + jitter(cfg.membershipEvery), reconfigLoop);
    };
    queue.schedule(jitter(cfg.membershipEvery), reconfigLoop);
  }
  let instanceChanges = 0;
  const scheduleInstanceChanges = (): void => {
    if (cfg.instanceChangeEvery <= 0 || cfg.instanceChangeMax < 1 || !hosts.some((h) => h.instances() > 0)) return;
    const every = (): number => Math.max(1, Math.round(cfg.instanceChangeEvery * (0.5 + instanceRng.nextFloat())));
    const loop = (): void => {
      if (now >= endFaults) return;
      const leader = hosts.find((h) => h.alive && h.views().some((v) => v.role === 'leader'));
      if (leader) {
        const cur = leader.instances();
        const n = 1 + instanceRng.nextInt(cfg.instanceChangeMax);
        if (n !== cur) {
          const ok = leader.proposeInstances(n);
          if (ok) instanceChanges++;
          trace?.(`instances ${cur} -> ${n} via ${leader.id}: ${ok ? 'proposed' : 'refused'}`);
        }
      }
      queue.schedule(now + every(), loop);
    };
    queue.schedule(every(), loop);
  };
  // From the end of the fault phase on: heal, restart, and let pending operations finish.
  queue.schedule(endFaults, () => {
    network.heal();
    for (const h of hosts) restart(h);
    trace?.('faults off');
  });

  for (const h of hosts) h.start();
  for (const c of clients) c.start();
  scheduleInstanceChanges();

  let steps = 0;
  let truncated = false;
  const live = (): { id: NodeId; views: ReturnType<SimHost['views']> }[] =>
    hosts.filter((h) => h.alive).map((h) => ({ id: h.id, views: h.views() }));
  for (;;) {
    const ev = queue.pop();
    if (!ev || ev.time > end) break;
    now = ev.time;
    ev.fire();
    steps++;
    checker.observe(live());
    if (steps % 2000 === 0) checker.compareLogs(live());
    if (checker.failed && !cfg.keepGoing) break;
    if (now >= endFaults && clients.every((c) => !c.busy)) break;
    if (steps >= cfg.maxSteps) {
      truncated = true;
      trace?.(`truncated after ${steps} steps`);
      break;
    }
  }
  if (!checker.failed || cfg.keepGoing) checker.compareLogs(live());

  const protocolCounters: Record<string, number> = {};
  for (const h of hosts) {
    if (!h.core) continue;
    for (const [k, v] of Object.entries(h.core.stats().counters)) protocolCounters[k] = (protocolCounters[k] ?? 0) + v;
  }
  const ops = history.operations();
  const lin = checkKvHistory(ops);
  const unknownOps = ops.filter((o) => o.return === null).length;
  return {
    seed,
    replicas: n,
    faults,
    violations: checker.violations,
    linearizable: lin.result,
    linearizabilityReport: lin.result === 'ok' ? '' : describeFailure(ops, lin),
    ops: ops.length,
    completedOps: ops.length - unknownOps,
    unknownOps,
    crashes,
    partitions,
    compactions: hosts.reduce((a, h) => a + h.compactions, 0),
    snapshotsInstalled: hosts.reduce((a, h) => a + h.snapshotsInstalled, 0),
    unsyncedWritesLost: hosts.reduce((a, h) => a + h.unsyncedLost, 0),
    reconfigurations: reconfigs,
    instanceChanges,
    steps,
    truncated,
    simulatedMs: now,
    net: { ...network.stats },
    history: cfg.keepHistory ? ops : null,
    trace: traceLines,
    protocolCounters,
  };
}
