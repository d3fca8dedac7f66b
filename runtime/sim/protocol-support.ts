// What the simulator needs beyond creating cores: which injected bugs a protocol accepts and how to
// print its messages, both taken from the optional `bugs` and `describe` of its ProtocolFactory
// (runtime/protocols/api.ts), plus the simulator's own option defaults for short, harsh runs.
import { ConfigError } from '../common/config-error.js';
import type { Envelope, ProtocolFactory } from '../protocols/api.js';
import { SeededRng } from '../protocols/rng.js';
import { HOST_BUGS } from './host.js';
import { describeGeneric } from './messages.js';

type AnyFactory = ProtocolFactory<Envelope, any>;

/**
 * Options the simulator passes unless the user overrides them. Not protocol knowledge but a choice
 * of stress: Raft keeps few entries below a snapshot, so lagging followers really are caught up by
 * snapshots in 3-second runs.
 */
const SIM_OPTIONS: Record<string, Record<string, unknown>> = {
  raft: { compactionRetainEntries: 5 },
  multiraft: { compactionRetainEntries: 5 },
};

export function simOptionsFor(name: string): Record<string, unknown> {
  return { ...(SIM_OPTIONS[name] ?? {}) };
}

export function describerFor(f: AnyFactory): (m: Envelope) => string {
  const own = f.describe;
  return own ? (m) => own.call(f, m) : describeGeneric;
}

export interface BugPlan {
  readonly hostBugs: string[];
  readonly protocolBugs: string[];
}

/**
 * Splits injected bug names into the simulated host's and the protocol's, and rejects unknown
 * names with a ConfigError. A protocol's bugs come from `factory.bugs` when it declares them;
 * otherwise a throwaway core is built with the bug switched on, and its refusal is reported.
 */
export function planBugs(f: AnyFactory, bugs: readonly string[]): BugPlan {
  const plan: BugPlan = { hostBugs: [], protocolBugs: [] };
  for (const b of bugs) {
    if ((HOST_BUGS as readonly string[]).includes(b)) {
      plan.hostBugs.push(b);
      continue;
    }
    const declared = f.bugs;
    if (declared) {
      if (!declared.includes(b)) {
        throw new ConfigError('inject-bug', `unknown bug ${JSON.stringify(b)} for protocol ${f.name} (known: ${[...HOST_BUGS, ...declared].join(', ')})`);
      }
    } else {
      try {
        f.create({ id: 1, membership: { voters: [1], learners: [] }, rng: new SeededRng(1), durable: [] }, { bugs: [b] });
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        throw new ConfigError('inject-bug', `protocol ${f.name} refuses bug ${JSON.stringify(b)}: ${why} (host bugs: ${HOST_BUGS.join(', ')})`);
      }
    }
    plan.protocolBugs.push(b);
  }
  return plan;
}
