/**
 * The contract between the queue loop and whatever decides about packets (the FULLNAT
 * engine in production, small stand-ins in tests and benchmarks): the verdict, the handler,
 * and the sink for packets a handler originates itself.
 *
 * @module
 */

/** What the queue loop does with a packet after the handler has seen it. */
export const Verdict = {
  /** Let the packet continue unchanged (no payload in the verdict). */
  Accept: 0,
  /** Let the packet continue with the bytes the handler rewrote (`outLength` bytes). */
  Rewritten: 1,
  /** Drop the packet; the handler has counted why. */
  Drop: 2,
  /**
   * Let the packet continue unchanged with the mark `outMark` (`NFQA_MARK`), for a policy
   * route that takes it on (DR).
   */
  Marked: 3,
} as const;
/** One of the {@linkcode Verdict} values. */
export type Verdict = typeof Verdict[keyof typeof Verdict];

/**
 * Where a handler hands packets it originates itself (the engine's RSTs to both ends when an
 * ESTABLISHED session expires): a complete IP packet at `b[o, o+len)`, valid only during the
 * call. The daemon sends it through a raw socket.
 */
export type PacketSink = (b: Uint8Array, o: number, len: number) => void;

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
  /** After handle() returned Verdict.Marked: the packet's new mark (handlers that mark only). */
  readonly outMark?: number;
  /**
   * After handle() returned Verdict.Rewritten: the length of the headers the handler put in
   * front of the packet it was given (a tunnel), else 0 or absent. A pending checksum is then
   * completed in the packet behind them, and the encapsulation's own checksum (UDP, GRE)
   * refreshed over it.
   */
  readonly outInner?: number;
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
