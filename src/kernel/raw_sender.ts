/**
 * {@linkcode RawSender}: sends complete IP packets the daemon originates itself (the RSTs to
 * both ends of an ESTABLISHED session that expires, docs/design.md 4.8) through raw sockets.
 *
 * `AF_INET, SOCK_RAW, IPPROTO_RAW` implies `IP_HDRINCL`, and `AF_INET6, SOCK_RAW,
 * IPPROTO_RAW` implies `IPV6_HDRINCL` (RFC 3542 behaviour in Linux): the kernel takes the
 * header as written (it fills in only a zero IPv4 id and the IPv4 header checksum) and routes
 * the packet on its destination address, which must also be given as the socket address. The
 * packets leave through OUTPUT, so the diversion in raw PREROUTING never queues them back.
 *
 * Sending allocates nothing: the socket addresses are preallocated and a packet that does
 * not start at offset 0 of its buffer is copied into a scratch buffer first (RSTs are 40 bytes)
 * rather than passed as a new subarray view. Sends never block (`MSG_DONTWAIT`); a failure is
 * counted, never thrown, because the caller is the packet loop.
 *
 * Needs CAP_NET_RAW and `--allow-ffi`.
 *
 * @module
 */

import { ERRNO_SYMBOLS, errnoText, lazyLibc, threadErrno } from "./libc.ts";

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_RAW = 255;
const MSG_DONTWAIT = 0x40;
const EINVAL = 22;
const EAFNOSUPPORT = 97;
/** Largest packet a raw socket takes (the IPv4 total length / IPv6 jumbogram-free limit). */
const MAX_PACKET = 65535;

const symbols = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  ...ERRNO_SYMBOLS,
} as const satisfies Deno.ForeignLibraryInterface;

type Libc = Deno.DynamicLibrary<typeof symbols>["symbols"];
const loadLibc = lazyLibc(symbols, "raw sockets");

/** What a {@linkcode RawSender} has done, updated in place. */
export interface RawSenderCounters {
  /** Packets the kernel accepted for sending. */
  sent: number;
  /** Packets refused: by the kernel (no route, buffer full...) or as not a whole IP packet. */
  sendErrors: number;
  /** errno of the last failure (EINVAL for a packet refused before the kernel saw it); 0: none. */
  lastErrno: number;
}

/** Options of {@linkcode RawSender.open}. */
export interface RawSenderOptions {
  /**
   * Also open the IPv6 socket (default true). If IPv6 is unavailable (kernel without it),
   * the sender still opens and counts each IPv6 packet as a send error.
   */
  ipv6?: boolean;
}

/** Raw IPv4 and IPv6 sockets for complete IP packets. Close with {@linkcode close}. */
export class RawSender {
  /** Live counters. */
  readonly counters: RawSenderCounters = { sent: 0, sendErrors: 0, lastErrno: 0 };
  readonly #libc: Libc;
  #fd4: number;
  #fd6: number;
  /** errno of socket(AF_INET6) when it failed, reported for every IPv6 packet. */
  readonly #v6Errno: number;
  // sockaddr_in / sockaddr_in6 whose addresses are handed to sendto on every call.
  readonly #sin = new Uint8Array(16);
  readonly #sin6 = new Uint8Array(28);
  readonly #scratch = new Uint8Array(MAX_PACKET);
  readonly #errno: Deno.UnsafePointerView | undefined;

  private constructor(lib: Libc, fd4: number, fd6: number, v6Errno: number) {
    this.#libc = lib;
    this.#fd4 = fd4;
    this.#fd6 = fd6;
    this.#v6Errno = v6Errno;
    new DataView(this.#sin.buffer).setUint16(0, AF_INET, true);
    new DataView(this.#sin6.buffer).setUint16(0, AF_INET6, true);
    // errno is thread-local; a sender is used on the thread that opened it.
    const ptr = lib.__errno_location();
    this.#errno = ptr === null ? undefined : new Deno.UnsafePointerView(ptr);
  }

  /**
   * Opens the raw sockets. Throws an Error saying what to fix when the IPv4 socket cannot be
   * opened (no CAP_NET_RAW, no FFI permission).
   */
  static open(options: RawSenderOptions = {}): RawSender {
    const lib = loadLibc();
    const fd4 = lib.socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd4 < 0) {
      const e = threadErrno(lib);
      throw new Error(
        `cannot open a raw IPv4 socket: ${errnoText(lib, e)}; the daemon needs CAP_NET_RAW ` +
          `(run it as root)`,
      );
    }
    let fd6 = -1;
    let v6Errno = EAFNOSUPPORT;
    if (options.ipv6 ?? true) {
      fd6 = lib.socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
      if (fd6 < 0) v6Errno = threadErrno(lib);
    }
    return new RawSender(lib, fd4, fd6, v6Errno);
  }

  /** Whether an IPv6 socket is open. */
  get ipv6(): boolean {
    return this.#fd6 >= 0;
  }

  /**
   * Sends the IP packet at `b[o, o+len)` (IPv4 or IPv6, by its version nibble) to its
   * destination address. Returns true when the kernel took it; on failure counts it and
   * returns false. Never throws, never blocks. Usable directly as the engine's `PacketSink`.
   */
  readonly send = (b: Uint8Array, o: number, len: number): boolean => {
    if (!(o >= 0 && len >= 1 && o + len <= b.length && len <= MAX_PACKET)) {
      return this.#fail(EINVAL);
    }
    const version = b[o] >>> 4;
    let fd: number;
    let addr: Uint8Array;
    if (version === 4 && len >= 20) {
      fd = this.#fd4;
      addr = this.#sin;
      for (let i = 0; i < 4; i++) addr[4 + i] = b[o + 16 + i];
    } else if (version === 6 && len >= 40) {
      if (this.#fd6 < 0) return this.#fail(this.#v6Errno);
      fd = this.#fd6;
      addr = this.#sin6;
      for (let i = 0; i < 16; i++) addr[8 + i] = b[o + 24 + i];
    } else {
      return this.#fail(EINVAL);
    }
    if (fd < 0) return this.#fail(EINVAL); // closed
    let buf = b;
    if (o !== 0) {
      buf = this.#scratch;
      for (let i = 0; i < len; i++) buf[i] = b[o + i];
    }
    // A usize parameter takes a plain number at run time; a BigInt would be an allocation.
    const size = len as unknown as bigint;
    const r = Number(this.#libc.sendto(fd, buf, size, MSG_DONTWAIT, addr, addr.length));
    if (r < 0) return this.#fail(this.#errno?.getInt32() ?? 0);
    this.counters.sent++;
    return true;
  };

  #fail(errno: number): false {
    this.counters.sendErrors++;
    this.counters.lastErrno = errno;
    return false;
  }

  /** Closes both sockets; later sends fail with EINVAL. Idempotent. */
  close(): void {
    if (this.#fd4 >= 0) this.#libc.close(this.#fd4);
    if (this.#fd6 >= 0) this.#libc.close(this.#fd6);
    this.#fd4 = -1;
    this.#fd6 = -1;
  }
}

/** The C library's text for an errno value (for log lines about send failures). */
export function describeErrno(code: number): string {
  return errnoText(loadLibc(), code);
}
