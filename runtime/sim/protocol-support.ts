// What the simulator knows about protocols beyond the ProtocolFactory contract: which injected bugs
// a protocol accepts, how to print its messages, and simulator-friendly option defaults. A plug-in
// can declare `bugs` and `describe` on its factory object; the table below fills in for built-ins.
import { ConfigError } from '../common/config-error.js';
import type { Envelope, ProtocolFactory } from '../protocols/api.js';
import { describeMessage } from '../protocols/raft/messages.js';
import type { RaftMessage } from '../protocols/raft/messages.js';
import { SeededRng } from '../protocols/rng.js';
import { HOST_BUGS } from './host.js';
import { describeGeneric } from './messages.js';

type AnyFactory = ProtocolFactory<Envelope, any>;

interface ProtocolHints {
  /** Options the simulator passes unless the user overrides them. */
  readonly simOptions: Record<string, unknown>;
  readonly describe?: (m: Envelope) => string;
}

const HINTS: Record<string, ProtocolHints> = {
  // Keep few entries below a snapshot so lagging followers are caught up by snapshots in short runs.
  raft: { simOptions: { compactionRetainEntries: 5 }, describe: (m) => describeMessage(m as RaftMessage) },
  multiraft: { simOptions: { compactionRetainEntries: 5 }, describe: (m) => describeMessage(m as RaftMessage) },
};

export function simOptionsFor(name: string): Record<string, unknown> {
  return { ...(HINTS[name]?.simOptions ?? {}) };
}

export function describerFor(f: AnyFactory): (m: Envelope) => string {
  const own = (f as { describe?: (m: Envelope) => string }).describe;
  return own ?? HINTS[f.name]?.describe ?? describeGeneric;
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
    const declared = (f as { bugs?: readonly string[] }).bugs;
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
