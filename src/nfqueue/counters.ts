/**
 * The queue loop's own counters.
 *
 * @module
 */

/** Counters of one queue, updated in place by the loop (copy them to keep a snapshot). */
export interface NfQueueCounters {
  /** Packet messages received. */
  received: number;
  /** Receive calls that returned at least one message. */
  batches: number;
  /** Packets let through unchanged. */
  accepted: number;
  /** Packets let through with rewritten bytes. */
  rewritten: number;
  /** Packets let through unchanged with a new mark (DR). */
  marked: number;
  /** Packets dropped. */
  dropped: number;
  /** Receive calls that failed other than by timing out or finding nothing to read. */
  recvErrors: number;
  /** `sendto` calls of verdicts that failed (their packets stay queued in the kernel). */
  sendErrors: number;
  /** ENOBUFS seen on receive: the socket's receive queue overran and messages were lost. */
  enobufs: number;
  /** Netlink messages or attributes that did not parse, and datagrams cut short. */
  malformed: number;
  /** Packets whose payload was shorter than the packet (or absent); accepted unchanged. */
  truncated: number;
  /** Handler calls that threw or returned something invalid; the packet was accepted unchanged. */
  handlerErrors: number;
  /** Error replies from the kernel to verdicts (e.g. ENOENT: unknown packet id). */
  verdictErrors: number;
  /** Times the loop waited for packets on a helper thread (event-loop yields). */
  waits: number;
  /** Packets the kernel flagged as GSO super-packets (`NFQA_SKB_GSO`, larger than the MTU). */
  gsoPackets: number;
  /** Longest packet received so far, in bytes (a gauge, not a count). */
  largestPacket: number;
  /**
   * Rewritten packets whose TCP/UDP checksum was still pending (`NFQA_SKB_CSUMNOTREADY`) and
   * got a full checksum before the verdict.
   */
  checksumsCompleted: number;
  /**
   * Rewritten packets with a pending checksum that were not completed (no longer TCP/UDP, a
   * fragment, inconsistent lengths); sent back as the handler left them. Includes packets
   * the handler replaced by an ICMP error, whose checksum it writes in full itself.
   */
  checksumsNotCompleted: number;
}

/** All counters at zero. */
export function newCounters(): NfQueueCounters {
  return {
    received: 0,
    batches: 0,
    accepted: 0,
    rewritten: 0,
    marked: 0,
    dropped: 0,
    recvErrors: 0,
    sendErrors: 0,
    enobufs: 0,
    malformed: 0,
    truncated: 0,
    handlerErrors: 0,
    verdictErrors: 0,
    waits: 0,
    gsoPackets: 0,
    largestPacket: 0,
    checksumsCompleted: 0,
    checksumsNotCompleted: 0,
  };
}
