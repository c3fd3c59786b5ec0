import assert from "node:assert/strict";
import { loadNative } from "../../../src/nfqueue/ffi.ts";
import {
  VERDICT_MSG_LEN,
  verdictSize,
  VerdictWriter,
} from "../../../src/nfqueue/verdict_writer.ts";

/** The same verdict built by libnetfilter_queue's own helpers. */
function libVerdict(
  queueNum: number,
  id: number,
  verdict: number,
  payload?: Uint8Array,
  mark?: number,
) {
  const { nfq } = loadNative();
  const buf = new Uint8Array(70000);
  nfq.nfq_nlmsg_put(buf, 1, queueNum);
  nfq.nfq_nlmsg_verdict_put(buf, id | 0, verdict); // the C int takes the id bits as is
  if (mark !== undefined) nfq.nfq_nlmsg_verdict_put_mark(buf, mark);
  if (payload !== undefined) nfq.nfq_nlmsg_verdict_put_pkt(buf, payload, payload.length);
  const len = new DataView(buf.buffer).getUint32(0, true);
  return buf.slice(0, len);
}

Deno.test("verdicts are byte-identical to libnetfilter_queue's", () => {
  const w = new VerdictWriter(4242, 1 << 20);
  // Dirty the buffer first: padding must still come out zeroed.
  w.buf.fill(0xee);
  const p1 = crypto.getRandomValues(new Uint8Array(61)); // length not a multiple of 4
  const p2 = crypto.getRandomValues(new Uint8Array(1500));
  const p3 = new Uint8Array(65531).fill(7); // the largest payload
  const src = new Uint8Array(100 + p1.length);
  src.set(p1, 100);
  w.accept(1);
  w.drop(0xfffffffe);
  w.acceptWithPayload(3, src, 100, p1.length);
  w.acceptWithPayload(4, p2, 0, p2.length);
  w.acceptWithPayload(5, p3, 0, p3.length);
  const expected = [
    libVerdict(4242, 1, 1),
    libVerdict(4242, 0xfffffffe, 0),
    libVerdict(4242, 3, 1, p1),
    libVerdict(4242, 4, 1, p2),
    libVerdict(4242, 5, 1, p3),
  ];
  let at = 0;
  for (const e of expected) {
    assert.deepEqual(w.buf.slice(at, at + e.length), e);
    at += e.length;
  }
  assert.equal(w.length, at);
  assert.equal(w.count, 5);
  assert.equal(verdictSize(p1.length), expected[2].length);
  assert.equal(VERDICT_MSG_LEN, expected[0].length);
});

Deno.test("a marked verdict is byte-identical to nfq_nlmsg_verdict_put_mark's", () => {
  const w = new VerdictWriter(7, 1 << 20);
  w.buf.fill(0xee);
  w.acceptWithMark(11, 0xcb00710b);
  w.accept(12);
  const expected = [libVerdict(7, 11, 1, undefined, 0xcb00710b), libVerdict(7, 12, 1)];
  assert.deepEqual(w.buf.slice(0, expected[0].length), expected[0]);
  assert.deepEqual(
    w.buf.slice(expected[0].length, expected[0].length + expected[1].length),
    expected[1],
  );
  assert.equal(w.count, 2);
  assert.ok(w.fitsMark());
});

Deno.test("fits() accounts for the payload and reset() empties the batch", () => {
  const cap = verdictSize(65531) + VERDICT_MSG_LEN;
  const w = new VerdictWriter(0, cap);
  assert.ok(w.fits(65531));
  w.accept(1);
  assert.ok(w.fits(65531));
  w.accept(2);
  assert.ok(!w.fits(65531));
  assert.ok(w.fits(100));
  w.reset();
  assert.equal(w.length, 0);
  assert.equal(w.count, 0);
  assert.throws(() => new VerdictWriter(0, 1000), RangeError);
});

Deno.test("VerdictWriter in a shared buffer copies same-buffer payloads byte for byte", () => {
  const memory = new Uint8Array(3 << 20);
  const ring = memory.subarray(0, 1 << 20);
  const w = new VerdictWriter(4, 1 << 20, memory.subarray(1 << 20));
  assert.equal(w.buf.byteOffset, 1 << 20);
  const payload = new Uint8Array(1499);
  crypto.getRandomValues(payload);
  ring.set(payload, 777);
  w.acceptWithPayload(9, ring, 777, payload.length);
  // A payload from another buffer takes the other path; both must give the same bytes.
  const other = new VerdictWriter(4, 1 << 20);
  other.acceptWithPayload(9, payload, 0, payload.length);
  assert.deepEqual(w.buf.subarray(0, w.length), other.buf.subarray(0, other.length));
  assert.deepEqual(w.buf.subarray(36, 36 + payload.length), payload);
  // Nothing before the verdict buffer was touched.
  assert.deepEqual(memory.subarray(0, 777), new Uint8Array(777));
  assert.throws(() => new VerdictWriter(0, 1 << 20, new Uint8Array(100)), /is below/);
});
