// Protocol names -> factories. `verdant sim --protocol NAME` and the replica runtime look them up
// here; a plug-in protocol registers by adding one line.
import type { Envelope, ProtocolFactory } from './api.js';
import { multiraftProtocol } from './multiraft/index.js';
import { raftProtocol } from './raft/index.js';

export type AnyProtocolFactory = ProtocolFactory<Envelope, any>;

const registry = new Map<string, AnyProtocolFactory>([
  [raftProtocol.name, raftProtocol as AnyProtocolFactory],
  [multiraftProtocol.name, multiraftProtocol as AnyProtocolFactory],
]);

export function protocolNames(): string[] {
  return [...registry.keys()].sort();
}

/** The factory registered under `name`; throws an Error naming the known protocols otherwise. */
export function getProtocol(name: string): AnyProtocolFactory {
  const f = registry.get(name);
  if (!f) throw new Error(`unknown protocol ${JSON.stringify(name)} (known: ${protocolNames().join(', ')})`);
  return f;
}

/** For plug-ins and tests; refuses to replace an existing name. */
export function registerProtocol(f: AnyProtocolFactory): void {
  if (registry.has(f.name)) throw new Error(`protocol ${JSON.stringify(f.name)} is already registered`);
  registry.set(f.name, f);
}
