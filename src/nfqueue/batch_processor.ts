/**
 * Turns received netlink datagrams into verdicts: walks the messages of each datagram,
 * calls the handler on each packet in place, and appends the verdict to the
 * {@linkcode VerdictWriter}. No I/O of its own, so it is testable on crafted messages.
 *
 * @module
 */

import { Verdict } from "../fullnat/types.ts";
import {
  NFQ_TYPE_PACKET,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
} from "./constants.ts";
import type { NfQueueCounters } from "./counters.ts";
import type { PacketHandler } from "./handler.ts";
import { newPacketInfo, nlAlign, type PacketInfo, parsePacketMessage } from "./netlink_parse.ts";
import { MAX_VERDICT_PAYLOAD, type VerdictWriter } from "./verdict_writer.ts";

/** Room the handler is promised after the packet (`cap >= len + HANDLER_HEADROOM`). */
export const HANDLER_HEADROOM = 128;

/** Processes datagrams found in a receive buffer. */
export class BatchProcessor {
  /** Metadata of the packet being handled; valid during `handle()` only. */
  readonly packet: PacketInfo = newPacketInfo();
  /** errno of the last error the kernel reported for a verdict (0 if none yet). */
  lastVerdictError = 0;
  readonly #scratch: Uint8Array;
  readonly #scratchView: DataView;

  /**
   * @param writer where verdicts go
   * @param counters updated in place
   * @param flush sends and resets the writer; called when it is full mid-batch
   */
  constructor(
    readonly writer: VerdictWriter,
    readonly counters: NfQueueCounters,
    readonly flush: () => void,
  ) {
    // For the (unexpected) case of several packet messages in one datagram: all but the
    // last are handled in this scratch copy, so an in-place rewrite that grows the packet
    // cannot run over the next message.
    this.#scratch = new Uint8Array(MAX_VERDICT_PAYLOAD + HANDLER_HEADROOM + 4096);
    this.#scratchView = new DataView(this.#scratch.buffer);
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
      verdict = handler.handle(buf, off, len, cap);
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
      if (!writer.fits(outLen)) this.flush();
      writer.acceptWithPayload(info.id, buf, off, outLen);
      counters.rewritten++;
    } else {
      counters.handlerErrors++;
      this.#accept(info.id);
    }
  }

  #accept(id: number): void {
    if (!this.writer.fits(0)) this.flush();
    this.writer.accept(id);
    this.counters.accepted++;
  }
}
