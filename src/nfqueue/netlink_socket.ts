/**
 * A netfilter netlink socket: opened and bound through libmnl, tuned and driven through
 * libc. Errors come back as negative errno values (hot path) or thrown Errors (setup).
 *
 * @module
 */

import {
  AF_NETLINK,
  NETLINK_NETFILTER,
  NETLINK_NO_ENOBUFS,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_RCVTIMEO,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SOL_NETLINK,
  SOL_SOCKET,
} from "./constants.ts";
import { errno, loadNative, type Native, strerror } from "./ffi.ts";

/** An open netlink socket of the NETLINK_NETFILTER family. */
export class NetlinkSocket {
  /** File descriptor. */
  readonly fd: number;
  /** Netlink port id the kernel assigned. */
  readonly portId: number;
  readonly #native: Native;
  readonly #mnl: Deno.PointerObject;
  // sockaddr_nl of the kernel (pid 0): kept referenced since its address goes to sendto.
  readonly #kernelAddr: Uint8Array;
  #closed = false;

  /** Opens and binds the socket; throws an Error naming the failed step. */
  constructor() {
    this.#native = loadNative();
    const { mnl } = this.#native;
    const nl = mnl.mnl_socket_open(NETLINK_NETFILTER);
    if (nl === null) {
      const e = errno();
      throw new Error(`cannot open a netfilter netlink socket: ${strerror(e)}`);
    }
    if (mnl.mnl_socket_bind(nl, 0, 0) < 0) {
      const e = errno();
      mnl.mnl_socket_close(nl);
      throw new Error(`cannot bind the netfilter netlink socket: ${strerror(e)}`);
    }
    this.#mnl = nl;
    this.fd = mnl.mnl_socket_get_fd(nl);
    this.portId = mnl.mnl_socket_get_portid(nl);
    this.#kernelAddr = new Uint8Array(12);
    new DataView(this.#kernelAddr.buffer).setUint16(0, AF_NETLINK, true);
  }

  /** Whether {@linkcode close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** setsockopt with an int value; returns 0 or -errno. */
  setInt(level: number, name: number, value: number): number {
    const v = new Uint8Array(4);
    new DataView(v.buffer).setInt32(0, value, true);
    return this.#native.libc.setsockopt(this.fd, level, name, v, 4) < 0 ? -errno() : 0;
  }

  /**
   * Sets a buffer size, bypassing the `net.core.[rw]mem_max` cap when we have CAP_NET_ADMIN
   * and falling back to the capped option when we do not.
   */
  setBufferSize(kind: "rcv" | "snd", bytes: number): number {
    const force = kind === "rcv" ? SO_RCVBUFFORCE : SO_SNDBUFFORCE;
    const plain = kind === "rcv" ? SO_RCVBUF : SO_SNDBUF;
    const r = this.setInt(SOL_SOCKET, force, bytes);
    return r === 0 ? 0 : this.setInt(SOL_SOCKET, plain, bytes);
  }

  /** Stops the kernel from reporting receive overruns as ENOBUFS (it counts them instead). */
  setNoEnobufs(): number {
    return this.setInt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1);
  }

  /** Bounds how long a blocking receive waits (`SO_RCVTIMEO`). */
  setReceiveTimeout(ms: number): number {
    const tv = new Uint8Array(16);
    const v = new DataView(tv.buffer);
    v.setBigInt64(0, BigInt(Math.floor(ms / 1000)), true);
    v.setBigInt64(8, BigInt((ms % 1000) * 1000), true);
    return this.#native.libc.setsockopt(this.fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16) < 0
      ? -errno()
      : 0;
  }

  /** Sends `buf[0, len)` to the kernel as one datagram; returns bytes sent or -errno. */
  send(buf: Uint8Array, len: number): number {
    const r = Number(this.#native.libc.sendto(this.fd, buf, BigInt(len), 0, this.#kernelAddr, 12));
    return r < 0 ? -errno() : r;
  }

  /** Sends the datagram a `struct msghdr` describes to the kernel; bytes sent or -errno. */
  sendMessage(msghdr: Deno.PointerObject): number {
    const r = Number(this.#native.libc.sendmsg(this.fd, msghdr, 0));
    return r < 0 ? -errno() : r;
  }

  /** Synchronous `recvmmsg` on the main thread; returns the count or -errno. */
  receive(mmsg: Deno.PointerObject, vlen: number, flags: number): number {
    const r = this.#native.libc.recvmmsg(this.fd, mmsg, vlen, flags, null);
    return r < 0 ? -errno() : r;
  }

  /**
   * `recvmmsg` on a helper thread, so the event loop runs meanwhile. Returns the count, or
   * -1 without an errno: errno is thread-local and that thread's is out of reach.
   */
  receiveBlocking(mmsg: Deno.PointerObject, vlen: number, flags: number): Promise<number> {
    return this.#native.libc.recvmmsgBlocking(this.fd, mmsg, vlen, flags, null);
  }

  /** Closes the socket (the kernel then unbinds every queue it held). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.mnl.mnl_socket_close(this.#mnl);
  }
}
