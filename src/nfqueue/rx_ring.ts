/**
 * The receive side's memory: `slots` equal receive slots in one buffer, and the
 * `struct mmsghdr[]` / `struct iovec[]` arrays `recvmmsg` needs, pointing at them.
 *
 * Every buffer whose address is handed to the kernel is a field of this object, and the
 * object is a field of the queue: the garbage collector must never free memory the kernel
 * (or a helper thread blocked in `recvmmsg`) may still write to.
 *
 * @module
 */

import {
  IOVEC_SIZE,
  MMSG_FLAGS,
  MMSG_IOV,
  MMSG_IOVLEN,
  MMSG_LEN,
  MMSGHDR_SIZE,
} from "./constants.ts";

/** Receive slots plus the scatter arrays describing them. */
export class RxRing {
  /** All slots, back to back: slot i is `[i * slotSize, (i + 1) * slotSize)`. */
  readonly buf: Uint8Array;
  /** DataView over {@linkcode buf}. */
  readonly view: DataView;
  /** `struct mmsghdr[slots]`. */
  readonly mmsg: Uint8Array;
  /** DataView over {@linkcode mmsg}, to read back `msg_len` and `msg_flags`. */
  readonly mmsgView: DataView;
  /** `struct iovec[slots]`, one per slot. */
  readonly iov: Uint8Array;
  /** Address of {@linkcode mmsg}, computed once. */
  readonly mmsgPtr: Deno.PointerObject;

  /**
   * @param buf the slots' memory when it must live somewhere in particular (inside the
   *   checksum summer's WebAssembly memory, so received packets are summed in place); at
   *   least `slots * slotSize` bytes. Default: a new buffer.
   */
  constructor(readonly slots: number, readonly slotSize: number, buf?: Uint8Array) {
    if (buf !== undefined && buf.length < slots * slotSize) {
      throw new RangeError(`receive buffer of ${buf.length} bytes cannot hold ${slots} slots`);
    }
    this.buf = buf ?? new Uint8Array(slots * slotSize);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.iov = new Uint8Array(slots * IOVEC_SIZE);
    this.mmsg = new Uint8Array(slots * MMSGHDR_SIZE);
    this.mmsgView = new DataView(this.mmsg.buffer);
    const bufAddr = addressOf(this.buf);
    const iovAddr = addressOf(this.iov);
    const iovView = new DataView(this.iov.buffer);
    for (let i = 0; i < slots; i++) {
      iovView.setBigUint64(i * IOVEC_SIZE, bufAddr + BigInt(i * slotSize), true);
      iovView.setBigUint64(i * IOVEC_SIZE + 8, BigInt(slotSize), true);
      const m = i * MMSGHDR_SIZE;
      this.mmsgView.setBigUint64(m + MMSG_IOV, iovAddr + BigInt(i * IOVEC_SIZE), true);
      this.mmsgView.setBigUint64(m + MMSG_IOVLEN, 1n, true);
    }
    const ptr = Deno.UnsafePointer.of(this.mmsg);
    if (ptr === null) throw new Error("cannot take the address of the mmsghdr array");
    this.mmsgPtr = ptr;
  }

  /** Bytes received into slot `i` by the last receive. */
  length(i: number): number {
    return this.mmsgView.getUint32(i * MMSGHDR_SIZE + MMSG_LEN, true);
  }

  /** `msg_flags` of slot `i` after the last receive (MSG_TRUNC...). */
  flags(i: number): number {
    return this.mmsgView.getInt32(i * MMSGHDR_SIZE + MMSG_FLAGS, true);
  }
}

function addressOf(buf: Uint8Array): bigint {
  const ptr = Deno.UnsafePointer.of(buf);
  if (ptr === null) throw new Error("cannot take the address of a receive buffer");
  return BigInt(Deno.UnsafePointer.value(ptr));
}
