import assert from "node:assert/strict";
import { Verdict } from "./handler.ts";
import { SimdChecksum } from "../wire/checksum_simd.ts";
import { concat, packetMessage, readVerdicts } from "../../testkit/nl_builder.ts";
import {
  BatchProcessor,
  IN_PLACE_MIN_PAYLOAD,
  PROCESSOR_SCRATCH_BYTES,
} from "./batch_processor.ts";
import { newCounters } from "./counters.ts";
import { VerdictGather } from "./gather.ts";
import type { PacketHandler } from "./handler.ts";
import { VerdictWriter } from "./verdict_writer.ts";

const SLOT = 70000;

/** The bytes the kernel would receive from `sendmsg` of the gather's msghdr. */
function gathered(g: VerdictGather): Uint8Array {
  const hdr = new Deno.UnsafePointerView(g.msghdrPtr);
  const iov = Deno.UnsafePointer.create(hdr.getBigUint64(16));
  const iovlen = Number(hdr.getBigUint64(24));
  const parts: Uint8Array[] = [];
  for (let i = 0; i < iovlen; i++) {
    const v = new Deno.UnsafePointerView(iov!);
    const base = Deno.UnsafePointer.create(v.getBigUint64(i * 16));
    const len = Number(v.getBigUint64(i * 16 + 8));
    parts.push(new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(base!, len).slice(0)));
  }
  return concat(...parts);
}

/** Rewrites every packet: payloads grow by 8 bytes (as a TOA does) and get a marker byte. */
const grow: PacketHandler & { outLength: number } = {
  outLength: 0,
  handle(buf, off, len) {
    buf[off + 1] = 0xab;
    buf.fill(0xcd, off + len, off + len + 8);
    this.outLength = len + 8;
    return Verdict.Rewritten;
  },
};

function run(withGather: boolean, sizes: number[]) {
  const summer = new SimdChecksum(SLOT * sizes.length + (1 << 20) + PROCESSOR_SCRATCH_BYTES);
  const ring = summer.allocate(SLOT * sizes.length);
  const writer = new VerdictWriter(3, 1 << 20, summer.allocate(1 << 20));
  const gather = new VerdictGather(ring.buffer as ArrayBuffer, 16);
  const sent: Uint8Array[] = [];
  const processor = new BatchProcessor(writer, newCounters(), () => {
    if (gather.count > 0) {
      processor.gatherWriter();
      sent.push(gathered(gather));
    } else sent.push(writer.buf.slice(0, writer.length));
    processor.resetGather();
    writer.reset();
  }, { summer, gather: withGather ? gather : undefined });
  const view = new DataView(ring.buffer, ring.byteOffset, ring.byteLength);
  sizes.forEach((size, i) => {
    const payload = new Uint8Array(size).map((_, j) => (j * 7 + i) & 0xff);
    const msg = packetMessage(100 + i, payload, 3);
    ring.set(msg, i * SLOT);
    processor.datagram(ring, view, i * SLOT, msg.length, (i + 1) * SLOT, grow);
  });
  processor.flush();
  return { sent, gatherUsed: gather };
}

Deno.test("BatchProcessor with a VerdictGather sends the bytes the copying path sends", () => {
  // Small and large payloads mixed, odd lengths so the padding matters.
  const sizes = [60, IN_PLACE_MIN_PAYLOAD + 1, 1500, 65000, 61, IN_PLACE_MIN_PAYLOAD + 2];
  const copied = run(false, sizes);
  const gathered_ = run(true, sizes);
  assert.deepStrictEqual(copied.sent.length, 1);
  assert.deepStrictEqual(gathered_.sent.length, 1);
  assert.deepStrictEqual(gathered_.sent[0], copied.sent[0]);
  // And they are the verdicts meant: ids in order, each payload grown by 8 bytes.
  const v = readVerdicts(gathered_.sent[0], gathered_.sent[0].length);
  assert.deepStrictEqual(v.map((x) => x.id), sizes.map((_, i) => 100 + i));
  assert.deepStrictEqual(v.map((x) => x.payload?.length), sizes.map((s) => s + 8));
});

Deno.test("BatchProcessor with a VerdictGather flushes when the region list is full", () => {
  const sizes = Array.from({ length: 20 }, () => IN_PLACE_MIN_PAYLOAD + 100);
  const copied = run(false, sizes);
  const gathered_ = run(true, sizes);
  // Back-to-back in-place verdicts take one region each; 16 regions (two kept free for a
  // verdict-buffer stretch and the next verdict) hold 15: two datagrams, the same verdicts.
  assert.deepStrictEqual(gathered_.sent.length, 2);
  const ids = gathered_.sent.flatMap((d) => readVerdicts(d, d.length).map((x) => x.id));
  assert.deepStrictEqual(ids, sizes.map((_, i) => 100 + i));
  const all = readVerdicts(copied.sent[0], copied.sent[0].length);
  const parts = gathered_.sent.flatMap((d) => readVerdicts(d, d.length));
  assert.deepStrictEqual(parts, all);
});
