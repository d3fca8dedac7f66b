// Wire and disk formats, byte for byte. The hex strings were recorded from the code before the
// codec toolkits were merged into runtime/common/bytes.ts; any change to an encoding fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goldenCases } from './golden-cases.js';

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

const GOLDEN: Record<string, string> = {
  "net toolkit primitives":
    "00017f8001ff01ac02ff7f808001ffff7f808080018080808001ffffffff078080808008ffffffff0f80808080108780808080018080808080808001ffffffffffffff0fab1234deadbeef0000010000000003001fffffffffffffbff8000000000000400921fb54442d18000f68c3a96c6c6f20e29c9320f09d849e00030102030908",
  "service toolkit primitives":
    "00017f8001ff01ac02ff7f808001ffff7f808080018080808001ffffffff078080808008ffffffff0f80808080108780808080018080808080808001ffffffffffffff0f07efbeadde036be97903e29c9302040506",
  "raft message 0 (Heartbeat)":
    "01070400010203000004000500",
  "raft message 1 (App)":
    "010104030102080728270000032907000301020307020703010203010900080100",
  "raft message 2 (AppResp)":
    "0102058080808020020108002c002880808080802000",
  "raft message 3 (App)":
    "010100000103080000000000022b08010029070003010203",
  "raft message 4 (Snap)":
    "01090601010309000032000000f403080301020301040201028001e8070405060708",
  "raft membership":
    "0301ac028080808008000101",
  "frame + peer hello":
    "0000003a015652445400010a636c75737465722dc3a900000001ffffffffa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
  "peer challenge, accept, reject":
    "0001b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1010000000300010003",
  "peer proof (HMAC over the transcript encoding)":
    "ed2a609ad4df9ca5f4baad70bc4c765c9248d1e97c075e89de1ceb140b97e8ec",
  "client hello and welcome":
    "5652444300010c7365637265742d746f6b656e00010000000301000000",
  "probe message":
    "50010280808080802003010203",
  "client request 0":
    "01000102",
  "client request 1":
    "020107",
  "client request 2":
    "03",
  "client response 0":
    "00000405",
  "client response 1":
    "01030e3132372e302e302e313a37313033",
  "client response 2":
    "020000096e6f206c6561646572",
  "client response 3":
    "03020303683a3180808080800108666f6c6c6f77657240026331",
  "client response 4":
    "040f626164207265717565737420e29c97",
  "peer envelope":
    "ffffffff0f01ac020909",
  "service commands in a batch":
    "01fbd095ffbc31040005e807020201020100808080808020808080808020000205e90701000000030300",
  "service queries and status results":
    "00010201040762616420e29c9702",
  "kv command 0 (put)":
    "0101026b310976616c7565206f6e65",
  "kv command 1 (delete)":
    "0200026bff",
  "kv command 2 (cas)":
    "03000163000176",
  "kv command 3 (cas)":
    "0302016301036f6c64",
  "kv command 4 (cas)":
    "03000163028180808020036e6577",
  "kv query 0 (get)":
    "01026b31",
  "kv query 1 (scan)":
    "02010001017ae807",
  "kv query 2 (scan)":
    "020001610001",
  "kv query 3 (stat)":
    "03",
  "kv command result 0 (put)":
    "01ad0201026b3103ac0202027631",
  "kv command result 1 (put)":
    "010100",
  "kv command result 2 (delete)":
    "02ae020100",
  "kv command result 3 (cas)":
    "0300af0201026b3103ac0202027631",
  "kv query result 0 (get)":
    "01b00201026b3103ac0202027631",
  "kv query result 1 (get)":
    "01b00200",
  "kv query result 2 (scan)":
    "02b10201026b3103ac0202027631026b3203ac020200",
  "kv query result 3 (scan)":
    "02b10202026b3103ac0202",
  "kv query result 4 (stat)":
    "03b20202808080808020",
  "kv state machine snapshot (sessions, entries, framing, CRCs)":
    "56534e5001010f000000026b7602d00f02408020c0cf248002dfb913ef020b00000001d00f0101020400010200c453a815030400000001010303ba299450032300000005616c706861010101036f6e6504626574610202010374776f0567616d6d6103030100128256160f0400000004000000d2429832",
  "WAL segment header, batch header and records":
    "5657414c0100000005000000000100007856341200000000000000000000000000000000000000000000000000000000000000000000000000000000ae4c794756424154ac3047f6e803000004000000000000000200000001000000000000001d0000000c3cc7cb010200000300000000000000000200000900000000000000010203040520000000c05c404e02000000030000000900000000000000ffffffffff010000020000000000000044000000e511422d03010000000000006400000000000000040000000000000007000000000000000010000000000000bebafeca020001000100000001000000020000000300000001000000380000009ca0a90f030000000100000064000000000000000400000000000000070000000000000000100000000000000100000001000000ffff0000010000003800000062d469320400000003000000320000000000000002000000000000000100000000000000010000000000000014000000000000000400000000000000",
  "multiraft record 0 (change)":
    "4d010305",
  "multiraft record 1 (seal)":
    "4d0204",
  "multiraft record 2 (join)":
    "4d038080808008",
  "multiraft record 3 (members)":
    "4d040009",
  "multiraft skip":
    "818040",
  "multiraft snapshot wrapper":
    "564d5253013cd209e70704030203000102010502010200060128039c0328000101000000000101000000000000030700020502010503010203010400030102030000010203",
};

test('every pinned encoding is byte-for-byte what it was', async () => {
  assert.deepEqual(Object.keys(GOLDEN).sort(), goldenCases.map((c) => c.name).sort(), 'one golden string per case');
  for (const c of goldenCases) assert.equal(hex(await c.encode()), GOLDEN[c.name], c.name);
});

test('decoding the golden bytes and encoding again gives the same bytes', () => {
  for (const c of goldenCases) {
    if (c.reencode === undefined) continue;
    const golden = Buffer.from(GOLDEN[c.name]!, 'hex');
    assert.equal(hex(c.reencode(Uint8Array.from(golden))), GOLDEN[c.name], `${c.name} (plain Uint8Array input)`);
    assert.equal(hex(c.reencode(golden)), GOLDEN[c.name], `${c.name} (Buffer input)`);
  }
});
