// Certificates for a local cluster (`verdant cluster up --tls`): a cluster CA and one certificate
// per replica, made with the openssl command (Node can verify X.509 but not issue it).
//
//   DIR/tls/ca.crt, ca.key                 the cluster CA (ECDSA P-256); keep ca.key to add replicas
//   DIR/tls/replica-N.crt, replica-N.key   CN replica-N (what peers check against the replica id),
//                                          subjectAltName DNS:replica-N, DNS:localhost and the host
//                                          (what clients of a TLS client port verify)
//
// Keys are 0600. These are for local clusters and trying the TLS configuration out; a multi-host
// deployment issues certificates from its own CA the same way (docs/replica.md, "TLS").
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { certCommonNameFor } from '../net/peer-context.js';

export interface ClusterCerts {
  readonly dir: string;
  readonly ca: string;
  readonly caKey: string;
  readonly replicas: ReadonlyMap<number, { readonly cert: string; readonly key: string }>;
}

const DAYS = '3650';
const CURVE = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed (exit ${r.status}): ${r.stderr.trim()}`);
}

/** Throws a clear error unless the openssl command can be run. */
export function requireOpenssl(): string {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error || r.status !== 0) {
    const why = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ? 'not found on PATH' : (r.error?.message ?? `exit ${r.status}`);
    throw new Error(`--tls needs the openssl command to make the cluster's certificates, and it is ${why}; install it (Debian: apt-get install openssl) or start the cluster without --tls`);
  }
  return r.stdout.trim();
}

/** Makes the CA and a certificate per replica id in `dir` (created, must not hold certificates yet). */
export function generateClusterCerts(dir: string, clusterId: string, ids: readonly number[], host: string): ClusterCerts {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  openssl(['req', '-x509', ...CURVE, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', `/CN=verdant cluster CA ${clusterId}`, '-days', DAYS, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const replicas = new Map<number, { cert: string; key: string }>();
  const hostSan = isIP(host) ? `IP:${host}` : `DNS:${host}`;
  for (const id of ids) {
    const name = certCommonNameFor(id);
    const ext = path.join(dir, `${name}.ext`);
    fs.writeFileSync(
      ext,
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        // Each replica is a TLS server (it accepts) and a TLS client (it dials).
        'extendedKeyUsage=serverAuth,clientAuth',
        `subjectAltName=DNS:${name},DNS:localhost,${hostSan}`,
        '',
      ].join('\n'),
    );
    openssl(['req', '-new', ...CURVE, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', DAYS, '-extfile', ext, '-out', `${name}.crt`], dir);
    fs.rmSync(path.join(dir, `${name}.csr`));
    fs.rmSync(ext);
    replicas.set(id, { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) });
  }
  for (const f of fs.readdirSync(dir)) if (f.endsWith('.key')) fs.chmodSync(path.join(dir, f), 0o600);
  return { dir, ca: path.join(dir, 'ca.crt'), caKey: path.join(dir, 'ca.key'), replicas };
}
