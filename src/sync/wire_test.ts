/**
 * The sync codec against an independent reader and writer of the kernel's layout
 * (`testkit/ipvs_sync_oracle.py`, Python `struct`), round trips at MTU-sized limits, and
 * hostile input: every malformed, truncated, foreign or forged message is refused with its
 * reason and nothing decoded from it.
 *
 * @module
 */
import assert from "node:assert/strict";

const assertEquals = (a: unknown, b: unknown) => assert.deepStrictEqual(a, b);
import {
  align4,
  appendToLastEntry,
  ConnFlag,
  decodeMessage,
  encodeMessages,
  entryLength,
  IPVS_OPT_F_PARAM,
  type SyncConn,
} from "./wire.ts";
import {
  decodeFullnat,
  encodeFullnat,
  FULLNAT_PARAM_TYPE,
  type FullnatState,
} from "./fullnat_param.ts";
import { AUTH_PARAM_LENGTH, checkSignature, ReplayGuard, signMessage } from "./auth.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => new Uint8Array(s.match(/../g)!.map((x) => parseInt(x, 16)));

async function oracle(mode: "decode" | "encode", input: string): Promise<string> {
  const p = new Deno.Command("/usr/bin/python3", {
    args: [new URL("../../testkit/ipvs_sync_oracle.py", import.meta.url).pathname, mode],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(input));
  await w.close();
  const out = await p.output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim();
}

const fullnat: FullnatState = {
  method: 0,
  sessionFlags: 3,
  laddr: [0xcb007165],
  lport: 5001,
  seqDelta: 0x89abcdef,
  clientIsn: 0x01020304,
  rsAck: 0xfffffff0,
  rsSeqEnd: 7,
  timeLeftMs: 899_500,
};

function conn4(i: number, withParam = true): SyncConn {
  return {
    v6: false,
    protocol: 6,
    flags: ConnFlag.FULLNAT,
    state: 1,
    cport: 40000 + i,
    vport: 80,
    dport: 8080,
    fwmark: 0,
    timeout: 900,
    caddr: [0xc6336402 + i],
    vaddr: [0xc633640a],
    daddr: [0xcb00710b],
    params: withParam ? [{ type: FULLNAT_PARAM_TYPE, data: encodeFullnat(fullnat) }] : [],
  };
}

function conn6(i: number): SyncConn {
  return {
    v6: true,
    protocol: 17,
    flags: ConnFlag.MASQ | ConnFlag.INACTIVE,
    state: 0,
    cport: 5353 + i,
    vport: 53,
    dport: 53,
    fwmark: 7,
    timeout: 300,
    caddr: [0x20010db8, 0, 0, 2 + i],
    vaddr: [0x20010db8, 0, 0, 0x10],
    daddr: [0x20010db8, 0, 1, 0x11],
    params: [{
      type: FULLNAT_PARAM_TYPE,
      data: encodeFullnat({ ...fullnat, laddr: [0x20010db8, 0, 2, 1] }),
    }],
  };
}

Deno.test("sync wire: round trip of IPv4 and IPv6 entries with sequence data and parameters", () => {
  const a = {
    ...conn4(1),
    seq: {
      in: { initSeq: 1, delta: 2, previousDelta: 3 },
      out: { initSeq: 4, delta: 5, previousDelta: 6 },
    },
  };
  const b = { ...conn6(2), peData: new Uint8Array([9, 9, 9]), peName: "sip" };
  const [m] = encodeMessages([a, b, conn4(3, false)], 7, 1472);
  const d = decodeMessage(m, 7);
  assert(d.ok, JSON.stringify(d));
  assertEquals(d.header, { syncid: 7, size: m.length, count: 3 });
  assertEquals(d.conns, [a, b, conn4(3, false)]);
  assertEquals(decodeFullnat(d.conns[1].params[0].data), {
    ...fullnat,
    laddr: [0x20010db8, 0, 2, 1],
  });
});

Deno.test("sync wire: sizes at MTU 1500 (sync_maxlen 1472) and the 255-entry limit", () => {
  // 36 + 2 + 32 = 70 bytes, 72 with alignment: 20 sessions per 1472-byte message.
  assertEquals(entryLength(conn4(0)), 70);
  assertEquals(entryLength(conn6(0)), 72 + 2 + 44);
  const conns = Array.from({ length: 100 }, (_, i) => conn4(i));
  const ms = encodeMessages(conns, 1, 1472);
  assertEquals(ms.map((m) => m[4]), [20, 20, 20, 20, 20]);
  assertEquals(ms[0].length, 8 + 19 * 72 + 70);
  for (const m of ms) assert(m.length <= 1472);
  // Mainline-sized entries (no parameter): 36 bytes, 40 per message at 1472.
  assertEquals(encodeMessages([conn4(0, false)], 1, 1472)[0].length, 44);
  const plain = encodeMessages(Array.from({ length: 300 }, (_, i) => conn4(i, false)), 1, 65507);
  assertEquals(plain.map((m) => m[4]), [255, 45]);
  const six = encodeMessages(Array.from({ length: 30 }, (_, i) => conn6(i)), 1, 1452);
  assertEquals(six[0][4], 12);
});

Deno.test("sync wire: a message the codec writes reads right in the kernel-layout oracle", async () => {
  const a = conn4(1);
  const b = conn6(2);
  const [m] = encodeMessages([a, b], 9, 1472);
  const o = JSON.parse(await oracle("decode", hex(m)));
  assertEquals(
    [o.reserved, o.syncid, o.size, o.count, o.version, o.spare, o.length],
    [0, 9, m.length, 2, 1, 0, m.length],
  );
  assertEquals(o.conns[0], {
    type: 0,
    protocol: 6,
    version: 0,
    size: 70,
    flags: 5,
    state: 1,
    cport: 40001,
    vport: 80,
    dport: 8080,
    fwmark: 0,
    timeout: 900,
    caddr: "c6336403",
    vaddr: "c633640a",
    daddr: "cb00710b",
    params: [{ type: 0x46, data: hex(encodeFullnat(fullnat)) }],
  });
  assertEquals(o.conns[1].type, 1);
  assertEquals(o.conns[1].size, 72 + 46);
  assertEquals(o.conns[1].caddr, "20010db8000000000000000000000004");
  assertEquals(o.conns[1].daddr, "20010db8000000000000000100000011");
  assertEquals(o.conns[1].flags, ConnFlag.INACTIVE);
  // The kernel's skip rule: the type has the 0x40 bit, and its low bits are no known type.
  assert((o.conns[0].params[0].type & IPVS_OPT_F_PARAM) !== 0);
  assert(![1, 2, 3].includes(o.conns[0].params[0].type & ~IPVS_OPT_F_PARAM));
});

Deno.test("sync wire: a message built as the kernel builds it decodes here", async () => {
  const spec = {
    syncid: 3,
    conns: [
      {
        protocol: 6,
        flags: ConnFlag.MASQ | ConnFlag.IN_SEQ,
        state: 4,
        cport: 1234,
        vport: 21,
        dport: 21,
        fwmark: 0,
        timeout: 120,
        caddr: "0a000001",
        vaddr: "0a000002",
        daddr: "0a000003",
        params: [{ type: 1, data: "000000010000000200000003000000040000000500000006" }],
      },
      // An unknown optional parameter (skipped) then an entry whose mandatory one is unknown.
      {
        protocol: 17,
        flags: 0x100,
        state: 0,
        cport: 1,
        vport: 2,
        dport: 3,
        fwmark: 0,
        timeout: 300,
        caddr: "0a000004",
        vaddr: "0a000002",
        daddr: "0a000003",
        params: [{ type: 0x55, data: "aabbcc" }],
      },
      {
        protocol: 17,
        flags: 0x100,
        state: 0,
        cport: 9,
        vport: 2,
        dport: 3,
        fwmark: 0,
        timeout: 300,
        caddr: "0a000005",
        vaddr: "0a000002",
        daddr: "0a000003",
        params: [{ type: 0x15, data: "aa" }],
      },
    ],
  };
  const m = unhex(await oracle("encode", JSON.stringify(spec)));
  const d = decodeMessage(m, 3);
  assert(d.ok, JSON.stringify(d));
  assertEquals(d.conns.length, 2);
  assertEquals(d.skipped, { "mandatory-param": 1 });
  assertEquals(d.conns[0].seq, {
    in: { initSeq: 1, delta: 2, previousDelta: 3 },
    out: { initSeq: 4, delta: 5, previousDelta: 6 },
  });
  assertEquals(d.conns[0].caddr, [0x0a000001]);
  assertEquals(d.conns[0].state, 4);
  assertEquals(d.conns[1].params, [{ type: 0x55, data: new Uint8Array([0xaa, 0xbb, 0xcc]) }]);
});

Deno.test("sync wire: malformed, truncated and foreign messages are refused whole, with the reason", () => {
  const [good] = encodeMessages([conn4(1), conn4(2)], 5, 1472);
  const faultOf = (b: Uint8Array, syncid = 5) => {
    const d = decodeMessage(b, syncid);
    return d.ok ? "ok" : d.fault;
  };
  const edit = (f: (b: Uint8Array, v: DataView) => void) => {
    const b = good.slice();
    f(b, new DataView(b.buffer));
    return b;
  };
  assertEquals(faultOf(good), "ok");
  assertEquals(faultOf(good, 0), "ok");
  assertEquals(faultOf(good.subarray(0, 3)), "short");
  assertEquals(faultOf(good.subarray(0, good.length - 1)), "size-mismatch");
  assertEquals(faultOf(good, 6), "other-syncid");
  assertEquals(faultOf(edit((b) => (b[5] = 0))), "version-0");
  assertEquals(faultOf(edit((b) => (b[0] = 2))), "version-0");
  assertEquals(faultOf(edit((b) => (b[4] = 3))), "truncated-entry");
  assertEquals(faultOf(edit((_, v) => v.setUint16(8 + 2, 0x1000 | 70))), "entry-version");
  assertEquals(faultOf(edit((_, v) => v.setUint16(8 + 2, 2000))), "truncated-entry");
  assertEquals(faultOf(edit((b) => (b[8] = 4))), "entry-type");
  assertEquals(faultOf(edit((b) => (b[8] = 1))), "entry-too-short");
  assertEquals(faultOf(edit((b) => (b[8 + 37] = 40))), "param-length");
  assertEquals(faultOf(edit((b) => (b[8 + 37] = 0))), "param-length");
  assertEquals(faultOf(edit((b) => (b[8 + 36] = 1))), "seq-data-length");
  assertEquals(faultOf(edit((_, v) => v.setUint16(8 + 2, 37))), "param-truncated");
  assertEquals(faultOf(edit((b) => (b[4] = 1))), "trailing-bytes");
  // Entries skipped alone, as the kernel skips them: bad protocol, bad state.
  const d = decodeMessage(
    edit((b, v) => {
      b[8 + 1] = 99;
      v.setUint16(80 + 8, 11);
    }),
    5,
  );
  assert(d.ok);
  assertEquals([d.conns.length, d.skipped], [0, { protocol: 1, state: 1 }]);
});

Deno.test("sync wire: random bytes and every truncation never throw", () => {
  const [good] = encodeMessages([conn4(1), conn6(2), conn4(3)], 5, 1472);
  for (let n = 0; n < good.length; n++) {
    const d = decodeMessage(good.subarray(0, n), 5);
    assert(!d.ok, `truncated to ${n}`);
  }
  let seed = 1;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
  for (let i = 0; i < 5000; i++) {
    const b = good.slice();
    for (let k = 0; k < 1 + (i % 6); k++) b[rand() % b.length] = rand();
    decodeMessage(b, 0);
    const r = new Uint8Array(rand() + 8).map(rand);
    r[1] = 0;
    new DataView(r.buffer).setUint16(2, r.length);
    decodeMessage(r, 0);
  }
});

Deno.test("sync wire: fullnat parameter refuses what it cannot read", () => {
  const ok = encodeFullnat(fullnat);
  assertEquals(decodeFullnat(ok), fullnat);
  assertEquals(typeof decodeFullnat(ok.subarray(0, 27)), "string");
  assertEquals(typeof decodeFullnat(ok.subarray(0, 30)), "string");
  const v2 = ok.slice();
  v2[0] = 2;
  assertEquals(typeof decodeFullnat(v2), "string");
  assertEquals(decodeFullnat(encodeFullnat({ ...fullnat, laddr: [] })), { ...fullnat, laddr: [] });
});

Deno.test("sync wire: signed messages verify, forged and unsigned ones do not, replays are refused", () => {
  const key = new TextEncoder().encode("shared secret");
  const [m] = encodeMessages([conn4(1)], 1, 1472 - AUTH_PARAM_LENGTH);
  const s = signMessage(m, key, 0xabcdef01, 7);
  assertEquals(s.length, m.length + AUTH_PARAM_LENGTH);
  const d = decodeMessage(s, 1);
  assert(d.ok, "a signed message is still a well-formed one");
  assertEquals(d.conns[0].params.length, 2);
  assertEquals(checkSignature(s, key), { ok: true, epoch: 0xabcdef01, counter: 7 });
  assertEquals(checkSignature(m, key), { ok: false, fault: "unsigned" });
  assertEquals(checkSignature(s, new TextEncoder().encode("other")), {
    ok: false,
    fault: "forged",
  });
  const tampered = s.slice();
  tampered[8 + 24] ^= 1; // the client address
  assertEquals(checkSignature(tampered, key), { ok: false, fault: "forged" });
  const g = new ReplayGuard();
  assert(g.accept(1, 7));
  assert(!g.accept(1, 7));
  assert(!g.accept(1, 6));
  assert(g.accept(1, 8));
  assert(g.accept(2, 1));
  // The parameter fits after an entry of any size the packer left room for.
  assertEquals(align4(appendToLastEntry(m, 0x4f, new Uint8Array(2)).length) % 4, 0);
});
