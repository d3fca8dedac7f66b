// Binding a listening server, the same for the peer and the client port.
import type net from 'node:net';

/**
 * Binds `server` to `at` (default 127.0.0.1, an ephemeral port) and resolves the bound address.
 * A failure to bind rejects naming who listens (`for peers`, `for clients`); errors after that go
 * to `onError`.
 */
export function listenOn(server: net.Server, at: { readonly host?: string; readonly port?: number } | undefined, who: string, onError: (e: Error) => void): Promise<{ host: string; port: number }> {
  const host = at?.host ?? '127.0.0.1';
  const port = at?.port ?? 0;
  return new Promise((resolve, reject) => {
    const onBindError = (e: Error) => reject(new Error(`cannot listen ${who} on ${host}:${port}: ${e.message}`));
    server.once('error', onBindError);
    server.listen({ host, port }, () => {
      server.off('error', onBindError);
      server.on('error', onError);
      const a = server.address() as net.AddressInfo;
      resolve({ host: a.address, port: a.port });
    });
  });
}
