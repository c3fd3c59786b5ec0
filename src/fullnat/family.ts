/**
 * The address-family abstraction: everything that differs between IPv4 and IPv6 (header
 * layout, address width, header checksum, where the session keeps its addresses, ICMP
 * flavour), behind one interface, so that the protocol handlers, transmit modes, TOA, resets
 * and ICMP translation are each written once. The engine picks the family from the version
 * nibble once per packet; a call site that only ever sees IPv4 stays monomorphic, so IPv4
 * pays no family branch (bench/engine_bench.ts).
 *
 * Implementations: {@linkcode INET} in `family_ipv4.ts`, {@linkcode INET6} in `family_ipv6.ts`.
 *
 * @module
 */
import type { Registry } from "./registry.ts";
import type { LocalAddress, RealServer, Service } from "./service.ts";
import type { SessionTable } from "./session_table.ts";

/**
 * The four addresses of a session, in the order the table keeps IPv6 ones
 * (`A6.X === Slot.X * 4`): client, virtual, local, real server (destination).
 */
export const Slot = { C: 0, V: 1, L: 2, D: 3 } as const;
/** One of the {@linkcode Slot} values. */
export type Slot = typeof Slot[keyof typeof Slot];

/** Where a packet's transport header lies; filled by {@linkcode AddressFamily.parse}. */
export interface PacketView {
  /** Transport protocol. */
  proto: number;
  /** Offset of the transport header. */
  l4: number;
  /** One past the last byte of the packet (per its IP length fields). */
  end: number;
  /** The packet is a fragment (the engine never reassembles: diverted traffic is NOTRACK). */
  fragment: boolean;
}

/** Where the quoted datagram of an ICMP error lies, once `readQuote` accepted it. */
export interface QuoteView {
  /** Offset of the quoted IP header. */
  ip: number;
  /** Offset of the quoted transport header. */
  l4: number;
  /** One past the last byte of the message. */
  end: number;
}

/**
 * What the engine needs to know about one IP version. Packets are `b` with the IP header at
 * `o` (or `ip` for a quoted header); sessions are ids of a {@linkcode SessionTable}, their
 * addresses named by {@linkcode Slot}. No method allocates.
 */
export interface AddressFamily {
  /** "ipv4" or "ipv6", for messages. */
  readonly name: "ipv4" | "ipv6";
  /** The ICMP protocol of this family (1 or 58). */
  readonly icmpProto: number;
  /** Length of the TOA option (8 or 20, as `net/toa/toa.c` reads it), by which the MSS is clamped. */
  readonly toaLength: number;
  /** Length of the header {@linkcode writeHeader} writes. */
  readonly headerLength: number;
  /** A UDP checksum of zero means "none" in IPv4; in IPv6 the checksum is mandatory. */
  readonly udpChecksumOptional: boolean;

  /** Checks the packet of `len` bytes at `o` and fills `v`; false when it is malformed. */
  parse(b: Uint8Array, o: number, len: number, v: PacketView): boolean;
  /** The session entry (id * 2 + direction) the packet's tuple hits, or `NO_SESSION`. */
  lookup(
    t: SessionTable,
    b: Uint8Array,
    o: number,
    proto: number,
    sport: number,
    dport: number,
  ): number;
  /** The live service for the packet's destination address and port, if any. */
  service(r: Registry, b: Uint8Array, o: number, proto: number, dport: number): Service | undefined;
  /** True when the packet's destination is the address of a live service. */
  isVip(r: Registry, b: Uint8Array, o: number): boolean;
  /**
   * Writes the packet's source (the client) as four words into `out[0, 4)`: an IPv6 address
   * whole, an IPv4 one in the first word and zeros after it (a persistence template's key).
   */
  clientWords(b: Uint8Array, o: number, out: Uint32Array): void;
  /** The scheduler hash of the packet's source address, every bit of it (sh, mh). */
  sourceHash(b: Uint8Array, o: number): number;
  /** The scheduler hash of the packet's destination address, every bit of it (dh). */
  destHash(b: Uint8Array, o: number): number;
  /** True when `rs` has an address of this family. */
  serves(rs: RealServer): boolean;
  /** True when a session of `proto` already runs from `rs` to `la`:`lport` (seed 4.5, `local_address.ts`). */
  localTaken(
    t: SessionTable,
    proto: number,
    rs: RealServer,
    la: LocalAddress,
    lport: number,
  ): boolean;
  /** True when a session of `proto` already runs from `rs` to the packet's source:`cport`. */
  clientTaken(
    t: SessionTable,
    proto: number,
    rs: RealServer,
    b: Uint8Array,
    o: number,
    cport: number,
  ): boolean;
  /**
   * Creates the session of the packet (client = its source, virtual = its destination) to
   * `rs`, from `la`:`lport`, or from the client itself when `la` is undefined (NAT, seed 4.1).
   * Returns the id or `NO_SESSION` when the table is full.
   */
  insert(
    t: SessionTable,
    proto: number,
    b: Uint8Array,
    o: number,
    cport: number,
    vport: number,
    la: LocalAddress | undefined,
    lport: number,
    rs: RealServer,
  ): number;

  /**
   * Indexes session `id` under its in- and out-tuple, from the addresses and ports stored in
   * the table (a new session, or one found in memory that outlived the process).
   */
  relink(t: SessionTable, id: number): void;

  /** Sum of the 16-bit words of the source and destination address of the header at `ip`. */
  sumAddrs(b: Uint8Array, ip: number): number;
  /**
   * Writes session `id`'s `src` and `dst` addresses as those of the header at `ip`, checksum
   * untouched; returns the sum of their words.
   */
  writeAddrs(b: Uint8Array, ip: number, t: SessionTable, id: number, src: Slot, dst: Slot): number;
  /** Writes one address of session `id` at `at` (the TOA's address field). */
  writeAddr(b: Uint8Array, at: number, t: SessionTable, id: number, slot: Slot): void;
  /** Updates the header checksum for address words summing `oldSum` before, `newSum` after. */
  adjustHeader(b: Uint8Array, ip: number, oldSum: number, newSum: number): void;
  /** Recomputes the header checksum from scratch (none in IPv6). */
  fillHeaderChecksum(b: Uint8Array, ip: number): void;
  /** Sets the length fields of the packet at `o` from `total` bytes to `newTotal`. */
  setLength(b: Uint8Array, o: number, total: number, newTotal: number): void;
  /** True when routers may not fragment the packet (always in IPv6). */
  dontFragment(b: Uint8Array, o: number): boolean;
  /** Swaps the packet's source and destination addresses, checksum untouched. */
  swapAddrs(b: Uint8Array, o: number): void;
  /**
   * Writes a fresh header (addresses already in place) for `l4Length` bytes of `proto`,
   * header checksum included; returns the transport pseudo-header sum.
   */
  writeHeader(b: Uint8Array, o: number, proto: number, l4Length: number): number;

  /** The new ISN of session `id` (RFC 6528 over local and real-server endpoints; seed 4.6). */
  isn(secret: Uint32Array, t: SessionTable, id: number, ticks: number): number;

  /** True for the ICMP error types the engine translates (seed 4.7). */
  isTranslatedError(type: number): boolean;
  /** Checks that the error at `icmp` quotes a datagram with its ports and fills `q`. */
  readQuote(b: Uint8Array, icmp: number, end: number, q: QuoteView): boolean;
  /** The transport protocol of the quoted datagram. */
  quoteProto(b: Uint8Array, q: QuoteView): number;
  /** The session entry of the packet that answers the quoted one (its reverse), or `NO_SESSION`. */
  lookupQuote(t: SessionTable, b: Uint8Array, q: QuoteView, proto: number): number;
  /** Lowers the MTU an error at `icmp` announces ("need to fragment", "too big") by `by`. */
  shrinkMtu(b: Uint8Array, icmp: number, by: number): void;
  /** Fixes the outer header's and the ICMP message's checksums after a translation. */
  finishIcmp(b: Uint8Array, o: number, icmp: number, end: number): void;
  /**
   * Replaces the packet at `o` (transport at `l4`) with the "too big" error a router would send
   * from session `id`'s virtual address to its client, announcing `mtu`; returns its length.
   */
  writeTooBig(
    b: Uint8Array,
    o: number,
    l4: number,
    t: SessionTable,
    id: number,
    mtu: number,
  ): number;
}
