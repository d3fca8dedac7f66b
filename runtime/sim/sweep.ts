// Many seeded runs of one protocol configuration, summarised the way `verdant sim --json` reports
// them. Shared by the CLI and the tests.
import { ConfigError } from '../common/config-error.js';
import { getProtocol, protocolNames } from '../protocols/registry.js';
import { planBugs, simOptionsFor } from './protocol-support.js';
import { runSimulation, type SimConfig, type SimRunResult } from './simulator.js';

export interface SweepOptions {
  readonly protocol: string;
  readonly from: number;
  readonly seeds: number;
  readonly bugs: readonly string[];
  /** User protocol options, over the simulator's defaults for this protocol. */
  readonly protocolOptions: Record<string, unknown>;
  /** Overrides of the simulation parameters (replicas, clients, duration, faults, ...). */
  readonly sim: Partial<Omit<SimConfig, 'factory' | 'protocolOptions' | 'hostBugs'>>;
  /** Stop at the first failing seed. */
  readonly untilFailure: boolean;
  readonly onRun?: (r: SimRunResult) => void;
}

export interface SweepSummary {
  readonly protocol: string;
  readonly bugs: readonly string[];
  readonly from: number;
  readonly runs: number;
  /** Runs with at least one invariant violation. */
  readonly violations: number;
  /** Runs whose client history was linearizable. */
  readonly linearizable: number;
  /** Runs whose history check hit its search budget (neither proven nor refuted). */
  readonly lincheck_unknown: number;
  readonly ops: number;
  readonly completed_ops: number;
  readonly unknown_ops: number;
  readonly crashes: number;
  readonly partitions: number;
  readonly messages: number;
  readonly compactions: number;
  readonly snapshots_installed: number;
  /** Writes without an fsync that crashes discarded: the persistence contract's mustSync=false case. */
  readonly unsynced_writes_lost: number;
  readonly reconfigurations: number;
  readonly instance_changes: number;
  readonly truncated_runs: number;
  readonly failing_seeds: number[];
  readonly violation_kinds: Record<string, number>;
  readonly first_failure: { seed: number; what: string } | null;
}

export function isFailure(r: SimRunResult): boolean {
  return r.violations.length > 0 || r.linearizable !== 'ok';
}

export function describeRunFailure(r: SimRunResult): string {
  if (r.violations.length > 0) {
    const v = r.violations[0]!;
    return `${v.kind} at t=${v.time}ms: ${v.message}`;
  }
  return `history not linearizable (${r.linearizable}):\n${r.linearizabilityReport}`;
}

/** Resolves the protocol and bug names (ConfigError on unknown ones) into a run configuration. */
export function resolveSweep(o: Pick<SweepOptions, 'protocol' | 'bugs' | 'protocolOptions' | 'sim'>): Parameters<typeof runSimulation>[0] {
  let factory;
  try {
    factory = getProtocol(o.protocol);
  } catch {
    throw new ConfigError('protocol', `unknown protocol ${JSON.stringify(o.protocol)} (known: ${protocolNames().join(', ')})`);
  }
  const plan = planBugs(factory, o.bugs);
  const protocolOptions: Record<string, unknown> = { ...simOptionsFor(factory.name), ...o.protocolOptions };
  if (plan.protocolBugs.length > 0) protocolOptions.bugs = plan.protocolBugs;
  // Fail fast, with the protocol's own words, on options it does not accept.
  try {
    factory.create({ id: 1, membership: { voters: [1], learners: [] }, rng: { nextU32: () => 1 }, durable: [] }, protocolOptions);
  } catch (e) {
    throw new ConfigError('option', e instanceof Error ? e.message : String(e));
  }
  return { ...o.sim, factory, protocolOptions, hostBugs: plan.hostBugs };
}

export function runSweep(o: SweepOptions): SweepSummary {
  const cfg = resolveSweep(o);
  let runs = 0;
  let violations = 0;
  let linearizable = 0;
  let lincheckUnknown = 0;
  let ops = 0;
  let completed = 0;
  let unknownOps = 0;
  let crashes = 0;
  let partitions = 0;
  let messages = 0;
  let compactions = 0;
  let installs = 0;
  let unsyncedLost = 0;
  let reconfigs = 0;
  let instanceChanges = 0;
  let truncated = 0;
  const failing: number[] = [];
  const kinds: Record<string, number> = {};
  let first: SweepSummary['first_failure'] = null;
  for (let seed = o.from; seed < o.from + o.seeds; seed++) {
    const r = runSimulation(cfg, seed);
    runs++;
    if (r.violations.length > 0) violations++;
    for (const v of r.violations) kinds[v.kind] = (kinds[v.kind] ?? 0) + 1;
    if (r.linearizable === 'ok') linearizable++;
    if (r.linearizable === 'unknown') lincheckUnknown++;
    ops += r.ops;
    completed += r.completedOps;
    unknownOps += r.unknownOps;
    crashes += r.crashes;
    partitions += r.partitions;
    messages += r.net.sent;
    compactions += r.compactions;
    installs += r.snapshotsInstalled;
    unsyncedLost += r.unsyncedWritesLost;
    reconfigs += r.reconfigurations;
    instanceChanges += r.instanceChanges;
    if (r.truncated) truncated++;
    o.onRun?.(r);
    if (isFailure(r)) {
      failing.push(seed);
      first ??= { seed, what: describeRunFailure(r) };
      if (o.untilFailure) break;
    }
  }
  return {
    protocol: o.protocol,
    bugs: o.bugs,
    from: o.from,
    runs,
    violations,
    linearizable,
    lincheck_unknown: lincheckUnknown,
    ops,
    completed_ops: completed,
    unknown_ops: unknownOps,
    crashes,
    partitions,
    messages,
    compactions,
    snapshots_installed: installs,
    unsynced_writes_lost: unsyncedLost,
    reconfigurations: reconfigs,
    instance_changes: instanceChanges,
    truncated_runs: truncated,
    failing_seeds: failing,
    violation_kinds: kinds,
    first_failure: first,
  };
}
