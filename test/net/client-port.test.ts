// The client port: token authentication, pipelining with out-of-order answers, timeouts, errors,
// and read backpressure at maxInFlight. Real sockets on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ByteWriter as BinaryWriter, DecodeError } from '../../runtime/common/bytes.js';
import type { StreamingCodec } from '../../runtime/net/codec.js';
import { ClientChannel, ClientChannelError } from '../../runtime/net/client-channel.js';
import { ClientPortServer, type ClientPortOptions, type ClientSession } from '../../runtime/net/client-port.js';
import { frame, recordingLogger, sleep, waitFor, streamingCodec as codec } from './helpers.js';
import fc from 'fast-check';
import { FrameKind } from '../../runtime/net/frame.js';
import { writeClientHello } from '../../runtime/net/client-wire.js';

interface Req {
  op: number; // 0 echo now, 1 echo after delayMs, 2 never answer
  delayMs: number;
  value: string;
}
interface Res {
  value: string;
}


const codecs = {
  request: codec<Req>(
    (m, w) => {
      w.u8(m.op);
      w.varint(m.delayMs);
      w.string(m.value);
    },
    (r) => {
      const op = r.u8();
      if (op > 2) throw new DecodeError(`unknown op ${op}`, 0);
      return { op, delayMs: r.varint(), value: r.string() };
    },
  ),
  response: codec<Res>(
    (m, w) => w.string(m.value),
    (r) => ({ value: r.string() }),
  ),
};

const TOKEN = 'client-token-0123456789abcdef';

function serve(o: Partial<ClientPortOptions<Req, Res>> = {}) {
  const order: string[] = [];
  const log = recordingLogger();
  const handler = (s: ClientSession<Res>, id: number, req: Req) => {
    if (req.op === 0) {
      order.push(req.value);
      s.respond(id, { value: req.value });
    } else if (req.op === 1) {
      setTimeout(() => {
        order.push(req.value);
        s.respond(id, { value: req.value });
      }, req.delayMs);
    }
  };
  return ClientPortServer.start<Req, Res>({ token: TOKEN, codecs, onRequest: handler, replicaId: 3, log, ...o }).then((server) => ({ server, order, log }));
}

function connect(server: ClientPortServer<Req, Res>, token = TOKEN, extra: object = {}) {
  return ClientChannel.connect<Req, Res>({ host: '127.0.0.1', port: server.address.port, token, codecs, ...extra });
}

test('the right token is welcomed; a wrong one is refused with a reason and counted', async () => {
  const { server, log } = await serve({ token: [TOKEN, 'rotated-token-0123456789abcdef'] });
  try {
    const ch = await connect(server);
    assert.equal(ch.welcome.replicaId, 3);
    assert.equal((await ch.request({ op: 0, delayMs: 0, value: 'hi' })).value, 'hi');
    const ch2 = await connect(server, 'rotated-token-0123456789abcdef');
    assert.equal((await ch2.request({ op: 0, delayMs: 0, value: 'again' })).value, 'again');
    await assert.rejects(connect(server, 'wrong-token-0123456789abcdefgh'), (e: unknown) => {
      assert.ok(e instanceof ClientChannelError);
      assert.equal(e.code, 'refused');
      assert.equal(e.reason, 'bad-token');
      return true;
    });
    await assert.rejects(connect(server, 'x'), (e: unknown) => e instanceof ClientChannelError && e.reason === 'bad-token');
    const s = server.stats();
    assert.equal(s.refused['bad-token'], 2);
    assert.equal(s.accepted, 2);
    assert.equal(s.active, 2);
    assert.ok(log.lines.some((l) => l.msg === 'refused a client connection' && l.obj.reason === 'bad-token'));
    ch.close();
    ch2.close();
    await waitFor(() => server.stats().active === 0, 'sessions closed');
  } finally {
    await server.close();
  }
  await assert.rejects(serve({ token: 'short' }), /16\.\.256 bytes/);
});

test('pipelined requests are answered out of order and each resolves with its own response', async () => {
  const { server, order } = await serve();
  try {
    const ch = await connect(server);
    const n = 200;
    const values = Array.from({ length: n }, (_, i) => `v${i}`);
    // Later requests finish first: delays decrease with the index.
    const results = await Promise.all(values.map((v, i) => ch.request({ op: 1, delayMs: Math.floor((n - i) / 4), value: v })));
    assert.deepEqual(results.map((r) => r.value), values);
    assert.equal(order.length, n);
    assert.notDeepEqual(order, values, 'the server answered in a different order than asked');
    assert.ok(order.indexOf('v199') < order.indexOf('v0'));
    assert.equal(server.stats().requests, n);
    assert.equal(server.stats().responses, n);
    assert.equal(ch.inFlight, 0);
    ch.close();
  } finally {
    await server.close();
  }
});

test('timeouts, remote errors and a dropped connection reject the right requests', async () => {
  let sessions: ClientSession<Res>[] = [];
  const { server } = await serve({ onSession: (s, open) => (open ? sessions.push(s) : (sessions = sessions.filter((x) => x !== s))) });
  try {
    const ch = await connect(server, TOKEN, { requestTimeoutMs: 150 });
    await assert.rejects(ch.request({ op: 2, delayMs: 0, value: 'never' }), (e: unknown) => e instanceof ClientChannelError && e.code === 'timeout');
    // The connection is still usable after a timeout.
    assert.equal((await ch.request({ op: 0, delayMs: 0, value: 'ok' })).value, 'ok');
    // A request the server cannot decode gets an error answer, not a hang.
    const raw = ch as unknown as { opts: { codecs: { request: StreamingCodec<Req> } } };
    const bad = { ...raw.opts.codecs.request, encodeInto: (_m: Req, w: BinaryWriter) => w.u8(9) };
    const badCh = await ClientChannel.connect<Req, Res>({ host: '127.0.0.1', port: server.address.port, token: TOKEN, codecs: { request: bad, response: codecs.response } });
    await assert.rejects(badCh.request({ op: 0, delayMs: 0, value: '' }), (e: unknown) => e instanceof ClientChannelError && e.code === 'remote' && /malformed request: unknown op 9/.test(e.message));
    assert.equal(server.stats().malformedRequests, 1);
    assert.equal(server.stats().errorResponses, 1);
    badCh.close();
    // The server drops the connection: outstanding requests reject with 'closed'.
    const pending = ch.request({ op: 2, delayMs: 0, value: 'stuck' }, 10_000);
    // The timed-out 'never' request is still open on the server, so two are in flight there.
    await waitFor(() => sessions.length === 1 && sessions[0]!.inFlight === 2, 'request arrived');
    sessions[0]!.close();
    await assert.rejects(pending, (e: unknown) => e instanceof ClientChannelError && e.code === 'closed');
    assert.equal(ch.isOpen, false);
    await assert.rejects(ch.request({ op: 0, delayMs: 0, value: 'after' }), (e: unknown) => e instanceof ClientChannelError && e.code === 'closed');
  } finally {
    await server.close();
  }
});

test('a client over maxInFlight is throttled by the server stopping to read, and still gets every answer', async () => {
  const held: [ClientSession<Res>, number, Req][] = [];
  const { server } = await serve({
    limits: { maxInFlight: 8 },
    onRequest: (s, id, req) => held.push([s, id, req]),
  });
  try {
    const ch = await connect(server);
    const all = Promise.all(Array.from({ length: 100 }, (_, i) => ch.request({ op: 0, delayMs: 0, value: `r${i}` })));
    await waitFor(() => held.length >= 8, 'first window');
    await sleep(100);
    assert.ok(held.length < 100, `server stopped reading: saw ${held.length} of 100`);
    assert.ok(server.stats().readPauses >= 1);
    // Answer whatever is held until everything has arrived and been answered.
    const deadline = Date.now() + 15_000;
    let answered = 0;
    while (answered < 100) {
      assert.ok(Date.now() < deadline, `stuck at ${answered}`);
      const batch = held.splice(0);
      for (const [s, id, req] of batch) s.respond(id, { value: req.value });
      answered += batch.length;
      await sleep(5);
    }
    const res = await all;
    assert.deepEqual(res.map((r) => r.value), Array.from({ length: 100 }, (_, i) => `r${i}`));
    ch.close();
  } finally {
    await server.close();
  }
});

test('garbage and silence on the client port are refused and counted', async () => {
  const { server } = await serve({ limits: { handshakeTimeoutMs: 200 } });
  try {
    const g = net.connect({ host: '127.0.0.1', port: server.address.port });
    g.on('error', () => {});
    g.write(Buffer.from([0, 0, 0, 9, 0x20, 1, 2, 3, 4, 0, 1, 0, 0]));
    const silent = net.connect({ host: '127.0.0.1', port: server.address.port });
    silent.on('error', () => {});
    await waitFor(() => (server.stats().refused['bad-magic'] ?? 0) === 1 && (server.stats().refused.timeout ?? 0) === 1, 'both refused');
    g.destroy();
    silent.destroy();
    assert.equal(server.stats().accepted, 0);
  } finally {
    await server.close();
  }
});

test('random bytes after a valid client hello never crash the server', async () => {
  const { server } = await serve();
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 4 }), async (chunks) => {
        const s = net.connect({ host: '127.0.0.1', port: server.address.port });
        s.on('error', () => {});
        const welcomed = new Promise<void>((r) => s.once('data', () => r()));
        await new Promise<void>((r) => s.once('connect', () => r()));
        s.write(frame(FrameKind.ClientHello, (w) => writeClientHello(w, 1, Buffer.from(TOKEN))));
        await welcomed;
        for (const c of chunks) s.write(c);
        await sleep(2);
        s.destroy();
      }),
      { numRuns: 50 },
    );
    await waitFor(() => server.stats().active === 0, 'all fuzz sessions closed');
    assert.equal(server.stats().accepted, 50);
    // Still serving.
    const ch = await connect(server);
    assert.equal((await ch.request({ op: 0, delayMs: 0, value: 'alive' })).value, 'alive');
    ch.close();
  } finally {
    await server.close();
  }
});
