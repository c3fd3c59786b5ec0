/**
 * Turns received netlink datagrams into verdicts: walks the messages of each datagram,
 * calls the handler on each packet in place, and appends the verdict to the
 * {@linkcode VerdictWriter}. No I/O of its own, so it is testable on crafted messages.
 *
 * @module
 */

import { Verdict } from "./handler.ts";
import { SimdChecksum } from "../wire/checksum_simd.ts";
import {
  NFQ_TYPE_PACKET,
  NFQA_SKB_CSUMNOTREADY,
  NFQA_SKB_GSO,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
} from "./constants.ts";
import type { NfQueueCounters } from "./counters.ts";
import type { PacketHandler } from "./handler.ts";
import type { VerdictGather } from "./gather.ts";
import { completeL4Checksum, completeWrapped } from "./l4_checksum.ts";
import { newPacketInfo, nlAlign, type PacketInfo, parsePacketMessage } from "./netlink_parse.ts";
import {
  MAX_VERDICT_PAYLOAD,
  VERDICT_MSG_LEN,
  verdictSize,
  type VerdictWriter,
} from "./verdict_writer.ts";

/** Room the handler is promised after the packet (`cap >= len + HANDLER_HEADROOM`). */
export const HANDLER_HEADROOM = 128;

/**
 * How a rewritten packet whose checksum the kernel left pending gets its full TCP/UDP
 * checksum: `"simd"` (WebAssembly SIMD, the default), `"scalar"` (plain TypeScript, for
 * comparison), or `"off"`: sent back unfixed, which makes the kernel drop it; for
 * measurements and for showing that the fix-up is needed, never for real traffic.
 */
export type FullChecksumMode = "simd" | "scalar" | "off";

/** Options of a {@linkcode BatchProcessor}. */
export interface BatchProcessorOptions {
  /**
   * Sums full checksums; buffers it allocated are summed in place. Default: a new one
   * (its own memory; packets are then copied into it to be summed).
   */
  summer?: SimdChecksum;
  /** Default `"simd"`; see {@linkcode FullChecksumMode}. */
  fullChecksum?: FullChecksumMode;
  /**
   * Where verdicts carrying at least {@linkcode IN_PLACE_MIN_PAYLOAD} bytes go without a copy
   * (their header written in the receive slot; the `flush` callback must then send the
   * writer through this list). Default: none, every payload is copied into the writer.
   */
  gather?: VerdictGather;
}

/**
 * Payloads from this size up are sent from the receive slot rather than copied: below it a
 * copy costs less than the extra region the kernel walks.
 */
export const IN_PLACE_MIN_PAYLOAD = 2048;
/** Verdict bytes one datagram carries at most (the kernel allocates one skb for it). */
export const MAX_DATAGRAM_BYTES = 1 << 20;

/** Bytes a {@linkcode BatchProcessor} allocates from its summer (its scratch packet copy). */
export const PROCESSOR_SCRATCH_BYTES = MAX_VERDICT_PAYLOAD + HANDLER_HEADROOM + 4096;
const SCRATCH_BYTES = PROCESSOR_SCRATCH_BYTES;

/** Processes datagrams found in a receive buffer. */
export class BatchProcessor {
  /** Metadata of the packet being handled; valid during `handle()` only. */
  readonly packet: PacketInfo = newPacketInfo();
  /** errno of the last error the kernel reported for a verdict (0 if none yet). */
  lastVerdictError = 0;
  readonly #scratch: Uint8Array;
  readonly #scratchView: DataView;
  readonly #summer: SimdChecksum | undefined;
  readonly #gather: VerdictGather | undefined;
  /** How much of the writer's buffer is already in the gather list. */
  #writerCut = 0;

  /**
   * @param writer where verdicts go
   * @param counters updated in place
   * @param flush sends and resets the writer; called when it is full mid-batch
   * @param options how full checksums are computed
   */
  constructor(
    readonly writer: VerdictWriter,
    readonly counters: NfQueueCounters,
    readonly flush: () => void,
    options: BatchProcessorOptions = {},
  ) {
    const mode = options.fullChecksum ?? "simd";
    if (mode !== "simd" && mode !== "scalar" && mode !== "off") {
      throw new RangeError(`fullChecksum must be "simd", "scalar" or "off", got ${mode}`);
    }
    let summer = options.summer;
    if (mode === "scalar") summer = new SimdChecksum(SCRATCH_BYTES, { simd: false });
    summer ??= new SimdChecksum(SCRATCH_BYTES);
    this.#summer = mode === "off" ? undefined : summer;
    this.#gather = options.gather;
    // For the (unexpected) case of several packet messages in one datagram: all but the
    // last are handled in this scratch copy, so an in-place rewrite that grows the packet
    // cannot run over the next message.
    this.#scratch = summer.allocate(SCRATCH_BYTES);
    this.#scratchView = new DataView(
      this.#scratch.buffer,
      this.#scratch.byteOffset,
      this.#scratch.byteLength,
    );
  }

  /**
   * Handles the datagram at `buf[start, start + len)`. The handler may use the buffer up to
   * `slotEnd` for in-place rewrites.
   */
  datagram(
    buf: Uint8Array,
    view: DataView,
    start: number,
    len: number,
    slotEnd: number,
    handler: PacketHandler,
  ): void {
    const end = start + len;
    let pos = start;
    while (pos + NLMSG_HDRLEN <= end) {
      const msgLen = view.getUint32(pos, true);
      if (msgLen < NLMSG_HDRLEN) {
        this.counters.malformed++;
        return;
      }
      const type = view.getUint16(pos + 4, true);
      const next = pos + nlAlign(msgLen);
      if (type === NFQ_TYPE_PACKET) {
        if (pos + msgLen > end) {
          // Cut short (the receive slot was too small): still give the packet a verdict.
          this.counters.malformed++;
          this.#packet(buf, view, pos, end - pos, slotEnd, handler);
          return;
        }
        if (next >= end) {
          this.#packet(buf, view, pos, msgLen, slotEnd, handler);
        } else {
          this.#scratch.set(buf.subarray(pos, pos + msgLen), 0);
          this.#packet(
            this.#scratch,
            this.#scratchView,
            0,
            msgLen,
            this.#scratch.length,
            handler,
          );
        }
      } else if (type === NLMSG_ERROR) {
        // An error reply to one of our verdicts (0 would be an acknowledgement).
        if (msgLen >= NLMSG_HDRLEN + 4 && pos + NLMSG_HDRLEN + 4 <= end) {
          const error = view.getInt32(pos + NLMSG_HDRLEN, true);
          if (error !== 0) {
            this.counters.verdictErrors++;
            this.lastVerdictError = -error;
          }
        } else {
          this.counters.malformed++;
        }
      } else if (type === NLMSG_OVERRUN) {
        this.counters.enobufs++;
      } else if (type !== NLMSG_NOOP && type !== NLMSG_DONE) {
        this.counters.malformed++;
      }
      pos = next;
    }
  }

  #packet(
    buf: Uint8Array,
    view: DataView,
    msg: number,
    msgLen: number,
    slotEnd: number,
    handler: PacketHandler,
  ): void {
    const counters = this.counters;
    const info = this.packet;
    if (!parsePacketMessage(view, msg, msgLen, info)) {
      counters.malformed++;
      return;
    }
    counters.received++;
    const writer = this.writer;
    const off = info.payloadOffset;
    const len = info.payloadLength;
    const skbInfo = info.skbInfo;
    if ((skbInfo & NFQA_SKB_GSO) !== 0) counters.gsoPackets++;
    if (len > counters.largestPacket) counters.largestPacket = len;
    if (off < 0 || len === 0 || info.capLen > len) {
      // The handler must never see a partial packet, and a verdict with a short payload
      // would cut the packet in the kernel: let it pass unchanged.
      counters.truncated++;
      this.#accept(info.id);
      return;
    }
    const cap = slotEnd - off;
    let verdict: number;
    try {
      verdict = handler.handle(buf, off, len, cap, skbInfo);
    } catch {
      counters.handlerErrors++;
      this.#accept(info.id);
      return;
    }
    if (verdict === Verdict.Accept) {
      this.#accept(info.id);
    } else if (verdict === Verdict.Drop) {
      if (!writer.fits(0)) this.flush();
      writer.drop(info.id);
      counters.dropped++;
    } else if (verdict === Verdict.Rewritten) {
      let outLen: number;
      try {
        outLen = handler.outLength;
      } catch {
        outLen = -1;
      }
      if (
        !Number.isInteger(outLen) || outLen <= 0 || outLen > cap || outLen > MAX_VERDICT_PAYLOAD
      ) {
        counters.handlerErrors++;
        this.#accept(info.id);
        return;
      }
      if ((skbInfo & NFQA_SKB_CSUMNOTREADY) !== 0) {
        this.#completeChecksum(buf, off, outLen, handler.outInner ?? 0);
      }
      const head = off - (VERDICT_MSG_LEN + 4);
      if (
        outLen >= IN_PLACE_MIN_PAYLOAD && head >= msg && head + verdictSize(outLen) <= slotEnd &&
        buf !== this.#scratch && this.#gather !== undefined && this.#gather.covers(buf)
      ) {
        this.#inPlace(buf, view, head, info.id, outLen);
      } else {
        if (!writer.fits(outLen)) this.flush();
        writer.acceptWithPayload(info.id, buf, off, outLen);
      }
      counters.rewritten++;
    } else if (verdict === Verdict.Marked) {
      if (!writer.fitsMark()) this.flush();
      writer.acceptWithMark(info.id, handler.outMark ?? 0);
      counters.marked++;
    } else {
      counters.handlerErrors++;
      this.#accept(info.id);
    }
  }

  /**
   * Queues the verdict of the payload at `head + 36` without copying it: the verdict
   * buffer's unsent stretch goes first, so the datagram keeps the order of the verdicts.
   */
  #inPlace(buf: Uint8Array, view: DataView, head: number, id: number, len: number): void {
    const gather = this.#gather!;
    const writer = this.writer;
    if (
      !gather.hasRoom(2) ||
      gather.bytes + (writer.length - this.#writerCut) + verdictSize(len) > MAX_DATAGRAM_BYTES
    ) this.flush();
    const total = writer.payloadVerdictInPlace(view, head, id, len);
    this.gatherWriter();
    gather.add(buf, head, total);
  }

  /**
   * Adds the verdict buffer's stretch not yet in the gather list to it. The `flush` callback
   * calls it before sending the list; {@linkcode resetGather} starts over.
   */
  gatherWriter(): void {
    const gather = this.#gather;
    const writer = this.writer;
    if (gather === undefined || writer.length <= this.#writerCut) return;
    gather.add(writer.buf, this.#writerCut, writer.length - this.#writerCut);
    this.#writerCut = writer.length;
  }

  /** Empties the gather list after a send (the writer is reset by the caller). */
  resetGather(): void {
    this.#gather?.reset();
    this.#writerCut = 0;
  }

  /**
   * The kernel will take the payload's checksum as complete; the handler kept it up to date
   * incrementally, but it started as a pseudo-header sum, so only a full sum is right.
   */
  #completeChecksum(buf: Uint8Array, off: number, len: number, inner: number): void {
    const summer = this.#summer;
    if (summer === undefined) return;
    const done = inner > 0 && inner < len
      ? completeWrapped(buf, off, len, inner, summer)
      : completeL4Checksum(buf, off, len, summer);
    if (done) this.counters.checksumsCompleted++;
    else this.counters.checksumsNotCompleted++;
  }

  #accept(id: number): void {
    if (!this.writer.fits(0)) this.flush();
    this.writer.accept(id);
    this.counters.accepted++;
  }
}
