/**
 * The shim's saved-SYN parser (rs/src/toa.c), called through Deno FFI on SYNs crafted by the
 * tests' own packet builder, which shares no code with the C side.
 */
import assert from "node:assert/strict";
import { ipv4, type PacketBuilder } from "../../../testkit/packet_builder.ts";
import { buildShim, toaOption } from "../../../testkit/toa_support.ts";

const lib = Deno.dlopen(await buildShim(), {
  fullnat_toa_parse_syn: { parameters: ["buffer", "usize", "buffer"], result: "i32" },
});

const TOA_V4 = 4, TOA_V6 = 6, NONE = 0;
const ERR_IP = -1, ERR_NOT_TCP = -2, ERR_TCP = -3, ERR_OPTIONS = -4, ERR_ZERO = -5;

interface Parsed {
  result: number;
  port?: number;
  addr?: string;
}

function parse(syn: Uint8Array): Parsed {
  const out = new Uint8Array(18);
  const result = lib.symbols.fullnat_toa_parse_syn(
    syn as Uint8Array<ArrayBuffer>,
    BigInt(syn.length),
    out,
  );
  if (result === TOA_V4) {
    return { result, port: (out[0] << 8) | out[1], addr: Array.from(out.slice(2, 6)).join(".") };
  }
  if (result === TOA_V6) {
    const groups = [];
    for (let i = 2; i < 18; i += 2) groups.push(((out[i] << 8) | out[i + 1]).toString(16));
    return { result, port: (out[0] << 8) | out[1], addr: groups.join(":") };
  }
  return { result };
}

/** The kernel saves IP and TCP headers only; a SYN has no payload anyway. */
function syn(): PacketBuilder {
  return ipv4({ src: "203.0.113.201", dst: "203.0.113.11" })
    .tcp({ sport: 40001, dport: 80, flags: "S", seq: 1 });
}

function hexToBytes(h: string): Uint8Array {
  return Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));
}

/** The IPv4 SYN's TCP part behind a 40-byte IPv6 header (plus extension headers). */
function asIpv6(v4: Uint8Array, ext: Uint8Array = new Uint8Array(0), firstNext = 6): Uint8Array {
  const tcp = v4.subarray((v4[0] & 0x0f) * 4);
  const h = new Uint8Array(40 + ext.length + tcp.length);
  h[0] = 0x60;
  h[4] = (ext.length + tcp.length) >> 8;
  h[5] = (ext.length + tcp.length) & 0xff;
  h[6] = firstNext;
  h[7] = 64;
  h[8] = 0x20; // source 2001:db8:b::201
  h[9] = 0x01;
  h[10] = 0x0d;
  h[11] = 0xb8;
  h[13] = 0x0b;
  h[22] = 0x02;
  h[23] = 0x01;
  h.set(ext, 40);
  h.set(tcp, 40 + ext.length);
  return h;
}

Deno.test("toa_from_syn() reads an IPv4 TOA right after the fixed TCP header", () => {
  const p = syn().toa("198.51.100.2", 51234).mss(1452).sackPermitted().build();
  assert.deepEqual(parse(p), { result: TOA_V4, port: 51234, addr: "198.51.100.2" });
});

Deno.test("toa_from_syn() finds the TOA behind other options and NOPs", () => {
  const p = syn().mss(1460).nop().wscale(7).sackPermitted().nop(2).toa("192.0.2.77", 1).build();
  assert.deepEqual(parse(p), { result: TOA_V4, port: 1, addr: "192.0.2.77" });
});

Deno.test("toa_from_syn() reads an IPv6 TOA (length 20)", () => {
  const [, value] = toaOption("2001:db8:a::2", 443);
  const p = syn().option(254, hexToBytes(value)).mss(1440).build();
  assert.deepEqual(parse(p), { result: TOA_V6, port: 443, addr: "2001:db8:a:0:0:0:0:2" });
});

Deno.test("toa_from_syn() walks IPv6 headers, including hop-by-hop and destination options", () => {
  const v4 = syn().toa("198.51.100.2", 8080).build();
  assert.deepEqual(parse(asIpv6(v4)), { result: TOA_V4, port: 8080, addr: "198.51.100.2" });
  // Hop-by-hop (8 bytes, next: destination options), destination options (16 bytes, next: TCP).
  const ext = new Uint8Array(24);
  ext[0] = 60;
  ext[1] = 0;
  ext[8] = 6;
  ext[9] = 1;
  assert.deepEqual(parse(asIpv6(v4, ext, 0)), {
    result: TOA_V4,
    port: 8080,
    addr: "198.51.100.2",
  });
  // A fragment header (44) cannot precede a whole saved TCP header.
  assert.equal(parse(asIpv6(v4, new Uint8Array(8), 44)).result, ERR_NOT_TCP);
  // An extension header that runs past the end.
  const long = new Uint8Array(8);
  long[1] = 200;
  assert.equal(parse(asIpv6(v4, long, 0)).result, ERR_IP);
});

Deno.test("toa_from_syn() reports no TOA for a plain SYN and skips other kind-254 lengths", () => {
  assert.equal(parse(syn().mss(1460).sackPermitted().build()).result, NONE);
  assert.equal(parse(syn().build()).result, NONE);
  // RFC 6994 experiments share kind 254 (Fast Open's is 254, len 4+cookie): not a TOA.
  const tfo = syn().option(254, Uint8Array.of(0xf9, 0x89, 1, 2, 3, 4, 5, 6, 7, 8)).build();
  assert.equal(parse(tfo).result, NONE);
  const six = syn().option(254, Uint8Array.of(0x1f, 0x90, 10, 0)).build();
  assert.equal(parse(six).result, NONE);
  // Options after an end-of-list are padding, never read.
  const afterEol = syn().eol().toa("198.51.100.2", 80).build();
  assert.equal(parse(afterEol).result, NONE);
});

Deno.test("toa_from_syn() refuses a TOA with port or address zero", () => {
  assert.equal(parse(syn().toa("0.0.0.0", 80).build()).result, ERR_ZERO);
  assert.equal(parse(syn().toa("198.51.100.2", 0).build()).result, ERR_ZERO);
});

Deno.test("toa_from_syn() rejects malformed headers and options instead of guessing", () => {
  // An option whose length runs past the header: nothing in this option area is trusted.
  const overrun = syn().option(2, Uint8Array.of(5, 0xb4), 40).toa("198.51.100.2", 80).build();
  assert.equal(parse(overrun).result, ERR_OPTIONS);
  const zeroLen = syn().option(3, Uint8Array.of(7), 0).toa("198.51.100.2", 80).build();
  assert.equal(parse(zeroLen).result, ERR_OPTIONS);
  // Data offset below 5, or beyond the bytes saved.
  const small = ipv4({ src: "203.0.113.201", dst: "203.0.113.11" })
    .tcp({ sport: 1, dport: 80, flags: "S", dataOffset: 4 }).build();
  assert.equal(parse(small).result, ERR_TCP);
  const full = syn().toa("198.51.100.2", 80).build();
  assert.equal(parse(full.subarray(0, full.length - 4)).result, ERR_TCP);
  // Not TCP, not IP, truncated IP.
  const udp = ipv4({ src: "1.2.3.4", dst: "5.6.7.8" }).udp({ sport: 1, dport: 2 }).build();
  assert.equal(parse(udp).result, ERR_NOT_TCP);
  const v5 = Uint8Array.from(full);
  v5[0] = 0x55;
  assert.equal(parse(v5).result, ERR_IP);
  assert.equal(parse(full.subarray(0, 12)).result, ERR_IP);
  assert.equal(parse(new Uint8Array(0)).result, ERR_IP);
});

Deno.test("toa_from_syn() takes the first valid TOA when several are present", () => {
  const p = syn().toa("198.51.100.2", 1000).toa("192.0.2.9", 2000).build();
  assert.deepEqual(parse(p), { result: TOA_V4, port: 1000, addr: "198.51.100.2" });
});

globalThis.addEventListener("unload", () => lib.close());
