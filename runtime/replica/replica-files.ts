// Every file a replica config points at, read and checked in one place: by startReplica before
// anything starts, and by `verdant replica --config FILE --check`. Each problem is a ConfigError
// naming the config field that pointed at the file.
import { readTokenFile } from '../actors/control-api.js';
import { ConfigError } from '../common/config-error.js';
import { readSecretFile } from '../net/secret-file.js';
import { readTokens, type ReplicaConfig } from './config.js';
import { readReplicaTls, type ReplicaTls } from './tls-files.js';

export interface ReplicaFiles {
  readonly secret: string;
  readonly clientTokens: string[];
  readonly controlToken: string;
  readonly tls: ReplicaTls | null;
}

export function readReplicaFiles(cfg: ReplicaConfig): ReplicaFiles {
  const secret = readSecretFile(cfg.secretFile, 'secretFile');
  const clientTokens = readTokens(cfg.clientTokenFile, 'clientTokenFile');
  let controlToken: string;
  try {
    controlToken = readTokenFile(cfg.control.tokenFile);
  } catch (e) {
    throw new ConfigError('control.tokenFile', (e as Error).message);
  }
  const self = cfg.members.find((m) => m.id === cfg.id)!;
  const tls = cfg.tls ? readReplicaTls(cfg.tls, cfg.id, self.client.host) : null;
  return { secret, clientTokens, controlToken, tls };
}
