/**
 * Runs inside a throwaway namespace for raw_sender_test.ts: listens for UDP on 127.0.0.1 and
 * [::1], sends crafted UDP packets to itself through {@linkcode RawSender} (IPv4 at offset 0,
 * IPv6 at an offset inside a larger buffer), plus packets that must fail, and prints what
 * arrived and the sender's counters as one JSON line.
 *
 * @module
 */
import dgram from "node:dgram";
import { RawSender } from "../../../src/kernel/raw_sender.ts";
import { ipv4 } from "../../../testkit/packet_builder.ts";
import { internetChecksum, onesComplementSum } from "../../../testkit/inet_checksum.ts";

const PORT = 47000;

function listen(type: "udp4" | "udp6", address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket(type);
  return new Promise((resolve, reject) => {
    s.once("error", reject);
    s.bind(PORT, address, () => resolve(s));
  });
}

function firstMessage(s: dgram.Socket): Promise<{ data: string; from: string; port: number }> {
  return new Promise((resolve) =>
    s.once(
      "message",
      (msg, rinfo) =>
        resolve({ data: new TextDecoder().decode(msg), from: rinfo.address, port: rinfo.port }),
    )
  );
}

/** An IPv6 UDP packet ::1 -> ::1 with a correct checksum, at `offset` in a bigger buffer. */
function udp6(payload: string, offset: number): { buf: Uint8Array; len: number } {
  const data = new TextEncoder().encode(payload);
  const udpLen = 8 + data.length;
  const pkt = new Uint8Array(40 + udpLen);
  const dv = new DataView(pkt.buffer);
  pkt[0] = 0x60;
  dv.setUint16(4, udpLen);
  pkt[6] = 17;
  pkt[7] = 64;
  pkt[23] = 1; // src ::1
  pkt[39] = 1; // dst ::1
  dv.setUint16(40, 40001);
  dv.setUint16(42, PORT);
  dv.setUint16(44, udpLen);
  pkt.set(data, 48);
  const pseudo = new Uint8Array(40);
  pseudo.set(pkt.subarray(8, 40), 0);
  new DataView(pseudo.buffer).setUint32(32, udpLen);
  pseudo[39] = 17;
  dv.setUint16(46, internetChecksum(pkt.subarray(40), onesComplementSum(pseudo)) || 0xffff);
  const buf = new Uint8Array(offset + pkt.length + 16).fill(0xee);
  buf.set(pkt, offset);
  return { buf, len: pkt.length };
}

const s4 = await listen("udp4", "127.0.0.1");
const s6 = await listen("udp6", "::1");
const got4 = firstMessage(s4);
const got6 = firstMessage(s6);
const sender = RawSender.open();

const v4 = ipv4({ src: "127.0.0.1", dst: "127.0.0.1" }).udp({ sport: 40000, dport: PORT })
  .payload("hello over raw ipv4").build();
const ok4 = sender.send(v4, 0, v4.length);
const { buf, len } = udp6("hello over raw ipv6", 13);
const ok6 = sender.send(buf, 13, len);
const results = await Promise.race([
  Promise.all([got4, got6]),
  new Promise<null>((r) => setTimeout(() => r(null), 3000)),
]);
const after = { ...sender.counters };

// Failures: not an IP packet, a length beyond the buffer, and no route to the destination.
const junk = new Uint8Array(40);
const failJunk = sender.send(junk, 0, 40);
const failLen = sender.send(v4, 0, v4.length + 1);
const noRoute = ipv4({ src: "127.0.0.1", dst: "192.0.2.1" }).udp({}).build();
const failRoute = sender.send(noRoute, 0, noRoute.length);
const failed = { ...sender.counters };
sender.close();
const afterClose = sender.send(v4, 0, v4.length);
s4.close();
s6.close();
console.log(JSON.stringify({
  ok4,
  ok6,
  results,
  after,
  failJunk,
  failLen,
  failRoute,
  failed,
  afterClose,
}));
