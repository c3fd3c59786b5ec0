/**
 * The types of the kernel conntrack fast path: what an offload hands to the kernel
 * ({@linkcode OffloadEntry}), what the kernel answers per entry ({@linkcode OffloadResult}),
 * and what dumps and destroy events give back ({@linkcode CtEntry}, {@linkcode CtEvent}).
 *
 * Addresses given to the kernel are numeric text (`198.51.100.2`, `2001:db8::1`) or the 4 or
 * 16 network-order bytes the engine keeps ({@linkcode CtAddress}); addresses read back (dumps,
 * events) are always canonical text. Both ends of one tuple are of the same family. Sequence
 * numbers are unsigned 32-bit values.
 *
 * @module
 */

/** An address: numeric text, or 4 (IPv4) / 16 (IPv6) bytes in network order. */
export type CtAddress = string | Uint8Array;

/** IP protocols the fast path hands to the kernel. */
export type CtProtocol = "tcp" | "udp";

/** One direction of a connection: addresses, ports and protocol, as conntrack keys it. */
export interface CtTuple {
  /** `tcp` or `udp`. */
  protocol: CtProtocol;
  /** Source address (text when read back). */
  src: CtAddress;
  /** Destination address (text when read back). */
  dst: CtAddress;
  /** Source port, 0..65535. */
  srcPort: number;
  /** Destination port, 0..65535. */
  dstPort: number;
}

/** An address and port a NAT rewrites to (the kernel's range with min = max). */
export interface CtNatTarget {
  /** Address, of the tuple's family. */
  address: CtAddress;
  /** Port, 1..65535. */
  port: number;
}

/**
 * The sequence adjustment of one direction (`struct nf_ct_seqadj`). The kernel adds the
 * offset to the sequence numbers this direction's sender writes, and takes it off the
 * acknowledgement numbers and SACK edges of the other direction: `offsetBefore` applies to
 * sequence numbers at or before `correctionPos` (in the sender's own numbering, before the
 * shift), `offsetAfter` to those after it. For FULLNAT's constant delta both offsets are the
 * delta and the position is irrelevant (the client's ISN is a fine choice).
 */
export interface CtSeqAdj {
  /** `correction_pos`, unsigned 32-bit. */
  correctionPos: number;
  /**
   * `offset_before`: 32 bits, given signed or unsigned (RS-side ISN minus client ISN, either
   * wrapped to uint32 or as a signed value: the same bits); read back signed.
   */
  offsetBefore: number;
  /** `offset_after`, as `offsetBefore`. */
  offsetAfter: number;
}

/** The TCP state an offloaded connection starts in (what the handshake showed). */
export interface CtTcpInfo {
  /** Window scale the client announced in its SYN (0..14); 0 when it announced none. */
  wscaleOriginal: number;
  /** Window scale the real server announced in its SYN-ACK (0..14). */
  wscaleReply: number;
  /**
   * Whether both SYNs carried the window scale option. Only then does the kernel apply the
   * two scales (it needs the WINDOW_SCALE flag on both sides); default true.
   */
  windowScale?: boolean;
  /** Whether both SYNs carried SACK-permitted; default true. */
  sackPermitted?: boolean;
}

/**
 * One session handed to the kernel: an entry created in ESTABLISHED (TCP) state, confirmed,
 * with DNAT to the real server, SNAT to the local address and port and, for TCP, liberal
 * window tracking both ways and the session's sequence delta.
 */
export interface OffloadEntry {
  /** Client to virtual service, as the client sends it (`CTA_TUPLE_ORIG`). */
  orig: CtTuple;
  /** The real server the packets go to (`CTA_NAT_DST`). */
  dnat: CtNatTarget;
  /** The local address and port the real server sees (`CTA_NAT_SRC`); omitted for NAT mode. */
  snat?: CtNatTarget;
  /**
   * Client-to-server sequence adjustment (`CTA_SEQ_ADJ_ORIG`): server-side sequence = client
   * sequence + offset; acks and SACK edges from the server are shifted back. TCP only; omit
   * (or zero offsets) for none.
   */
  seqAdjOrig?: CtSeqAdj;
  /** Server-to-client adjustment (`CTA_SEQ_ADJ_REPLY`), rarely needed. TCP only. */
  seqAdjReply?: CtSeqAdj;
  /** TCP handshake facts; required for TCP, ignored for UDP. */
  tcp?: CtTcpInfo;
  /** Seconds until the entry expires unless traffic refreshes it (1..2^31-1). */
  timeout: number;
  /** The conntrack mark (`CTA_MARK`), e.g. the worker or daemon id; unsigned 32-bit. */
  mark: number;
}

/** The kernel's answer to one {@linkcode OffloadEntry} of a batch. */
export interface OffloadResult {
  /** True when the kernel created the entry. */
  ok: boolean;
  /**
   * 0 when created, else the errno: `EEXIST` (17) clash with an existing entry (same
   * original or reply tuple), `ENOMEM` (12) / `ENOSPC` (28) table full or out of memory,
   * `EINVAL` (22) rejected attributes, `EPERM` (1) no CAP_NET_ADMIN. `ETIMEDOUT` (110) when
   * no acknowledgement came back (our receive queue overran, which the default buffers make
   * practically impossible): the entry may exist then; a dump or a delete settles it.
   */
  errno: number;
  /** Short reason: `created`, `exists`, `table-full`, `invalid`, `error`. */
  reason: "created" | "exists" | "table-full" | "invalid" | "error";
}

/** Packet and byte counters of one direction (need `net.netfilter.nf_conntrack_acct=1`). */
export interface CtCounters {
  /** Packets. */
  packets: bigint;
  /** Bytes (IP length). */
  bytes: bigint;
}

/** A tuple read back from the kernel: addresses are canonical text. */
export interface CtTupleText extends CtTuple {
  src: string;
  dst: string;
}

/** A conntrack entry as a dump or an event shows it. */
export interface CtEntry {
  /** Original direction (client to virtual service). */
  orig: CtTupleText;
  /** Reply direction (for FULLNAT: real server to local address). */
  reply: CtTupleText;
  /** `IPS_*` status bits. */
  status: number;
  /** Mark, 0 when none was set. */
  mark: number;
  /** Seconds left (dumps); undefined in destroy events. */
  timeout?: number;
  /** TCP state number (`TCP_CONNTRACK_*`, 3 = ESTABLISHED); undefined when not exported. */
  tcpState?: number;
  /** Counters of the original direction, when accounting was on at creation. */
  countersOrig?: CtCounters;
  /** Counters of the reply direction. */
  countersReply?: CtCounters;
  /** `CTA_SEQ_ADJ_ORIG` when the kernel exports it (only with IPS_SEQ_ADJUST). */
  seqAdjOrig?: CtSeqAdj;
  /** `CTA_SEQ_ADJ_REPLY` when exported. */
  seqAdjReply?: CtSeqAdj;
  /** The kernel's entry id (`CTA_ID`). */
  id?: number;
}

/** A conntrack event from the event socket. */
export interface CtEvent extends CtEntry {
  /** `destroy` (entry gone: deleted, timed out, flushed) or `update`/`new`. */
  type: "new" | "update" | "destroy";
}

/** How the event socket fared (its counters; nothing is reset). */
export interface CtEventCounters {
  /** Events parsed and returned. */
  events: number;
  /** ENOBUFS reports: the receive queue overran and events were lost (reconcile by dump). */
  overruns: number;
  /** Messages that did not parse. */
  malformed: number;
}
