// The control API of a process hosting an ActorRuntime: topology, plans and stats over HTTP.
// Every route needs `Authorization: Bearer <token>`; the token comes from a file. It binds to
// loopback (or a unix socket) unless told otherwise.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PlanError } from './plan.js';
import type { ActorRuntime } from './runtime.js';

export interface MountOptions {
  readonly runtime: ActorRuntime;
  readonly token: string;
  /** Route prefix, default '' (routes are /v1/topology, /v1/plan, /v1/stats). */
  readonly prefix?: string;
}

export interface ControlApiOptions {
  readonly runtime: ActorRuntime;
  /** File holding the bearer token (surrounding whitespace ignored). */
  readonly tokenFile: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (an ephemeral port). Ignored with socketPath. */
  readonly port?: number;
  /** Listen on this unix socket instead of TCP. */
  readonly socketPath?: string;
}

export interface ControlApiServer {
  /** `http://host:port` or `unix:<path>`. */
  readonly address: string;
  readonly port: number | null;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

/** Reads a token file; throws a clear error when it is missing or empty. */
export function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`control API token file ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const token = text.trim();
  if (token.length < 16) throw new Error(`control API token file ${path}: token must be at least 16 characters`);
  return token;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Registers the control routes (with their auth hook) on an existing fastify instance. */
export async function mountControlApi(app: FastifyInstance, opts: MountOptions): Promise<void> {
  const want = digest(opts.token);
  const rt = opts.runtime;
  await app.register(
    async (scope) => {
      scope.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
        const h = req.headers.authorization;
        const given = typeof h === 'string' && h.startsWith('Bearer ') ? h.slice(7).trim() : '';
        if (!given || !timingSafeEqual(digest(given), want)) {
          await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized: send Authorization: Bearer <token>' });
        }
      });
      scope.get('/v1/topology', async () => rt.topology());
      scope.get('/v1/stats', async () => rt.stats());
      scope.post('/v1/plan', async (req, reply) => {
        if (req.body === undefined || req.body === null || typeof req.body !== 'object') {
          return reply.code(400).send({ error: 'body must be a JSON plan object', field: '' });
        }
        try {
          return await rt.apply(req.body);
        } catch (err) {
          if (err instanceof PlanError) return reply.code(400).send({ error: err.message, field: err.field, reason: err.reason });
          req.log.error({ err }, 'plan failed');
          return reply.code(500).send({ error: err instanceof Error ? err.message : String(err) });
        }
      });
    },
    { prefix: opts.prefix ?? '' },
  );
}

/** Starts a dedicated fastify server for the control API. */
export async function startControlApi(opts: ControlApiOptions): Promise<ControlApiServer> {
  const token = readTokenFile(opts.tokenFile);
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false, bodyLimit: 1 << 20 });
  await mountControlApi(app, { runtime: opts.runtime, token });
  if (opts.socketPath) {
    await app.listen({ path: opts.socketPath });
    return { address: `unix:${opts.socketPath}`, port: null, app, close: () => app.close() };
  }
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ host, port: opts.port ?? 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 0);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { address: `http://${shownHost}:${port}`, port, app, close: () => app.close() };
}
