/**
 * {@linkcode VerdictGather}: the scatter list of one verdict datagram, for `sendmsg`.
 *
 * A verdict carrying a large payload (a GSO super-packet: up to 64 KiB) is not copied into
 * the verdict buffer: its 36-byte verdict header is written in place over the received
 * message's own headers, right before the payload in the receive slot, and the datagram is
 * sent as a list of regions: verdict-buffer stretches and such in-place verdicts, in the
 * order they were written, so the kernel sees exactly the bytes one contiguous buffer would
 * hold (netlink copies a datagram's iovecs into one skb) and verdicts keep their order. It
 * saves a memmove of every large payload in user space.
 *
 * Every region lies in one `ArrayBuffer` (the checksum summer's memory, which holds the
 * receive ring and the verdict buffer); its address is taken once, and region addresses
 * are written into the iovec array as plain numbers, so adding a region allocates nothing.
 *
 * @module
 */

import { IOVEC_SIZE, MMSG_IOV, MMSG_IOVLEN } from "./constants.ts";

/** `struct msghdr` on x86-64/aarch64 Linux. */
const MSGHDR_SIZE = 56;
const TWO_32 = 2 ** 32;

/** A scatter list over one memory, plus the `struct msghdr` that describes it. */
export class VerdictGather {
  /** Regions added since the last {@linkcode reset}. */
  count = 0;
  /** Bytes of those regions. */
  bytes = 0;
  /** Regions it can hold. */
  readonly capacity: number;
  /** Address of the `struct msghdr` to pass to `sendmsg`. */
  readonly msghdrPtr: Deno.PointerObject;
  // Referenced here so the collector never frees memory whose address the kernel reads.
  readonly #iov: Uint8Array;
  readonly #iovView: DataView;
  readonly #msghdr: Uint8Array;
  readonly #msghdrView: DataView;
  readonly #memory: ArrayBuffer;
  readonly #base: number;

  /**
   * @param memory the buffer every region lies in
   * @param capacity most regions per datagram (at most 1024, the kernel's `UIO_MAXIOV`)
   */
  constructor(memory: ArrayBuffer, capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 2 || capacity > 1024) {
      throw new RangeError(`gather capacity must be 2..1024, got ${capacity}`);
    }
    this.capacity = capacity;
    this.#memory = memory;
    this.#base = addressOf(new Uint8Array(memory));
    this.#iov = new Uint8Array(capacity * IOVEC_SIZE);
    this.#iovView = new DataView(this.#iov.buffer);
    this.#msghdr = new Uint8Array(MSGHDR_SIZE);
    this.#msghdrView = new DataView(this.#msghdr.buffer);
    // No name: an unconnected netlink socket sends to the kernel (port 0).
    this.#msghdrView.setBigUint64(MMSG_IOV, BigInt(addressOf(this.#iov)), true);
    const ptr = Deno.UnsafePointer.of(this.#msghdr);
    if (ptr === null) throw new Error("cannot take the address of the msghdr");
    this.msghdrPtr = ptr;
  }

  /** Whether `buf` lies in the memory this list covers. */
  covers(buf: Uint8Array): boolean {
    return buf.buffer === this.#memory;
  }

  /** Room for `regions` more regions. */
  hasRoom(regions: number): boolean {
    return this.count + regions <= this.capacity;
  }

  /** Adds `buf[at, at + len)` (`buf` in this list's memory) as the next region. */
  add(buf: Uint8Array, at: number, len: number): void {
    if (len <= 0) return;
    const addr = this.#base + buf.byteOffset + at;
    const p = this.count * IOVEC_SIZE;
    const v = this.#iovView;
    v.setUint32(p, addr % TWO_32, true);
    v.setUint32(p + 4, Math.floor(addr / TWO_32), true);
    v.setUint32(p + 8, len, true);
    v.setUint32(p + 12, 0, true);
    this.count++;
    this.bytes += len;
    this.#msghdrView.setUint32(MMSG_IOVLEN, this.count, true);
  }

  /** Empties the list. */
  reset(): void {
    this.count = 0;
    this.bytes = 0;
    this.#msghdrView.setUint32(MMSG_IOVLEN, 0, true);
  }
}

function addressOf(buf: Uint8Array): number {
  const ptr = Deno.UnsafePointer.of(buf);
  if (ptr === null) throw new Error("cannot take the address of a verdict buffer");
  return Number(Deno.UnsafePointer.value(ptr));
}
