/**
 * IPv6 header (RFC 8200) offsets, the walk over extension headers to the transport header,
 * and 128-bit addresses held as four big-endian 32-bit words in a `Uint32Array` (so sessions
 * and configuration keep them in typed arrays, and comparing or hashing them allocates
 * nothing).
 *
 * @module
 */
import { get16, get32, set32 } from "./bytes.ts";
import { sumWords } from "./checksum.ts";

/** Byte offsets of IPv6 header fields. */
export const IPV6 = {
  PAYLOAD_LENGTH: 4,
  NEXT_HEADER: 6,
  HOP_LIMIT: 7,
  SRC: 8,
  DST: 24,
  HEADER: 40,
} as const;

/** Extension headers walked over on the way to the transport header. */
const EXT_HOP_BY_HOP = 0;
const EXT_ROUTING = 43;
const EXT_FRAGMENT = 44;
const EXT_DEST_OPTS = 60;

/** Where an IPv6 packet's transport header is; filled by {@linkcode ipv6Walk}. */
export interface Ipv6Walk {
  /** Transport protocol (next header of the last extension header). */
  proto: number;
  /** Offset of the transport header. */
  l4: number;
  /** Offset one past the packet (40 + payload length). */
  end: number;
  /** The packet carries a fragment header. */
  fragment: boolean;
}

/** Why an IPv6 packet cannot be handled. */
export type Ipv6Problem = "short" | "version" | "payload-length" | "extension-header";

/**
 * Checks the IPv6 packet of `len` bytes at `o` and walks its extension headers into `w`.
 * Returns a problem, or `undefined` when `w` holds a sound transport offset.
 */
export function ipv6Walk(
  b: Uint8Array,
  o: number,
  len: number,
  w: Ipv6Walk,
): Ipv6Problem | undefined {
  if (len < IPV6.HEADER) return "short";
  if (b[o] >>> 4 !== 6) return "version";
  const end = o + IPV6.HEADER + get16(b, o + IPV6.PAYLOAD_LENGTH);
  if (end > o + len) return "payload-length";
  let next = b[o + IPV6.NEXT_HEADER];
  let p = o + IPV6.HEADER;
  let fragment = false;
  for (let hops = 0; hops < 8; hops++) {
    if (next === EXT_HOP_BY_HOP || next === EXT_ROUTING || next === EXT_DEST_OPTS) {
      if (p + 8 > end) return "extension-header";
      next = b[p];
      p += (b[p + 1] + 1) << 3;
    } else if (next === EXT_FRAGMENT) {
      if (p + 8 > end) return "extension-header";
      fragment = true;
      next = b[p];
      p += 8;
    } else {
      if (p > end) return "extension-header";
      w.proto = next;
      w.l4 = p;
      w.end = end;
      w.fragment = fragment;
      return undefined;
    }
  }
  return "extension-header";
}

/** Copies the 16-byte address at `b[at]` into `words[off, off+4)`. */
export function readAddr6(b: Uint8Array, at: number, words: Uint32Array, off: number): void {
  words[off] = get32(b, at);
  words[off + 1] = get32(b, at + 4);
  words[off + 2] = get32(b, at + 8);
  words[off + 3] = get32(b, at + 12);
}

/** Writes `words[off, off+4)` as the 16-byte address at `b[at]`. */
export function writeAddr6(b: Uint8Array, at: number, words: Uint32Array, off: number): void {
  set32(b, at, words[off]);
  set32(b, at + 4, words[off + 1]);
  set32(b, at + 8, words[off + 2]);
  set32(b, at + 12, words[off + 3]);
}

/** True when `a[ao, ao+4)` and `c[co, co+4)` hold the same address. */
export function addr6Equal(a: Uint32Array, ao: number, c: Uint32Array, co: number): boolean {
  return a[ao] === c[co] && a[ao + 1] === c[co + 1] && a[ao + 2] === c[co + 2] &&
    a[ao + 3] === c[co + 3];
}

/** Ones'-complement sum of the address `words[off, off+4)`, unfolded. */
export function sumAddr6(words: Uint32Array, off: number): number {
  let s = 0;
  for (let i = off; i < off + 4; i++) s += (words[i] >>> 16) + (words[i] & 0xffff);
  return s;
}

/** Sum of the IPv6 pseudo-header (RFC 8200 8.1) of the packet at `o` for `proto`, `l4Length`. */
export function pseudoSumV6(b: Uint8Array, o: number, proto: number, l4Length: number): number {
  return sumWords(b, o + IPV6.SRC, 32) + (l4Length >>> 16) + (l4Length & 0xffff) + proto;
}

/** Parses IPv6 text (RFC 4291 forms, with an optional dotted IPv4 tail) into four words. */
export function parseIpv6(text: string): Uint32Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.split("::").length > 2) return undefined;
  let groups: number[] = [];
  let tail = text;
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  const v4: number[] = [];
  if (dotted) {
    tail = dotted[1].endsWith("::") ? dotted[1] : dotted[1].slice(0, -1);
    for (const p of dotted[2].split(".")) {
      if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
      v4.push(Number(p));
    }
  }
  const half = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const need = v4.length ? 6 : 8;
  const parts = tail.split("::");
  if (parts.length === 2) {
    const head = half(parts[0]);
    const rest = half(parts[1]);
    if (!head || !rest || head.length + rest.length > need - 1) return undefined;
    groups = [...head, ...new Array<number>(need - head.length - rest.length).fill(0), ...rest];
  } else {
    const all = half(tail);
    if (!all || all.length !== need) return undefined;
    groups = all;
  }
  if (v4.length) groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
  const w = new Uint32Array(4);
  for (let i = 0; i < 4; i++) w[i] = ((groups[2 * i] << 16) | groups[2 * i + 1]) >>> 0;
  return w;
}

/** RFC 5952 text of the address `words[off, off+4)`: lower case, longest zero run as `::`. */
export function formatIpv6(words: Uint32Array, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push(words[off + i] >>> 16, words[off + i] & 0xffff);
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}
