/**
 * Packs verdict messages back to back into one send buffer, so a whole batch of verdicts
 * goes to the kernel in one `sendto` (the kernel processes every message of the datagram).
 *
 * The messages are byte-for-byte what `nfq_nlmsg_put` + `nfq_nlmsg_verdict_put` (+
 * `nfq_nlmsg_verdict_put_pkt`) build (a unit test compares them); they are written here in
 * TypeScript because that is the hot path: three FFI calls per packet would cost more than
 * the few stores below.
 *
 * @module
 */

import {
  AF_UNSPEC,
  NF_ACCEPT,
  NF_DROP,
  NFQ_TYPE_VERDICT,
  NFQA_MARK,
  NFQA_PAYLOAD,
  NFQA_VERDICT_HDR,
  NLM_F_REQUEST,
} from "./constants.ts";

/** Bytes of a verdict message without payload: nlmsghdr 16 + nfgenmsg 4 + verdict attr 12. */
export const VERDICT_MSG_LEN = 32;
/** Bytes the `NFQA_MARK` attribute adds to a verdict: header 4 + big-endian u32. */
export const MARK_ATTR_LEN = 8;
/** Largest packet a verdict can carry: `nla_len` is 16 bits and includes its 4-byte header. */
export const MAX_VERDICT_PAYLOAD = 0xffff - 4;

/** Bytes a verdict carrying `payloadLength` bytes takes in the send buffer. */
export function verdictSize(payloadLength: number): number {
  return VERDICT_MSG_LEN + ((4 + payloadLength + 3) & ~3);
}

/** Writes verdict messages for one queue into a reusable buffer. */
export class VerdictWriter {
  /** The send buffer; its address is handed to `sendto`, so it lives as long as the writer. */
  readonly buf: Uint8Array;
  /** Bytes written since the last {@linkcode reset}. */
  length = 0;
  /** Messages written since the last {@linkcode reset}. */
  count = 0;
  readonly #view: DataView;
  readonly #queueNum: number;
  // All of buf's ArrayBuffer: payloads from the same ArrayBuffer (the receive ring) are
  // copied with copyWithin, which needs no subarray object per packet.
  readonly #whole: Uint8Array;

  /**
   * @param capacity send buffer size; must hold at least one maximal verdict.
   * @param buf the send buffer's memory when it must live somewhere in particular (in the
   *   same ArrayBuffer as the receive ring, so payloads are copied without allocating);
   *   at least `capacity` bytes. Default: a new buffer.
   */
  constructor(queueNum: number, capacity: number, buf?: Uint8Array) {
    if (capacity < verdictSize(MAX_VERDICT_PAYLOAD)) {
      throw new RangeError(`verdict buffer of ${capacity} bytes cannot hold a 64 KiB packet`);
    }
    if (buf !== undefined && buf.length < capacity) {
      throw new RangeError(`verdict buffer of ${buf.length} bytes is below ${capacity}`);
    }
    this.buf = buf === undefined ? new Uint8Array(capacity) : buf.subarray(0, capacity);
    this.#view = new DataView(this.buf.buffer, this.buf.byteOffset, capacity);
    this.#whole = new Uint8Array(this.buf.buffer);
    this.#queueNum = queueNum;
  }

  /** Starts a new batch. */
  reset(): void {
    this.length = 0;
    this.count = 0;
  }

  /** Whether a verdict carrying `payloadLength` bytes (0 for none) still fits. */
  fits(payloadLength: number): boolean {
    const need = payloadLength > 0 ? verdictSize(payloadLength) : VERDICT_MSG_LEN;
    return this.length + need <= this.buf.length;
  }

  /** Appends an NF_ACCEPT verdict without payload (the packet continues unchanged). */
  accept(id: number): void {
    this.#header(id, NF_ACCEPT, VERDICT_MSG_LEN);
    this.length += VERDICT_MSG_LEN;
    this.count++;
  }

  /** Whether a verdict with a mark ({@linkcode acceptWithMark}) still fits. */
  fitsMark(): boolean {
    return this.length + VERDICT_MSG_LEN + MARK_ATTR_LEN <= this.buf.length;
  }

  /**
   * Appends an NF_ACCEPT verdict that sets the packet's mark (`NFQA_MARK`, as
   * `nfq_nlmsg_verdict_put_mark` writes it) and leaves its bytes as they are.
   */
  acceptWithMark(id: number, mark: number): void {
    const at = this.length;
    const total = VERDICT_MSG_LEN + MARK_ATTR_LEN;
    this.#header(id, NF_ACCEPT, total);
    const view = this.#view;
    view.setUint16(at + 32, MARK_ATTR_LEN, true);
    view.setUint16(at + 34, NFQA_MARK, true);
    view.setUint32(at + 36, mark >>> 0, false);
    this.length += total;
    this.count++;
  }

  /** Appends an NF_DROP verdict. */
  drop(id: number): void {
    this.#header(id, NF_DROP, VERDICT_MSG_LEN);
    this.length += VERDICT_MSG_LEN;
    this.count++;
  }

  /**
   * Appends an NF_ACCEPT verdict whose `NFQA_PAYLOAD` replaces the packet with
   * `src[off, off + len)`. The caller checked {@linkcode fits} and `len <= MAX_VERDICT_PAYLOAD`.
   */
  acceptWithPayload(id: number, src: Uint8Array, off: number, len: number): void {
    const total = verdictSize(len);
    const at = this.length;
    this.#header(id, NF_ACCEPT, total);
    const view = this.#view;
    view.setUint16(at + 32, 4 + len, true);
    view.setUint16(at + 34, NFQA_PAYLOAD, true);
    if (src.buffer === this.#whole.buffer) {
      const from = src.byteOffset + off;
      this.#whole.copyWithin(this.buf.byteOffset + at + 36, from, from + len);
    } else {
      this.buf.set(src.subarray(off, off + len), at + 36);
    }
    // The buffer is reused: padding must be zeroed explicitly, as mnl_attr_put does.
    for (let p = at + 36 + len; p < at + total; p++) this.buf[p] = 0;
    this.length += total;
    this.count++;
  }

  /**
   * Writes an NF_ACCEPT verdict whose payload is the `len` bytes already at `at + 36` of
   * `buf` (a receive slot): its 36 bytes of headers go to `buf[at, at + 36)` and its padding
   * after the payload is zeroed. Returns the message's length; the message is not part of
   * this writer's buffer (see `gather.ts`).
   */
  payloadVerdictInPlace(buf: DataView, at: number, id: number, len: number): number {
    const total = verdictSize(len);
    this.#headerIn(buf, at, id, NF_ACCEPT, total);
    buf.setUint16(at + 32, 4 + len, true);
    buf.setUint16(at + 34, NFQA_PAYLOAD, true);
    for (let p = at + 36 + len; p < at + total; p++) buf.setUint8(p, 0);
    return total;
  }

  #header(id: number, verdict: number, msgLen: number): void {
    this.#headerIn(this.#view, this.length, id, verdict, msgLen);
  }

  #headerIn(view: DataView, at: number, id: number, verdict: number, msgLen: number): void {
    view.setUint32(at, msgLen, true); // nlmsg_len
    view.setUint16(at + 4, NFQ_TYPE_VERDICT, true); // nlmsg_type
    view.setUint16(at + 6, NLM_F_REQUEST, true); // nlmsg_flags
    view.setUint32(at + 8, 0, true); // nlmsg_seq
    view.setUint32(at + 12, 0, true); // nlmsg_pid
    view.setUint8(at + 16, AF_UNSPEC); // nfgen_family
    view.setUint8(at + 17, 0); // version NFNETLINK_V0
    view.setUint16(at + 18, this.#queueNum, false); // res_id
    view.setUint16(at + 20, 12, true); // nla_len of NFQA_VERDICT_HDR
    view.setUint16(at + 22, NFQA_VERDICT_HDR, true);
    view.setUint32(at + 24, verdict, false);
    view.setUint32(at + 28, id, false);
  }
}
