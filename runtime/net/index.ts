// The network layer's public surface, for the replica process and the client library.
export { ByteReader, ByteWriter, DecodeError } from '../common/bytes.js';
export { encodeMessageInto, isStreamingCodec, type StreamingCodec } from './codec.js';
export {
  PeerTransport,
  DEFAULT_LIMITS,
  limitsForInflight,
  certCommonNameFor,
  type PeerTransportOptions,
  type PeerAddress,
  type PeerTlsOptions,
  type SendOutcome,
  type TransportLimits,
} from './peer-transport.js';
export type { PeerLinkState, PeerStats, TransportStats, ReasonCounts, RejectCounts, FramingCounts } from './peer-stats.js';
export type { RefuseReason } from './handshake.js';
export { generateSecret, PEER_PROTOCOL_VERSION, CLIENT_PROTOCOL_VERSION } from './handshake.js';
export {
  ClientPortServer,
  ClientSession,
  DEFAULT_CLIENT_PORT_LIMITS,
  type ClientCodecs,
  type ClientPortOptions,
  type ClientPortLimits,
  type ClientPortStats,
} from './client-port.js';
export { ClientChannel, ClientChannelError, type ClientChannelOptions, type ClientErrorCode } from './client-channel.js';
export { FaultProxy, PASS, BLACKHOLE, DROP, delay, type LinkFault, type ProxyRoute, type RouteStats } from './fault-proxy.js';
export { createSecretFile, readSecretFile } from './secret-file.js';
export { silentLogger, stderrLogger, type NetLogger } from './logger.js';
