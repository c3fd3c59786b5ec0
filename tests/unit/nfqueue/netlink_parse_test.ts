import assert from "node:assert/strict";
import { newPacketInfo, nlAlign, parsePacketMessage } from "../../../src/nfqueue/netlink_parse.ts";
import { be32, message, packetHdr } from "../../../testkit/nl_builder.ts";

Deno.test("packet message attributes are parsed", () => {
  const m = message([
    [1, packetHdr(0xdeadbeef, 0x86dd, 0)],
    [3, be32(77)], // mark
    [5, be32(4)], // indev
    [6, be32(5)], // outdev
    [4, new Uint8Array(16)], // timestamp, ignored
    [14, be32(3)], // skb info
    [0x8000 | 13, be32(9000)], // cap len, with a flag bit set in the type
    [10, new Uint8Array([0x60, 1, 2])],
  ], 513);
  const info = newPacketInfo();
  assert.ok(parsePacketMessage(new DataView(m.buffer), 0, m.length, info));
  assert.equal(info.queueNum, 513);
  assert.equal(info.id, 0xdeadbeef);
  assert.equal(info.hwProtocol, 0x86dd);
  assert.equal(info.mark, 77);
  assert.equal(info.indev, 4);
  assert.equal(info.outdev, 5);
  assert.equal(info.skbInfo, 3);
  assert.equal(info.capLen, 9000);
  assert.equal(info.payloadLength, 3);
  assert.equal(m[info.payloadOffset], 0x60);
});

Deno.test("fields are reset between packets", () => {
  const info = newPacketInfo();
  const a = message([[1, packetHdr(1)], [3, be32(5)], [10, new Uint8Array(4)]]);
  const b = message([[1, packetHdr(2)]]);
  assert.ok(parsePacketMessage(new DataView(a.buffer), 0, a.length, info));
  assert.ok(parsePacketMessage(new DataView(b.buffer), 0, b.length, info));
  assert.equal(info.mark, 0);
  assert.equal(info.payloadOffset, -1);
  assert.equal(info.id, 2);
});

Deno.test("bad messages are refused", () => {
  const info = newPacketInfo();
  const short = new Uint8Array(18);
  assert.ok(!parsePacketMessage(new DataView(short.buffer), 0, 18, info));
  const zeroAttr = message([[1, packetHdr(1)]]);
  new DataView(zeroAttr.buffer).setUint16(20, 2, true);
  assert.ok(!parsePacketMessage(new DataView(zeroAttr.buffer), 0, zeroAttr.length, info));
  const shortMark = message([[1, packetHdr(1)], [3, new Uint8Array(2)]]);
  assert.ok(!parsePacketMessage(new DataView(shortMark.buffer), 0, shortMark.length, info));
  assert.equal(nlAlign(5), 8);
  assert.equal(nlAlign(8), 8);
});
