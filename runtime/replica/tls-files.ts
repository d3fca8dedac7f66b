// The replica's TLS material (config `tls`): read and checked before anything listens, so a wrong
// file is a ConfigError naming the field (exit 2) instead of peers that silently never connect.
//
// Checked here, in the order an operator would fix them: each file is readable and PEM; the key is
// not readable by group or others and belongs to the certificate; the certificate names this
// replica (CN `replica-<id>`, which peers check against the id in the handshake), chains to `ca`
// and is valid now; with `clientPort`, it also names the host clients dial (they verify it).
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError } from '../common/config-error.js';
import { certCommonNameFor } from '../net/peer-context.js';
import type { NodeId } from '../protocols/api.js';
import type { TlsConfig } from './config.js';

export interface ReplicaTls {
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly ca: Buffer;
  readonly clientPort: boolean;
  /** The certificate's subject CN and expiry, for status and logs. */
  readonly commonName: string;
  readonly validTo: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** `secret`: refuse a file readable by group or others (a leaked key lets anyone pose as this replica). */
function readFile(file: string, field: string, what: string, secret = false): Buffer {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new ConfigError(field, `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!st.isFile()) throw new ConfigError(field, `${what} ${file} is not a regular file`);
  if (secret && (st.mode & 0o077) !== 0) {
    throw new ConfigError(field, `${what} ${file} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  }
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new ConfigError(field, `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function parseCerts(pem: Buffer, file: string, field: string): X509Certificate[] {
  const blocks = pem.toString('latin1').match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new ConfigError(field, `${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new ConfigError(field, `${file}: certificate ${i + 1} does not parse: ${(e as Error).message}`);
    }
  });
}

/** The CN attribute(s) of an X.509 subject as Node prints it ("C=..\nCN=.."). */
function commonNames(subject: string): string[] {
  return subject
    .split('\n')
    .filter((l) => l.startsWith('CN='))
    .map((l) => l.slice(3));
}

function checkValidNow(c: X509Certificate, file: string, field: string, now: Date): void {
  if (new Date(c.validFrom) > now) throw new ConfigError(field, `certificate in ${file} is not valid before ${c.validFrom}`);
  if (new Date(c.validTo) < now) throw new ConfigError(field, `certificate in ${file} expired on ${c.validTo}`);
}

/**
 * Reads and checks the files of `tls` for replica `id`. `clientHost` is the host of this replica's
 * client address (members[].client): with `clientPort`, clients verify the certificate against it.
 */
export function readReplicaTls(tls: TlsConfig, id: NodeId, clientHost: string, now = new Date()): ReplicaTls {
  const certPem = readFile(tls.cert, 'tls.cert', 'certificate file');
  const keyPem = readFile(tls.key, 'tls.key', 'key file', true);
  const caPem = readFile(tls.ca, 'tls.ca', 'CA file');
  const cert = parseCerts(certPem, tls.cert, 'tls.cert')[0]!;
  const cas = parseCerts(caPem, tls.ca, 'tls.ca');
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (e) {
    throw new ConfigError('tls.key', `${tls.key} is not an unencrypted PEM private key: ${(e as Error).message}`);
  }
  if (!cert.checkPrivateKey(key)) throw new ConfigError('tls.key', `${tls.key} is not the private key of the certificate in ${tls.cert}`);

  const want = certCommonNameFor(id);
  const cns = commonNames(cert.subject);
  if (cns.length !== 1 || cns[0] !== want) {
    throw new ConfigError('tls.cert', `certificate in ${tls.cert} has subject CN ${cns.length === 0 ? '(none)' : cns.map((c) => JSON.stringify(c)).join(', ')}; replica ${id} needs CN "${want}" (peers check it against the replica id)`);
  }
  checkValidNow(cert, tls.cert, 'tls.cert', now);
  const issuer = cas.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
  if (issuer === undefined) {
    throw new ConfigError('tls.cert', `certificate in ${tls.cert} (issuer ${JSON.stringify(cert.issuer.replace(/\n/g, ', '))}) is not signed by a CA in ${tls.ca}; peers would refuse it`);
  }
  checkValidNow(issuer, tls.ca, 'tls.ca', now);
  if (!issuer.ca) throw new ConfigError('tls.ca', `the certificate in ${tls.ca} that signed ${tls.cert} is not a CA certificate (basicConstraints CA:TRUE)`);

  if (tls.clientPort) {
    const names = isIP(clientHost) ? cert.checkIP(clientHost) : cert.checkHost(clientHost);
    if (names === undefined) {
      throw new ConfigError(
        'tls.cert',
        `certificate in ${tls.cert} does not name ${clientHost}, this replica's client host (subjectAltName ${cert.subjectAltName ?? '(none)'}); with tls.clientPort clients verify it`,
      );
    }
  }
  return { key: keyPem, cert: certPem, ca: caPem, clientPort: tls.clientPort, commonName: want, validTo: cert.validTo };
}
