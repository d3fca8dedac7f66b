// ───────────────────────────────────────────────────────────────────────────────────────────────
// VERDANT DRIVER GOES HERE.
// When the client library (runtime/client/) lands, replace this stub with a class implementing
// LoadTarget (../target.ts) on top of it, like EtcdTarget in ./etcd.ts:
//   connect()  open sessions to every replica in spec.endpoints; throw TargetUnreachableError if
//              one does not answer within opts.connectTimeoutMs
//   put/get/delete/cas/scan  one client call each; get(.., 'stale') may read a follower's state
//   close()    end the sessions
// Nothing else in the load generator or `bench compare` needs to change.
// ───────────────────────────────────────────────────────────────────────────────────────────────
import type { LoadTarget, TargetOptions, TargetSpec } from '../target.js';
import { TargetUnavailableError } from '../target.js';

export function createVerdantTarget(spec: TargetSpec, _opts: TargetOptions): LoadTarget {
  throw new TargetUnavailableError(
    `the verdant:// target is not available yet: the verdant replica process and client library ` +
      `have not landed (asked for ${spec.url}). Use etcd://HOST:PORT[,...] for now.`,
  );
}
