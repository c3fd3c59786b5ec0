/**
 * A fluent builder of crafted IPv4 packets for engine tests:
 *
 * ```ts
 * const syn = ipv4({ src: "198.51.100.2", dst: "198.51.100.10" })
 *   .tcp({ sport: 40000, dport: 80, flags: "S", seq: 1000 })
 *   .mss(1460).sackPermitted().timestamp(1, 0).nop().wscale(7)
 *   .build();
 * ```
 *
 * Lengths, offsets and checksums are computed unless overridden; `badIpChecksum()` and
 * `badL4Checksum()` corrupt a checksum on purpose. Nothing here imports from `src/`: the
 * checksum code is this directory's own, so a shared bug cannot hide.
 *
 * @module
 */

import {
  internetChecksum,
  onesComplementSum,
  pseudoHeaderSum,
  pseudoHeaderSum6,
} from "./inet_checksum.ts";

/** IP protocol numbers used here. */
export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;

/** TCP option kinds. */
export const TCPOPT = {
  EOL: 0,
  NOP: 1,
  MSS: 2,
  WSCALE: 3,
  SACK_PERMITTED: 4,
  SACK: 5,
  TIMESTAMP: 8,
  /** The TOA option (client address to the real server), docs/design.md section 4. */
  TOA: 254,
} as const;

/** IPv4 header fields. */
export interface Ipv4Fields {
  src: string;
  dst: string;
  ttl: number;
  id: number;
  tos: number;
  /** Don't Fragment. */
  df: boolean;
  /** More Fragments. */
  mf: boolean;
  /** The reserved ("evil") flag bit. */
  reservedFlag: boolean;
  /** Fragment offset in 8-byte units. */
  fragOffset: number;
  /** IP options, zero-padded to a multiple of 4 bytes. */
  options: Uint8Array;
  /** Overrides the protocol implied by the transport layer. */
  proto?: number;
  /** Overrides the computed total length. */
  totalLength?: number;
  /** Overrides the computed header length (in 32-bit words). */
  ihl?: number;
  /** Overrides the version nibble (4). */
  version?: number;
  /** Overrides the computed header checksum. */
  checksum?: number;
}

/** TCP header fields. */
export interface TcpFields {
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  /** Letters of `FSRPAUECN` (any order, e.g. "SA", "PA") or the 9-bit value. */
  flags: string | number;
  window: number;
  urgPtr: number;
  /** Overrides the computed data offset (in 32-bit words). */
  dataOffset?: number;
  /** Overrides the computed checksum. */
  checksum?: number;
}

/** UDP header fields. */
export interface UdpFields {
  sport: number;
  dport: number;
  /** Overrides the computed length. */
  length?: number;
  /** Overrides the computed checksum; 0 means "no checksum" as on the wire. */
  checksum?: number;
}

/** ICMP header fields. */
export interface IcmpFields {
  type: number;
  code: number;
  /** The second 32-bit word: id/seq for echo, next-hop MTU for "fragmentation needed". */
  rest: number;
  /** Overrides the computed checksum. */
  checksum?: number;
}

const TCP_FLAG_BITS: Record<string, number> = {
  F: 0x001,
  S: 0x002,
  R: 0x004,
  P: 0x008,
  A: 0x010,
  U: 0x020,
  E: 0x040,
  C: 0x080,
  N: 0x100,
};

/** Turns "SA"-style flag letters into the 9-bit TCP flags value. */
export function tcpFlagsValue(flags: string | number): number {
  if (typeof flags === "number") return flags & 0x1ff;
  let v = 0;
  for (const ch of flags.toUpperCase()) {
    const bit = TCP_FLAG_BITS[ch];
    if (bit === undefined) throw new Error(`unknown TCP flag letter ${ch} in ${flags}`);
    v |= bit;
  }
  return v;
}

/** Parses IPv6 text (`::` shorthand allowed, no dotted tail) into 16 bytes. */
export function parseIpv6(text: string): Uint8Array {
  const halves = text.split("::");
  if (halves.length > 2) throw new Error(`not an IPv6 address: ${text}`);
  const groups = (h: string) => (h === "" ? [] : h.split(":").map((g) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new Error(`not an IPv6 address: ${text}`);
    return parseInt(g, 16);
  }));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) throw new Error(`not an IPv6 address: ${text}`);
  const all = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => put16(out, i * 2, g));
  return out;
}

/** Parses dotted-quad IPv4 text. */
export function parseIpv4(text: string): Uint8Array {
  const parts = text.split(".");
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${text}`);
  return Uint8Array.from(parts, (p) => {
    const n = Number(p);
    if (!/^\d{1,3}$/.test(p) || n > 255) throw new Error(`not an IPv4 address: ${text}`);
    return n;
  });
}

type Transport =
  | { kind: "tcp"; fields: TcpFields }
  | { kind: "udp"; fields: UdpFields }
  | { kind: "icmp"; fields: IcmpFields }
  | { kind: "raw"; proto: number }
  | { kind: "none" };

const TCP_DEFAULTS: TcpFields = {
  sport: 40000,
  dport: 80,
  seq: 0,
  ack: 0,
  flags: "S",
  window: 65535,
  urgPtr: 0,
};

const IP_DEFAULTS: Ipv4Fields = {
  src: "0.0.0.0",
  dst: "0.0.0.0",
  ttl: 64,
  id: 1,
  tos: 0,
  df: false,
  mf: false,
  reservedFlag: false,
  fragOffset: 0,
  options: new Uint8Array(0),
};

/** Flips bits of a checksum so it is wrong yet never the other encoding of zero. */
function corrupt(checksum: number): number {
  return checksum ^ 0x0101;
}

function put16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

function put32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function padTo4(data: Uint8Array, pad = 0): Uint8Array {
  const rem = data.length % 4;
  if (rem === 0) return data;
  const out = new Uint8Array(data.length + 4 - rem).fill(pad);
  out.set(data);
  return out;
}

/** Builds one IPv4 packet; every setter returns the builder, {@linkcode build} the bytes. */
export class PacketBuilder {
  #ip: Ipv4Fields = { ...IP_DEFAULTS };
  /** Set for IPv6 packets: the header fields beyond the addresses (kept in `#ip`). */
  #v6: { hopLimit: number } | undefined;
  #l4: Transport = { kind: "none" };
  #tcpOptions: Uint8Array[] = [];
  #padWithNop = false;
  #payload: Uint8Array = new Uint8Array(0);
  #badIp = false;
  #badL4 = false;

  /** Sets IPv4 header fields (the rest keep their defaults: TTL 64, id 1, no flags). */
  ip(fields: Partial<Ipv4Fields>): this {
    this.#ip = { ...this.#ip, ...fields };
    return this;
  }

  /** Makes the packet TCP (defaults: 40000 -> 80, flags "S", window 65535, seq/ack 0). */
  tcp(fields: Partial<TcpFields> = {}): this {
    this.#l4 = { kind: "tcp", fields: { ...TCP_DEFAULTS, ...fields } };
    return this;
  }

  /** Makes the packet UDP (defaults: 40000 -> 53). */
  udp(fields: Partial<UdpFields> = {}): this {
    this.#l4 = { kind: "udp", fields: { sport: 40000, dport: 53, ...fields } };
    return this;
  }

  /** Makes the packet ICMP (defaults: echo request, rest 0). */
  icmp(fields: Partial<IcmpFields> = {}): this {
    this.#l4 = { kind: "icmp", fields: { type: 8, code: 0, rest: 0, ...fields } };
    return this;
  }

  /** Makes the packet carry protocol `proto` with the payload as its whole body. */
  rawProto(proto: number): this {
    this.#l4 = { kind: "raw", proto };
    return this;
  }

  /** TCP option MSS (kind 2). */
  mss(value: number): this {
    const d = new Uint8Array(2);
    put16(d, 0, value);
    return this.option(TCPOPT.MSS, d);
  }

  /** TCP option window scale (kind 3). */
  wscale(shift: number): this {
    return this.option(TCPOPT.WSCALE, Uint8Array.of(shift));
  }

  /** TCP option SACK-permitted (kind 4). */
  sackPermitted(): this {
    return this.option(TCPOPT.SACK_PERMITTED);
  }

  /** TCP option SACK (kind 5) with `[left, right]` edge pairs. */
  sack(blocks: readonly (readonly [number, number])[]): this {
    const d = new Uint8Array(blocks.length * 8);
    blocks.forEach(([left, right], i) => {
      put32(d, i * 8, left);
      put32(d, i * 8 + 4, right);
    });
    return this.option(TCPOPT.SACK, d);
  }

  /** TCP option timestamp (kind 8). */
  timestamp(value: number, echoReply: number): this {
    const d = new Uint8Array(8);
    put32(d, 0, value);
    put32(d, 4, echoReply);
    return this.option(TCPOPT.TIMESTAMP, d);
  }

  /** IPv6 TOA (kind 254, length 20): client port and IPv6 address. */
  toa6(clientAddr: string, clientPort: number): this {
    const d = new Uint8Array(18);
    put16(d, 0, clientPort);
    d.set(parseIpv6(clientAddr), 2);
    return this.option(TCPOPT.TOA, d);
  }

  /** TOA (kind 254, length 8): client port and IPv4 address, as docs/design.md section 4 describes. */
  toa(clientAddr: string, clientPort: number): this {
    const d = new Uint8Array(6);
    put16(d, 0, clientPort);
    d.set(parseIpv4(clientAddr), 2);
    return this.option(TCPOPT.TOA, d);
  }

  /** `count` NOP options (kind 1, one byte each). */
  nop(count = 1): this {
    for (let i = 0; i < count; i++) this.#tcpOptions.push(Uint8Array.of(TCPOPT.NOP));
    return this;
  }

  /** An end-of-option-list (kind 0, one byte). */
  eol(): this {
    this.#tcpOptions.push(Uint8Array.of(TCPOPT.EOL));
    return this;
  }

  /**
   * Any TCP option as kind, length, data; `length` overrides the length byte (which is
   * otherwise `2 + data.length`) to make malformed options.
   */
  option(kind: number, data: Uint8Array = new Uint8Array(0), length?: number): this {
    const o = new Uint8Array(2 + data.length);
    o[0] = kind;
    o[1] = length ?? 2 + data.length;
    o.set(data, 2);
    this.#tcpOptions.push(o);
    return this;
  }

  /** Raw bytes appended verbatim to the TCP option area. */
  optionBytes(bytes: Uint8Array): this {
    this.#tcpOptions.push(Uint8Array.from(bytes));
    return this;
  }

  /** Pads the option area to a 4-byte boundary with NOPs instead of the default EOL zeros. */
  padOptionsWithNop(): this {
    this.#padWithNop = true;
    return this;
  }

  /** The transport payload (text is UTF-8 encoded). */
  payload(data: Uint8Array | string): this {
    this.#payload = typeof data === "string"
      ? new TextEncoder().encode(data)
      : Uint8Array.from(data);
    return this;
  }

  /** For ICMP errors: quotes (the first `maxBytes` bytes of) another packet as the payload. */
  embed(inner: Uint8Array | PacketBuilder, maxBytes?: number): this {
    const bytes = inner instanceof PacketBuilder ? inner.build() : inner;
    return this.payload(maxBytes === undefined ? bytes : bytes.subarray(0, maxBytes));
  }

  /** Writes a wrong IPv4 header checksum. */
  badIpChecksum(): this {
    this.#badIp = true;
    return this;
  }

  /** Writes a wrong TCP/UDP/ICMP checksum. */
  badL4Checksum(): this {
    this.#badL4 = true;
    return this;
  }

  /** An independent copy, to derive variants of one packet. */
  clone(): PacketBuilder {
    const c = new PacketBuilder();
    c.#ip = { ...this.#ip };
    c.#v6 = this.#v6 && { ...this.#v6 };
    c.#l4 = structuredClone(this.#l4);
    c.#tcpOptions = this.#tcpOptions.map((o) => Uint8Array.from(o));
    c.#padWithNop = this.#padWithNop;
    c.#payload = Uint8Array.from(this.#payload);
    c.#badIp = this.#badIp;
    c.#badL4 = this.#badL4;
    return c;
  }

  /** The TCP option area as it will be written (padded to a multiple of 4 bytes). */
  tcpOptionBytes(): Uint8Array {
    return padTo4(concat(this.#tcpOptions), this.#padWithNop ? TCPOPT.NOP : TCPOPT.EOL);
  }

  /** Makes this an IPv6 packet from `src` to `dst` (used by {@linkcode ipv6}). */
  v6(src: string, dst: string, hopLimit: number): this {
    this.#ip = { ...this.#ip, src, dst };
    this.#v6 = { hopLimit };
    return this;
  }

  /** Serializes the packet. */
  build(): Uint8Array {
    if (this.#v6) return this.#build6();
    const ip = this.#ip;
    const src = parseIpv4(ip.src);
    const dst = parseIpv4(ip.dst);
    if (this.#tcpOptions.length > 0 && this.#l4.kind !== "tcp") {
      throw new Error("TCP options given but the packet is not TCP");
    }
    const { proto, segment } = this.#buildTransport(src, dst);

    const ipOptions = padTo4(ip.options);
    if (ipOptions.length > 40) throw new Error("IPv4 options longer than 40 bytes");
    const hlen = 20 + ipOptions.length;
    const pkt = new Uint8Array(hlen + segment.length);
    pkt[0] = ((ip.version ?? 4) << 4) | ((ip.ihl ?? hlen / 4) & 0x0f);
    pkt[1] = ip.tos;
    put16(pkt, 2, ip.totalLength ?? pkt.length);
    put16(pkt, 4, ip.id);
    const flags = (ip.reservedFlag ? 0x8000 : 0) | (ip.df ? 0x4000 : 0) | (ip.mf ? 0x2000 : 0);
    put16(pkt, 6, flags | (ip.fragOffset & 0x1fff));
    pkt[8] = ip.ttl;
    pkt[9] = ip.proto ?? proto;
    pkt.set(src, 12);
    pkt.set(dst, 16);
    pkt.set(ipOptions, 20);
    let csum = ip.checksum ?? internetChecksum(pkt.subarray(0, hlen));
    if (this.#badIp) csum = corrupt(csum);
    put16(pkt, 10, csum);
    pkt.set(segment, hlen);
    return pkt;
  }

  #build6(): Uint8Array {
    const src = parseIpv6(this.#ip.src);
    const dst = parseIpv6(this.#ip.dst);
    const { proto, segment } = this.#buildTransport(src, dst);
    const pkt = new Uint8Array(40 + segment.length);
    put32(pkt, 0, 0x60000000);
    put16(pkt, 4, segment.length);
    pkt[6] = this.#ip.proto ?? proto;
    pkt[7] = this.#v6!.hopLimit;
    pkt.set(src, 8);
    pkt.set(dst, 24);
    pkt.set(segment, 40);
    return pkt;
  }

  /** The pseudo-header sum for this packet's family. */
  #pseudo(src: Uint8Array, dst: Uint8Array, proto: number, length: number): number {
    return this.#v6
      ? pseudoHeaderSum6(src, dst, proto, length)
      : pseudoHeaderSum(src, dst, proto, length);
  }

  #buildTransport(src: Uint8Array, dst: Uint8Array): { proto: number; segment: Uint8Array } {
    const l4 = this.#l4;
    const payload = this.#payload;
    switch (l4.kind) {
      case "none":
      case "raw":
        return { proto: l4.kind === "raw" ? l4.proto : 255, segment: payload };
      case "tcp": {
        const f = l4.fields;
        const opts = this.tcpOptionBytes();
        if (opts.length > 40) throw new Error(`TCP options take ${opts.length} bytes (max 40)`);
        const hlen = 20 + opts.length;
        const seg = new Uint8Array(hlen + payload.length);
        put16(seg, 0, f.sport);
        put16(seg, 2, f.dport);
        put32(seg, 4, f.seq >>> 0);
        put32(seg, 8, f.ack >>> 0);
        const fl = tcpFlagsValue(f.flags);
        seg[12] = (((f.dataOffset ?? hlen / 4) & 0x0f) << 4) | (fl >>> 8);
        seg[13] = fl & 0xff;
        put16(seg, 14, f.window);
        put16(seg, 18, f.urgPtr);
        seg.set(opts, 20);
        seg.set(payload, hlen);
        this.#setL4Checksum(
          seg,
          16,
          f.checksum,
          this.#pseudo(src, dst, IPPROTO.TCP, seg.length),
        );
        return { proto: IPPROTO.TCP, segment: seg };
      }
      case "udp": {
        const f = l4.fields;
        const seg = new Uint8Array(8 + payload.length);
        put16(seg, 0, f.sport);
        put16(seg, 2, f.dport);
        put16(seg, 4, f.length ?? seg.length);
        seg.set(payload, 8);
        let computed = internetChecksum(
          seg,
          this.#pseudo(src, dst, IPPROTO.UDP, seg.length),
        );
        // On the wire a computed zero is sent as all ones; zero means "no checksum".
        if (computed === 0) computed = 0xffff;
        let csum = f.checksum ?? computed;
        if (this.#badL4) csum = corrupt(csum);
        put16(seg, 6, csum);
        return { proto: IPPROTO.UDP, segment: seg };
      }
      case "icmp": {
        const f = l4.fields;
        const seg = new Uint8Array(8 + payload.length);
        seg[0] = f.type;
        seg[1] = f.code;
        put32(seg, 4, f.rest >>> 0);
        seg.set(payload, 8);
        if (this.#v6) {
          const sum = pseudoHeaderSum6(src, dst, IPPROTO.ICMPV6, seg.length);
          this.#setL4Checksum(seg, 2, f.checksum, sum);
          return { proto: IPPROTO.ICMPV6, segment: seg };
        }
        this.#setL4Checksum(seg, 2, f.checksum, 0);
        return { proto: IPPROTO.ICMP, segment: seg };
      }
    }
  }

  #setL4Checksum(seg: Uint8Array, at: number, override: number | undefined, sum: number): void {
    let csum = override ?? internetChecksum(seg, sum);
    if (this.#badL4) csum = corrupt(csum);
    put16(seg, at, csum);
  }
}

/** Starts an IPv6 packet (ICMP layers become ICMPv6). */
export function ipv6(fields: { src: string; dst: string; hopLimit?: number }): PacketBuilder {
  return new PacketBuilder().v6(fields.src, fields.dst, fields.hopLimit ?? 64);
}

/** Starts a packet with the given IPv4 header fields. */
export function ipv4(fields: Partial<Ipv4Fields> = {}): PacketBuilder {
  return new PacketBuilder().ip(fields);
}

/** Whether the IPv4 header checksum of `pkt` verifies (own code, for quick asserts). */
export function ipv4ChecksumValid(pkt: Uint8Array): boolean {
  const hlen = (pkt[0] & 0x0f) * 4;
  return onesComplementSum(pkt.subarray(0, hlen)) === 0xffff;
}
