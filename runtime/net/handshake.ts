// The peer handshake: wire format of its four frames and the HMAC proofs.
//
//   dialer D                                  acceptor A
//   PeerHello  {magic, version, cluster, from=D, to=A, nonceD}  -->
//                                             checks magic, version, cluster, D known, A == self
//              <--  PeerChallenge {version, nonceA}     (or PeerReject {reason})
//   PeerAuth   {proofD = HMAC(secret, "verdant/peer/dialer"   || T)}  -->
//                                             verifies proofD in constant time
//              <--  PeerAccept {proofA = HMAC(secret, "verdant/peer/acceptor" || T), maxFrame}
//   verifies proofA; the connection now carries D -> A messages only.
//
// T (the transcript) binds version, cluster id, both replica ids and both fresh 32-byte nonces, so
// a proof cannot be replayed on another connection, for another identity pair or in the other role.
// The acceptor reveals no HMAC output before the dialer has proved knowledge of the secret.
import { createHmac, randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { ByteReader, ByteWriter } from '../common/bytes.js';

export const PEER_MAGIC = Buffer.from('VRDT', 'latin1');
export const CLIENT_MAGIC = Buffer.from('VRDC', 'latin1');
/** Version of the peer wire protocol (framing, handshake and message frames). */
export const PEER_PROTOCOL_VERSION = 1;
export const CLIENT_PROTOCOL_VERSION = 1;
export const NONCE_BYTES = 32;
export const PROOF_BYTES = 32;
export const MIN_SECRET_BYTES = 16;
export const MAX_CLUSTER_ID_BYTES = 64;
export const MAX_TOKEN_BYTES = 256;

/** Why a handshake was refused. The numeric codes travel in reject frames; never renumber. */
export const RefuseReason = {
  'bad-magic': 1,
  'bad-version': 2,
  'wrong-cluster': 3,
  'unknown-replica': 4,
  'wrong-target': 5,
  'auth-failed': 6,
  malformed: 7,
  busy: 8,
  'cert-mismatch': 9,
  'bad-token': 10,
  timeout: 11,
  'tls-failed': 12,
} as const;
export type RefuseReason = keyof typeof RefuseReason;
const reasonByCode = new Map<number, RefuseReason>(
  Object.entries(RefuseReason).map(([k, v]) => [v, k as RefuseReason]),
);
export function refuseReasonFromCode(code: number): RefuseReason {
  return reasonByCode.get(code) ?? 'malformed';
}

export interface PeerHello {
  readonly magicOk: boolean;
  readonly version: number;
  readonly clusterId: string;
  readonly from: number;
  readonly to: number;
  readonly nonce: Buffer;
}

export function writePeerHello(w: ByteWriter, h: Omit<PeerHello, 'magicOk'>): void {
  w.raw(PEER_MAGIC);
  w.u16(h.version);
  w.string(h.clusterId);
  w.u32(h.from);
  w.u32(h.to);
  w.raw(h.nonce);
}

/**
 * Parses a hello. A wrong magic is reported (magicOk=false) rather than thrown, so the acceptor can
 * count "not a verdant peer" separately from a garbled verdant hello.
 */
export function readPeerHello(body: Buffer): PeerHello {
  const r = new ByteReader(body, 'peer hello');
  const magic = r.raw(4);
  const magicOk = magic.equals(PEER_MAGIC);
  if (!magicOk) return { magicOk, version: 0, clusterId: '', from: 0, to: 0, nonce: Buffer.alloc(0) };
  const version = r.u16();
  // Parse the rest only for versions we understand; other versions may lay it out differently.
  if (version !== PEER_PROTOCOL_VERSION) return { magicOk, version, clusterId: '', from: 0, to: 0, nonce: Buffer.alloc(0) };
  const clusterId = r.string('cluster id');
  if (Buffer.byteLength(clusterId) > MAX_CLUSTER_ID_BYTES) r.fail('cluster id too long', 6);
  const from = r.u32();
  const to = r.u32();
  const nonce = Buffer.from(r.raw(NONCE_BYTES));
  r.expectEnd();
  return { magicOk, version, clusterId, from, to, nonce };
}

export function readChallenge(body: Buffer): { version: number; nonce: Buffer } {
  const r = new ByteReader(body, 'peer challenge');
  const version = r.u16();
  const nonce = Buffer.from(r.raw(NONCE_BYTES));
  r.expectEnd();
  return { version, nonce };
}

export function readProof(body: Buffer): Buffer {
  const r = new ByteReader(body, 'peer auth');
  const proof = Buffer.from(r.raw(PROOF_BYTES));
  r.expectEnd();
  return proof;
}

export function readAccept(body: Buffer): { proof: Buffer; maxFrameBytes: number } {
  const r = new ByteReader(body, 'peer accept');
  const proof = Buffer.from(r.raw(PROOF_BYTES));
  const maxFrameBytes = r.u32();
  r.expectEnd();
  return { proof, maxFrameBytes };
}

/** Reject body: reason code, then the acceptor's supported version range (for bad-version). */
export function writeReject(w: ByteWriter, reason: RefuseReason, minVersion: number, maxVersion: number): void {
  w.u8(RefuseReason[reason]);
  w.u16(minVersion);
  w.u16(maxVersion);
}

export function readReject(body: Buffer): { reason: RefuseReason; minVersion: number; maxVersion: number } {
  const r = new ByteReader(body, 'reject');
  const reason = refuseReasonFromCode(r.u8());
  const minVersion = r.remaining >= 4 ? r.u16() : 0;
  const maxVersion = r.remaining >= 2 ? r.u16() : 0;
  return { reason, minVersion, maxVersion };
}

export function freshNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

export interface Transcript {
  readonly version: number;
  readonly clusterId: string;
  readonly dialer: number;
  readonly acceptor: number;
  readonly dialerNonce: Buffer;
  readonly acceptorNonce: Buffer;
}

export function peerProof(secret: Buffer, role: 'dialer' | 'acceptor', t: Transcript): Buffer {
  const w = new ByteWriter(160);
  w.string(`verdant/peer/${role}`);
  w.u16(t.version);
  w.string(t.clusterId);
  w.u32(t.dialer);
  w.u32(t.acceptor);
  w.raw(t.dialerNonce);
  w.raw(t.acceptorNonce);
  return createHmac('sha256', secret).update(w.view()).digest();
}

/** Constant-time comparison of a received proof with the expected one. */
export function proofMatches(expected: Buffer, received: Buffer): boolean {
  return received.length === expected.length && timingSafeEqual(expected, received);
}

/**
 * Constant-time token comparison that also hides the expected token's length: both sides are
 * hashed to 32 bytes first, then compared with timingSafeEqual.
 */
export function tokenMatches(expectedDigest: Buffer, received: Uint8Array): boolean {
  const got = createHash('sha256').update(received).digest();
  return timingSafeEqual(expectedDigest, got);
}

export function tokenDigest(token: Uint8Array | string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Validates a cluster secret: raw bytes, or a string used as its UTF-8 bytes (e.g. 64 hex chars). */
export function normaliseSecret(secret: Uint8Array | string): Buffer {
  const buf = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (buf.length < MIN_SECRET_BYTES) {
    throw new RangeError(`cluster secret must be at least ${MIN_SECRET_BYTES} bytes, got ${buf.length}`);
  }
  return buf;
}

/** A new random secret suitable for a cluster, as 64 hex characters. */
export function generateSecret(): string {
  return randomBytes(32).toString('hex');
}
