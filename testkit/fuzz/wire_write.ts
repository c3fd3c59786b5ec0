/**
 * Raw packet writers for the fuzzer: IPv4 (with options, fragment bits) and IPv6 (with
 * hop-by-hop, destination-options and fragment headers) around TCP, UDP, ICMP or any payload,
 * written straight into a scratch buffer from address bytes. `testkit/packet_builder.ts`
 * builds from text and allocates per packet; millions of packets need this instead. Lengths
 * are right when written; checksums are left to `packet_check.ts`'s `repair`.
 *
 * @module
 */
import type { Prng } from "./prng.ts";

/** IPv6 extension headers the writer can put before the transport. */
export const EXT = { HOP_BY_HOP: 0, ROUTING: 43, FRAGMENT: 44, DEST_OPTS: 60 } as const;

/** IP header choices beyond addresses and protocol. */
export interface IpShape {
  /** IPv4 option bytes (a multiple of 4, at most 40). */
  ipOptions: number;
  df: boolean;
  mf: boolean;
  /** Fragment offset in 8-byte units (IPv4 header or IPv6 fragment header). */
  fragOffset: number;
  /** IPv6 extension headers in order (8 bytes each). */
  ext: readonly number[];
  ttl: number;
}

/** An unfragmented packet with DF and no options. */
export const PLAIN: IpShape = {
  ipOptions: 0,
  df: true,
  mf: false,
  fragOffset: 0,
  ext: [],
  ttl: 61,
};

export function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

export function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

export function get16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

export function get32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/**
 * Writes an IP header at `b[0]` for a transport of `l4Length` bytes; returns where the
 * transport starts. IPv6 extension headers are 8 bytes each (PadN filled, or a fragment
 * header); IPv4 options are NOPs ending in an end-of-list.
 */
export function writeIp(
  b: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
  proto: number,
  l4Length: number,
  shape: IpShape,
  rng: Prng,
): number {
  if (src.length === 4) {
    const hl = 20 + shape.ipOptions;
    b[0] = 0x40 | (hl >>> 2);
    b[1] = 0;
    put16(b, 2, hl + l4Length);
    put16(b, 4, rng.int(0x10000));
    put16(b, 6, (shape.df ? 0x4000 : 0) | (shape.mf ? 0x2000 : 0) | (shape.fragOffset & 0x1fff));
    b[8] = shape.ttl;
    b[9] = proto;
    put16(b, 10, 0);
    b.set(src, 12);
    b.set(dst, 16);
    if (shape.ipOptions > 0) {
      b.fill(1, 20, hl - 1);
      b[hl - 1] = 0;
    }
    return hl;
  }
  const extLength = shape.ext.length * 8;
  put32(b, 0, 0x60000000 | rng.int(0x100000));
  put16(b, 4, extLength + l4Length);
  b[6] = shape.ext.length > 0 ? shape.ext[0] : proto;
  b[7] = shape.ttl;
  b.set(src, 8);
  b.set(dst, 24);
  let at = 40;
  for (let i = 0; i < shape.ext.length; i++) {
    const kind = shape.ext[i];
    b[at] = i + 1 < shape.ext.length ? shape.ext[i + 1] : proto;
    b[at + 1] = 0;
    if (kind === EXT.FRAGMENT) {
      put16(b, at + 2, ((shape.fragOffset & 0x1fff) << 3) | (shape.mf ? 1 : 0));
      put32(b, at + 4, rng.next());
    } else if (kind === EXT.ROUTING) {
      // Type 0 with no segments left: nothing for a router to act on.
      b.fill(0, at + 2, at + 8);
    } else {
      b[at + 2] = 1; // PadN
      b[at + 3] = 4;
      b.fill(0, at + 4, at + 8);
    }
    at += 8;
  }
  return at;
}

/** TCP option kinds the generator uses. */
export const OPT = { EOL: 0, NOP: 1, MSS: 2, WS: 3, SACK_OK: 4, SACK: 5, TS: 8, TOA: 254 } as const;

/**
 * A TCP option list of up to 40 bytes at `b[at]`, padded to 4 bytes; returns its length. A
 * SYN's usual options, SACK blocks, a client-forged TOA, unknown kinds, in random order.
 */
export function writeTcpOptions(
  b: Uint8Array,
  at: number,
  rng: Prng,
  syn: boolean,
  v6: boolean,
  sackBase: number,
): number {
  let n = 0;
  const room = (k: number) => n + k <= 40;
  const count = rng.int(syn ? 6 : 3);
  for (let i = 0; i < count; i++) {
    switch (rng.int(syn ? 8 : 5)) {
      case 0:
        if (room(1)) b[at + n++] = OPT.NOP;
        break;
      case 1:
        if (room(10)) {
          b[at + n] = OPT.TS;
          b[at + n + 1] = 10;
          put32(b, at + n + 2, rng.next());
          put32(b, at + n + 6, syn ? 0 : rng.next());
          n += 10;
        }
        break;
      case 2: {
        const blocks = rng.range(1, 4);
        if (room(2 + blocks * 8)) {
          b[at + n] = OPT.SACK;
          b[at + n + 1] = 2 + blocks * 8;
          for (let k = 0; k < blocks; k++) {
            const left = (sackBase + rng.int(100000)) >>> 0;
            put32(b, at + n + 2 + k * 8, left);
            put32(b, at + n + 6 + k * 8, (left + rng.int(3000)) >>> 0);
          }
          n += 2 + blocks * 8;
        }
        break;
      }
      case 3: {
        // A TOA forged by the client (the engine must blank it), either family's length.
        const l = rng.chance(0.5) ? 8 : 20;
        if (room(l)) {
          b[at + n] = OPT.TOA;
          b[at + n + 1] = v6 && rng.chance(0.8) ? 20 : l;
          rng.fill(b, at + n + 2, at + n + l);
          n += l;
        }
        break;
      }
      case 4: {
        const l = rng.range(2, 8);
        if (room(l)) {
          b[at + n] = rng.range(9, 253);
          b[at + n + 1] = l;
          rng.fill(b, at + n + 2, at + n + l);
          n += l;
        }
        break;
      }
      case 5:
        if (room(4)) {
          b[at + n] = OPT.MSS;
          b[at + n + 1] = 4;
          put16(b, at + n + 2, rng.pick([1460, 1440, 536, 9000, 65535, 0, 1]));
          n += 4;
        }
        break;
      case 6:
        if (room(3)) {
          b[at + n] = OPT.WS;
          b[at + n + 1] = 3;
          b[at + n + 2] = rng.int(16);
          n += 3;
        }
        break;
      default:
        if (room(2)) {
          b[at + n] = OPT.SACK_OK;
          b[at + n + 1] = 2;
          n += 2;
        }
    }
  }
  const pad = rng.chance(0.5) ? OPT.NOP : OPT.EOL;
  while (n % 4 !== 0) b[at + n++] = pad;
  return n;
}

/**
 * A TCP header at `b[l4]` with `optLength` option bytes already at `l4 + 20` and
 * `payload` random bytes after them; returns the segment's length.
 */
export function writeTcp(
  b: Uint8Array,
  l4: number,
  sport: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
  optLength: number,
  payload: number,
  rng: Prng,
): number {
  put16(b, l4, sport);
  put16(b, l4 + 2, dport);
  put32(b, l4 + 4, seq >>> 0);
  put32(b, l4 + 8, ack >>> 0);
  b[l4 + 12] = ((20 + optLength) >>> 2) << 4;
  b[l4 + 13] = flags;
  put16(b, l4 + 14, rng.pick([65535, 29200, 512, 0]));
  put16(b, l4 + 16, 0);
  put16(b, l4 + 18, 0);
  const start = l4 + 20 + optLength;
  rng.fill(b, start, start + payload);
  return 20 + optLength + payload;
}

/** A UDP header and `payload` random bytes at `b[l4]`; returns the datagram's length. */
export function writeUdp(
  b: Uint8Array,
  l4: number,
  sport: number,
  dport: number,
  payload: number,
  rng: Prng,
): number {
  put16(b, l4, sport);
  put16(b, l4 + 2, dport);
  put16(b, l4 + 4, 8 + payload);
  put16(b, l4 + 6, 0xffff); // replaced by repair; 0 would mean "no checksum" (IPv4)
  rng.fill(b, l4 + 8, l4 + 8 + payload);
  return 8 + payload;
}
