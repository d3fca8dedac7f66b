// Parses `SCHEME://HOST:PORT[,HOST:PORT...]`. Bad input is a usage error (ConfigError, exit 2).
import { ConfigError } from '../../runtime/common/config-error.js';
import type { TargetEndpoint, TargetSpec } from './target.js';

export function parseTargetUrl(url: string, field = '--target'): TargetSpec {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(url.trim());
  if (!m) throw new ConfigError(field, `expected SCHEME://HOST:PORT[,HOST:PORT...], got ${JSON.stringify(url)}`);
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!.replace(/\/+$/, '');
  if (rest === '') throw new ConfigError(field, `no endpoints in ${JSON.stringify(url)}`);
  const endpoints: TargetEndpoint[] = rest.split(',').map((part) => parseEndpoint(part.trim(), field, url));
  return { scheme, endpoints, url };
}

function parseEndpoint(part: string, field: string, url: string): TargetEndpoint {
  // [v6]:port or host:port
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:\[\]\s/]+)):(\d{1,5})$/i.exec(part);
  if (!m) throw new ConfigError(field, `bad endpoint ${JSON.stringify(part)} in ${JSON.stringify(url)}: expected HOST:PORT`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new ConfigError(field, `port ${port} out of range in ${JSON.stringify(url)}`);
  return { host: m[1] ?? m[2]!, port };
}

export function endpointAddress(e: TargetEndpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}
