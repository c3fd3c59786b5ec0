/**
 * The contract between the queue loop and whatever decides about packets (the FULLNAT
 * engine in production, small stand-ins in tests and benchmarks).
 *
 * @module
 */

import type { Verdict } from "../fullnat/types.ts";

/** Decides about one packet at a time; called synchronously by the queue loop. */
export interface PacketHandler {
  /**
   * Sees the IP packet at buf[off, off+len); may rewrite it in place using up to `cap` bytes
   * from off (cap >= len + 128 is guaranteed). Must not throw for bad packets, but the loop
   * guards anyway. `skbInfo` carries the kernel's `NFQA_SKB_*` bits: with `NFQA_SKB_GSO` the
   * packet is a GSO super-packet, longer than the MTU by design (the kernel cuts it into
   * MTU-sized segments after the verdict, copying the TCP options into each), so a length
   * check against the MTU must not apply to it. A pending checksum
   * (`NFQA_SKB_CSUMNOTREADY`) is completed by the loop after a rewrite.
   */
  handle(buf: Uint8Array, off: number, len: number, cap: number, skbInfo: number): Verdict;
  /** After handle() returned Verdict.Rewritten: the new length of the packet at off. */
  readonly outLength: number;
}

/**
 * Called by the queue loop around each batch of packets it hands to a handler (`start`
 * before the first packet of a received batch, `end` after its verdicts were sent), for
 * work worth doing once per batch rather than once per packet.
 */
export interface BatchHooks {
  start(): void;
  end(): void;
}
