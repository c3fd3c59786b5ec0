import assert from "node:assert/strict";
import { Verdict } from "../../../src/nfqueue/handler.ts";
import { SimdChecksum } from "../../../src/wire/checksum_simd.ts";
import {
  BatchProcessor,
  HANDLER_HEADROOM,
  PROCESSOR_SCRATCH_BYTES,
} from "../../../src/nfqueue/batch_processor.ts";
import {
  NFQA_SKB_CSUM_NOTVERIFIED,
  NFQA_SKB_CSUMNOTREADY,
  NFQA_SKB_GSO,
} from "../../../src/nfqueue/constants.ts";
import { newCounters } from "../../../src/nfqueue/counters.ts";
import type { PacketHandler } from "../../../src/nfqueue/handler.ts";
import { VerdictWriter } from "../../../src/nfqueue/verdict_writer.ts";
import {
  be32,
  concat,
  errorMessage,
  message,
  packetHdr,
  packetMessage,
  readVerdicts,
} from "../../../testkit/nl_builder.ts";
import { internetChecksum, onesComplementSum } from "../../../testkit/inet_checksum.ts";
import { ipv4 } from "../../../testkit/packet_builder.ts";

const SLOT = 70000;

function setup() {
  const writer = new VerdictWriter(9, 1 << 20);
  const counters = newCounters();
  const sent: ReturnType<typeof readVerdicts> = [];
  const flush = () => {
    sent.push(...readVerdicts(writer.buf, writer.length));
    writer.reset();
  };
  const proc = new BatchProcessor(writer, counters, flush);
  const buf = new Uint8Array(SLOT * 2);
  const view = new DataView(buf.buffer);
  const feed = (datagram: Uint8Array, handler: PacketHandler, slot = 0) => {
    buf.set(datagram, slot * SLOT);
    proc.datagram(buf, view, slot * SLOT, datagram.length, (slot + 1) * SLOT, handler);
  };
  const verdicts = () => {
    flush();
    return sent;
  };
  return { writer, counters, proc, feed, verdicts };
}

const acceptAll: PacketHandler = { outLength: 0, handle: () => Verdict.Accept };

Deno.test("accept, drop and rewrite, with payload in place and cap guaranteed", () => {
  const { counters, feed, verdicts, proc } = setup();
  const seen: Array<{ len: number; cap: number; first: number; id: number }> = [];
  const handler = {
    outLength: 0,
    handle(buf: Uint8Array, off: number, len: number, cap: number) {
      seen.push({ len, cap, first: buf[off], id: proc.packet.id });
      assert.ok(cap >= len + HANDLER_HEADROOM);
      if (buf[off] === 1) return Verdict.Accept;
      if (buf[off] === 2) return Verdict.Drop;
      // Grow the packet by 100 bytes of 0xab, using the room after it.
      buf.fill(0xab, off + len, off + len + 100);
      this.outLength = len + 100;
      return Verdict.Rewritten;
    },
  };
  feed(packetMessage(11, new Uint8Array([1, 0, 0])), handler);
  feed(packetMessage(12, new Uint8Array([2, 5])), handler);
  feed(packetMessage(13, new Uint8Array([3, 4, 5, 6, 7])), handler);
  assert.deepEqual(seen.map((s) => [s.id, s.len, s.first]), [[11, 3, 1], [12, 2, 2], [13, 5, 3]]);
  const v = verdicts();
  assert.deepEqual(v.map((x) => [x.id, x.verdict, x.queueNum]), [[11, 1, 9], [12, 0, 9], [
    13,
    1,
    9,
  ]]);
  assert.equal(v[0].payload, undefined);
  assert.equal(v[2].payload!.length, 105);
  assert.deepEqual([...v[2].payload!.slice(0, 6)], [3, 4, 5, 6, 7, 0xab]);
  assert.equal(counters.received, 3);
  assert.equal(counters.accepted, 1);
  assert.equal(counters.dropped, 1);
  assert.equal(counters.rewritten, 1);
});

Deno.test("handler errors and invalid results are counted and accepted unchanged", () => {
  const { counters, feed, verdicts } = setup();
  let mode = 0;
  const handler = {
    get outLength() {
      if (mode === 3) throw new Error("outLength broken");
      return mode === 1 ? 0 : 1_000_000;
    },
    handle(): Verdict {
      if (mode === 0) throw new Error("boom");
      if (mode === 4) return 7 as Verdict;
      return Verdict.Rewritten;
    },
  };
  for (mode = 0; mode < 5; mode++) feed(packetMessage(100 + mode, new Uint8Array(40)), handler);
  const v = verdicts();
  assert.deepEqual(v.map((x) => [x.id, x.verdict, x.payload]), [
    [100, 1, undefined],
    [101, 1, undefined],
    [102, 1, undefined],
    [103, 1, undefined],
    [104, 1, undefined],
  ]);
  assert.equal(counters.handlerErrors, 5);
  assert.equal(counters.accepted, 5);
});

Deno.test("truncated or missing payloads bypass the handler", () => {
  const { counters, feed, verdicts } = setup();
  let calls = 0;
  const handler = { outLength: 0, handle: () => (calls++, Verdict.Drop) };
  // NFQA_CAP_LEN says the packet was 2000 bytes, only 100 came.
  feed(message([[1, packetHdr(1)], [13, be32(2000)], [10, new Uint8Array(100)]]), handler);
  // No payload attribute at all.
  feed(message([[1, packetHdr(2)]]), handler);
  // Datagram cut short inside the payload attribute.
  const full = packetMessage(3, new Uint8Array(400));
  feed(full.subarray(0, full.length - 100), handler);
  assert.equal(calls, 0);
  const v = verdicts();
  assert.deepEqual(v.map((x) => [x.id, x.verdict]), [[1, 1], [2, 1], [3, 1]]);
  assert.equal(counters.truncated, 3);
  assert.equal(counters.malformed, 1);
});

Deno.test("malformed messages are counted, errors from the kernel too", () => {
  const { counters, feed, verdicts, proc } = setup();
  // Attribute longer than the message.
  const bad = packetMessage(5, new Uint8Array(8));
  new DataView(bad.buffer).setUint16(20, 200, true);
  feed(bad, acceptAll);
  // No packet header: no id to answer.
  feed(message([[10, new Uint8Array(20)]]), acceptAll);
  // Packet header too short.
  feed(message([[1, new Uint8Array(3)], [10, new Uint8Array(20)]]), acceptAll);
  // nlmsg_len below the header size.
  feed(new Uint8Array(16), acceptAll);
  // An unknown message type.
  feed(message([], 0, 0x0999), acceptAll);
  // Kernel error reply to a verdict (ENOENT), and an acknowledgement (no error).
  feed(concat(errorMessage(-2), errorMessage(0)), acceptAll);
  assert.equal(counters.malformed, 5);
  assert.equal(counters.verdictErrors, 1);
  assert.equal(proc.lastVerdictError, 2);
  assert.equal(counters.received, 0);
  assert.equal(verdicts().length, 0);
});

Deno.test("several packets in one datagram: growth cannot overrun the next one", () => {
  const { counters, feed, verdicts } = setup();
  const handler = {
    outLength: 0,
    handle(buf: Uint8Array, off: number, len: number, cap: number) {
      assert.ok(cap >= len + HANDLER_HEADROOM);
      buf.fill(0xcd, off + len, off + len + 64);
      this.outLength = len + 64;
      return Verdict.Rewritten;
    },
  };
  const a = packetMessage(21, new Uint8Array(10).fill(1));
  const b = packetMessage(22, new Uint8Array(10).fill(2));
  feed(concat(a, b), handler);
  const v = verdicts();
  assert.deepEqual(v.map((x) => x.id), [21, 22]);
  assert.deepEqual([...v[0].payload!.slice(0, 11)], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0xcd]);
  assert.deepEqual([...v[1].payload!.slice(0, 11)], [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0xcd]);
  assert.equal(counters.received, 2);
});

Deno.test("a full verdict buffer is flushed mid-batch", () => {
  const writer = new VerdictWriter(1, 70000);
  const counters = newCounters();
  const flushes: number[] = [];
  const proc = new BatchProcessor(writer, counters, () => {
    flushes.push(writer.count);
    writer.reset();
  });
  const buf = new Uint8Array(SLOT);
  const view = new DataView(buf.buffer);
  const handler = {
    outLength: 0,
    handle(_b: Uint8Array, _o: number, len: number) {
      this.outLength = len;
      return Verdict.Rewritten;
    },
  };
  for (let id = 1; id <= 3; id++) {
    const m = packetMessage(id, new Uint8Array(30000));
    buf.set(m, 0);
    proc.datagram(buf, view, 0, m.length, SLOT, handler);
  }
  assert.deepEqual(flushes, [2]);
  assert.equal(writer.count, 1);
  assert.equal(counters.rewritten, 3);
});

/** A packet message carrying `skbInfo` flags (NFQA_SKB_INFO), like the kernel's with GSO on. */
function flaggedMessage(id: number, payload: Uint8Array, skbInfo: number): Uint8Array {
  return message([[1, packetHdr(id)], [14, be32(skbInfo)], [10, payload]]);
}

/** A TCP packet whose checksum field holds only the pseudo-header sum (CHECKSUM_PARTIAL). */
function partialTcp(bodyBytes: number): { pkt: Uint8Array; full: number } {
  const body = new Uint8Array(bodyBytes);
  crypto.getRandomValues(body);
  const pkt = ipv4({ src: "10.9.0.1", dst: "10.9.0.2" }).tcp({ flags: "PA" }).payload(body)
    .build();
  const full = (pkt[36] << 8) | pkt[37];
  const pseudo = onesComplementSum(pkt.subarray(12, 20), 6 + pkt.length - 20);
  pkt[36] = pseudo >>> 8;
  pkt[37] = pseudo & 0xff;
  return { pkt, full };
}

/** Rewrites TCP ports 40000 -> 40001 with an RFC 1624 update, as the engine does. */
const portRewrite: PacketHandler & { outLength: number } = {
  outLength: 0,
  handle(buf, off, len) {
    const c = (buf[off + 36] << 8) | buf[off + 37];
    buf[off + 21] += 1;
    const sum = (~c & 0xffff) + (~40000 & 0xffff) + 40001;
    const folded = (sum & 0xffff) + (sum >>> 16);
    const next = ~((folded & 0xffff) + (folded >>> 16)) & 0xffff;
    buf[off + 36] = next >>> 8;
    buf[off + 37] = next & 0xff;
    portRewrite.outLength = len;
    return Verdict.Rewritten;
  },
};

Deno.test("BatchProcessor completes the checksum of a rewritten CSUMNOTREADY packet", () => {
  const { counters, feed, verdicts } = setup();
  const { pkt, full } = partialTcp(3000);
  feed(flaggedMessage(7, pkt, NFQA_SKB_CSUMNOTREADY | NFQA_SKB_GSO), portRewrite);
  const [v] = verdicts();
  const out = v.payload!;
  assert.equal((out[20] << 8) | out[21], 40001);
  assert.equal(
    internetChecksum(
      out.subarray(20),
      onesComplementSum(out.subarray(12, 20), 6 + out.length - 20),
    ),
    0,
  );
  assert.notEqual((out[36] << 8) | out[37], full, "the port changed, so the checksum did");
  assert.equal(counters.checksumsCompleted, 1);
  assert.equal(counters.gsoPackets, 1);
  assert.equal(counters.largestPacket, pkt.length);
});

Deno.test("BatchProcessor keeps the handler's checksum when the kernel's was complete", () => {
  const { counters, feed, verdicts } = setup();
  const pkt = ipv4({ src: "10.9.0.1", dst: "10.9.0.2" }).tcp({ flags: "PA" })
    .payload(new Uint8Array(100)).build();
  // A deliberately wrong checksum: without CSUMNOTREADY the loop must not touch it.
  pkt[36] ^= 0x55;
  const sent = pkt.slice();
  const same = {
    outLength: 0,
    handle(_b: Uint8Array, _o: number, len: number) {
      this.outLength = len;
      return Verdict.Rewritten;
    },
  };
  feed(flaggedMessage(8, pkt, NFQA_SKB_CSUM_NOTVERIFIED), same);
  const [v] = verdicts();
  assert.deepEqual(v.payload, sent);
  assert.equal(counters.checksumsCompleted, 0);
  assert.equal(counters.gsoPackets, 0);
});

Deno.test("BatchProcessor: accepted CSUMNOTREADY packets need nothing; 'off' and odd protocols are counted", () => {
  const writer = new VerdictWriter(9, 1 << 20);
  const counters = newCounters();
  const off = new BatchProcessor(writer, counters, () => writer.reset(), { fullChecksum: "off" });
  const buf = new Uint8Array(SLOT);
  const view = new DataView(buf.buffer);
  const { pkt } = partialTcp(500);
  const m = flaggedMessage(9, pkt, NFQA_SKB_CSUMNOTREADY);
  buf.set(m);
  off.datagram(buf, view, 0, m.length, SLOT, acceptAll);
  buf.set(m);
  off.datagram(buf, view, 0, m.length, SLOT, portRewrite);
  assert.equal(counters.accepted, 1);
  assert.equal(counters.rewritten, 1);
  assert.equal(counters.checksumsCompleted + counters.checksumsNotCompleted, 0);

  const { counters: c2, feed } = setup();
  const icmp = ipv4({ src: "10.9.0.1", dst: "10.9.0.2" }).icmp().build();
  const same = {
    outLength: 0,
    handle(_b: Uint8Array, _o: number, len: number) {
      this.outLength = len;
      return Verdict.Rewritten;
    },
  };
  feed(flaggedMessage(10, icmp, NFQA_SKB_CSUMNOTREADY), same);
  assert.equal(c2.checksumsNotCompleted, 1);
  assert.throws(
    () => new BatchProcessor(writer, counters, () => {}, { fullChecksum: "fast" as "simd" }),
    /fullChecksum must be "simd", "scalar" or "off", got fast/,
  );
});

Deno.test("BatchProcessor sums in place when the packet lies in the summer's memory", () => {
  const summer = new SimdChecksum(SLOT + PROCESSOR_SCRATCH_BYTES);
  const writer = new VerdictWriter(9, 1 << 20);
  const counters = newCounters();
  const proc = new BatchProcessor(writer, counters, () => {}, { summer });
  const buf = summer.allocate(SLOT);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const { pkt } = partialTcp(60_000);
  const m = flaggedMessage(11, pkt, NFQA_SKB_CSUMNOTREADY | NFQA_SKB_GSO);
  buf.set(m);
  proc.datagram(buf, view, 0, m.length, SLOT, portRewrite);
  const [v] = readVerdicts(writer.buf, writer.length);
  const out = v.payload!;
  assert.equal(
    internetChecksum(
      out.subarray(20),
      onesComplementSum(out.subarray(12, 20), 6 + out.length - 20),
    ),
    0,
  );
  assert.equal(counters.checksumsCompleted, 1);
});

Deno.test("BatchProcessor passes the kernel's skbInfo bits to the handler", () => {
  const { feed } = setup();
  const seen: number[] = [];
  const handler = {
    outLength: 0,
    handle(_b: Uint8Array, _o: number, _l: number, _c: number, skbInfo: number) {
      seen.push(skbInfo);
      return Verdict.Accept;
    },
  };
  feed(flaggedMessage(1, new Uint8Array(40), NFQA_SKB_GSO | NFQA_SKB_CSUMNOTREADY), handler);
  feed(packetMessage(2, new Uint8Array(40)), handler);
  assert.deepEqual(seen, [NFQA_SKB_GSO | NFQA_SKB_CSUMNOTREADY, 0]);
});
