// ClientChannel's silence detection (silenceTimeoutMs): a connection that answers nothing while
// requests wait is taken for dead and closed, so the client library can retry elsewhere before
// the requests' own deadlines; a connection that keeps answering, or an idle one, is left alone.
// Real sockets on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientChannel, ClientChannelError } from '../../runtime/net/client-channel.js';
import { ClientPortServer, type ClientSession } from '../../runtime/net/client-port.js';
import { recordingLogger, sleep, streamingCodec as codec } from './helpers.js';

/** A request asks to be answered after `delayMs`, or never (delayMs < 0). */
interface Req {
  readonly delayMs: number;
  readonly value: string;
}


const codecs = {
  request: codec<Req>(
    (m, w) => {
      w.varint(m.delayMs + 1);
      w.string(m.value);
    },
    (r) => ({ delayMs: r.varint() - 1, value: r.string() }),
  ),
  response: codec<string>(
    (m, w) => w.string(m),
    (r) => r.string(),
  ),
};

const TOKEN = 'client-token-0123456789abcdef';

async function withServer(body: (port: number) => Promise<void>): Promise<void> {
  const server = await ClientPortServer.start<Req, string>({
    token: TOKEN,
    codecs,
    replicaId: 1,
    log: recordingLogger(),
    onRequest: (s: ClientSession<string>, id: number, req: Req) => {
      if (req.delayMs >= 0) setTimeout(() => s.respond(id, req.value), req.delayMs);
    },
  });
  try {
    await body(server.address.port);
  } finally {
    await server.close();
  }
}

const connect = (port: number, silenceTimeoutMs?: number) =>
  ClientChannel.connect<Req, string>({ host: '127.0.0.1', port, token: TOKEN, codecs, requestTimeoutMs: 20_000, ...(silenceTimeoutMs !== undefined ? { silenceTimeoutMs } : {}) });

test('a silent connection with requests waiting is closed after silenceTimeoutMs, long before their deadline', async () => {
  await withServer(async (port) => {
    const ch = await connect(port, 300);
    const t0 = Date.now();
    const results = await Promise.allSettled([ch.request({ delayMs: -1, value: 'a' }), ch.request({ delayMs: -1, value: 'b' })]);
    const ms = Date.now() - t0;
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      const e = (r as PromiseRejectedResult).reason as unknown;
      assert.ok(e instanceof ClientChannelError && e.code === 'closed', String(e));
      assert.match(e.message, /taken for dead/);
    }
    assert.ok(ms >= 290, `closed after ${ms} ms, before the silence timeout`);
    assert.ok(ms < 15_000, `closed after ${ms} ms: that is the requests' deadline, not the silence timeout`);
    assert.equal(ch.isOpen, false);
  });
});

test('answers keep the connection alive: a slow request outlives the silence timeout while others are answered', async () => {
  await withServer(async (port) => {
    const ch = await connect(port, 1000);
    const slow = ch.request({ delayMs: 3000, value: 'slow' });
    let n = 0;
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      assert.equal(await ch.request({ delayMs: 50, value: `quick${n}` }), `quick${n}`);
      n++;
    }
    assert.equal(await slow, 'slow');
    assert.ok(ch.isOpen);
    ch.close();
  });
});

test('an idle connection is not silent: the clock starts with the first request waiting', async () => {
  await withServer(async (port) => {
    const ch = await connect(port, 1000);
    await sleep(2500);
    assert.ok(ch.isOpen);
    assert.equal(await ch.request({ delayMs: 50, value: 'after idle' }), 'after idle');
    ch.close();
  });
});

test('without silenceTimeoutMs a silent request waits for its own deadline (code timeout, connection kept)', async () => {
  await withServer(async (port) => {
    const ch = await connect(port);
    await assert.rejects(ch.request({ delayMs: -1, value: 'x' }, 700), (e: unknown) => e instanceof ClientChannelError && e.code === 'timeout');
    assert.ok(ch.isOpen);
    ch.close();
  });
});
