/**
 * The fuzzer's mutations of a packet in its scratch buffer: bit flips, interesting byte
 * values, truncation and trailing bytes, and the lies a header can tell (IPv4 total length
 * and header length, IPv6 payload length and next header, TCP data offset, UDP length,
 * option lengths), bogus option lists, and garbage inside an ICMP error's quote. Each
 * mutation works on the packet's own reading of itself (`packet_check.ts`).
 *
 * @module
 */
import { locate } from "./packet_check.ts";
import type { Prng } from "./prng.ts";
import { put16 } from "./wire_write.ts";

/** Byte values that sit on boundaries. */
const INTERESTING = [
  0,
  1,
  2,
  4,
  5,
  6,
  8,
  0x0f,
  0x10,
  0x1f,
  0x20,
  0x3f,
  0x40,
  0x7f,
  0x80,
  0xfe,
  0xff,
];

/** 16-bit lengths worth lying with, relative to a true length `n` and absolute. */
function lie16(rng: Prng, n: number): number {
  const k = rng.int(6);
  if (k === 0) return 0;
  if (k === 1) return 0xffff;
  if (k === 2) return Math.max(0, n - rng.range(1, 24));
  if (k === 3) return n + rng.range(1, 24);
  if (k === 4) return rng.int(64);
  return rng.int(0x10000);
}

/**
 * Applies one to three mutations to `b[0, len)` (the buffer may hold more); returns the new
 * length, never above `b.length - 64`.
 */
export function mutate(b: Uint8Array, len: number, rng: Prng): number {
  let n = len;
  const rounds = rng.range(1, 3);
  for (let r = 0; r < rounds; r++) n = mutateOnce(b, n, rng);
  return n;
}

function mutateOnce(b: Uint8Array, len: number, rng: Prng): number {
  const at = locate(b, 0, len);
  const k = rng.int(14);
  switch (k) {
    case 0: {
      // Bit flips anywhere.
      const flips = rng.range(1, 4);
      for (let i = 0; i < flips && len > 0; i++) b[rng.int(len)] ^= 1 << rng.int(8);
      return len;
    }
    case 1:
      if (len > 0) b[rng.int(len)] = rng.pick(INTERESTING);
      return len;
    case 2:
      // Truncation: the buffer is shorter than the headers say.
      return rng.int(len + 1);
    case 3: {
      // Trailing bytes past the IP packet's end.
      const extra = Math.min(rng.range(1, 64), b.length - 64 - len);
      rng.fill(b, len, len + extra);
      return len + extra;
    }
    case 4:
      // IPv4 total length / IPv6 payload length.
      if (len >= 6) put16(b, (b[0] >>> 4) === 6 ? 4 : 2, lie16(rng, (b[2] << 8) | b[3]));
      return len;
    case 5:
      // IPv4 header length, or IPv6 next header.
      if (len >= 7) {
        if (b[0] >>> 4 === 4) b[0] = 0x40 | rng.int(16);
        else b[6] = rng.pick([0, 6, 17, 43, 44, 58, 59, 60, rng.int(256)]);
      }
      return len;
    case 6:
      // TCP data offset.
      if (at !== undefined && at.proto === 6 && at.l4 + 13 <= len) {
        b[at.l4 + 12] = (rng.int(16) << 4) | (b[at.l4 + 12] & 15);
      }
      return len;
    case 7:
      // UDP length.
      if (at !== undefined && at.proto === 17 && at.l4 + 6 <= len) {
        put16(b, at.l4 + 4, lie16(rng, at.end - at.l4));
      }
      return len;
    case 8:
      // A bogus TCP option list over the whole option area, with lengths that lie.
      if (at !== undefined && at.proto === 6 && at.l4 + 20 <= len) {
        const hl = (b[at.l4 + 12] >>> 4) << 2;
        const end = Math.min(at.l4 + hl, len);
        for (let i = at.l4 + 20; i < end;) {
          const kind = rng.pick([0, 1, 2, 3, 4, 5, 8, 254, rng.int(256)]);
          b[i++] = kind;
          if (kind > 1 && i < end) b[i++] = rng.pick([0, 1, 2, 3, 4, 8, 10, 18, 20, 34, 40, 255]);
          if (rng.chance(0.3) && i < end) b[i++] = rng.int(256);
        }
      }
      return len;
    case 9:
      // One option's length byte.
      if (at !== undefined && at.proto === 6 && at.l4 + 22 <= len) {
        const hl = (b[at.l4 + 12] >>> 4) << 2;
        if (hl > 21 && at.l4 + hl <= len) b[at.l4 + 21 + rng.int(hl - 21)] = rng.pick(INTERESTING);
      }
      return len;
    case 10:
      // TCP flags.
      if (at !== undefined && at.proto === 6 && at.l4 + 14 <= len) b[at.l4 + 13] = rng.int(256);
      return len;
    case 11:
      // Garbage inside an ICMP error's quote (its lengths, protocol, ports, options).
      if (at !== undefined && (at.proto === 1 || at.proto === 58) && at.l4 + 9 < len) {
        const from = at.l4 + 8;
        const count = rng.range(1, 6);
        for (let i = 0; i < count; i++) {
          const p = from + rng.int(Math.min(len - from, 64));
          b[p] = rng.chance(0.5) ? rng.pick(INTERESTING) : rng.int(256);
        }
      }
      return len;
    case 12:
      // Protocol swapped under the transport header.
      if (len >= 10) {
        if (b[0] >>> 4 === 4) b[9] = rng.pick([1, 6, 17, 4, 41, 47, 58]);
        else if (at !== undefined) b[6] = rng.pick([6, 17, 58, 4, 41]);
      }
      return len;
    default:
      // A random run of bytes.
      if (len > 0) {
        const from = rng.int(len);
        rng.fill(b, from, Math.min(len, from + rng.range(1, 16)));
      }
      return len;
  }
}
