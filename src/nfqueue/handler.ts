/**
 * The contract between the queue loop and whatever decides about packets (the FULLNAT
 * engine in production, small stand-ins in tests and benchmarks).
 *
 * @module
 */

import type { Verdict } from "../fullnat/types.ts";

/** Decides about one packet at a time; called synchronously by the queue loop. */
export interface PacketHandler {
  /** Sees the IP packet at buf[off, off+len); may rewrite it in place using up to `cap` bytes from off (cap >= len + 128 is guaranteed). Must not throw for bad packets, but the loop guards anyway. */
  handle(buf: Uint8Array, off: number, len: number, cap: number): Verdict;
  /** After handle() returned Verdict.Rewritten: the new length of the packet at off. */
  readonly outLength: number;
}
