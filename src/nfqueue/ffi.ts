/**
 * FFI bindings: libc (sockets, errno), libmnl (netlink socket life cycle, attribute
 * helper) and the libmnl-based message builders of libnetfilter_queue.
 *
 * Only calls that return plain values are used: received messages are parsed in TypeScript
 * over JS-owned buffers, so there are no C->JS callbacks. Libraries are opened lazily, once
 * per process, so importing this module costs nothing in code paths (and unit tests) that
 * never touch a queue.
 *
 * @module
 */

const libcSymbols = {
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  /** Synchronous receive on the main thread (used with MSG_DONTWAIT), errno readable. */
  recvmmsg: {
    parameters: ["i32", "pointer", "u32", "i32", "pointer"],
    result: "i32",
  },
  /**
   * The same call run on a helper thread: the only blocking wait of the loop. errno of that
   * thread cannot be read from JavaScript (errno is thread-local).
   */
  recvmmsgBlocking: {
    name: "recvmmsg",
    parameters: ["i32", "pointer", "u32", "i32", "pointer"],
    result: "i32",
    nonblocking: true,
  },
  sendto: {
    parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"],
    result: "isize",
  },
  /** One datagram gathered from several regions (large payloads sent in place). */
  sendmsg: { parameters: ["i32", "pointer", "i32"], result: "isize" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

const mnlSymbols = {
  mnl_socket_open: { parameters: ["i32"], result: "pointer" },
  mnl_socket_bind: { parameters: ["pointer", "u32", "i32"], result: "i32" },
  mnl_socket_get_fd: { parameters: ["pointer"], result: "i32" },
  mnl_socket_get_portid: { parameters: ["pointer"], result: "u32" },
  mnl_socket_close: { parameters: ["pointer"], result: "i32" },
  mnl_attr_put_u32: { parameters: ["buffer", "u16", "u32"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

const nfqSymbols = {
  nfq_nlmsg_put: { parameters: ["buffer", "i32", "u32"], result: "pointer" },
  nfq_nlmsg_cfg_put_cmd: { parameters: ["buffer", "u16", "u8"], result: "void" },
  nfq_nlmsg_cfg_put_params: { parameters: ["buffer", "u8", "i32"], result: "void" },
  nfq_nlmsg_cfg_put_qmaxlen: { parameters: ["buffer", "u32"], result: "void" },
  nfq_nlmsg_verdict_put: { parameters: ["buffer", "i32", "i32"], result: "void" },
  nfq_nlmsg_verdict_put_pkt: { parameters: ["buffer", "buffer", "u32"], result: "void" },
  nfq_nlmsg_verdict_put_mark: { parameters: ["buffer", "u32"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened libraries' symbols. */
export interface Native {
  libc: Deno.DynamicLibrary<typeof libcSymbols>["symbols"];
  mnl: Deno.DynamicLibrary<typeof mnlSymbols>["symbols"];
  nfq: Deno.DynamicLibrary<typeof nfqSymbols>["symbols"];
}

let native: Native | undefined;
let errnoView: Deno.UnsafePointerView | undefined;

function open<S extends Deno.ForeignLibraryInterface>(
  file: string,
  symbols: S,
  pkg: string,
): Deno.DynamicLibrary<S> {
  try {
    return Deno.dlopen(file, symbols);
  } catch (err) {
    throw new Error(
      `cannot load ${file} (${(err as Error).message}); install the Debian package ${pkg} ` +
        `and run Deno with --allow-ffi`,
    );
  }
}

/** Opens libc, libmnl and libnetfilter_queue on first use and returns their symbols. */
export function loadNative(): Native {
  if (native === undefined) {
    const libc = open("libc.so.6", libcSymbols, "libc6");
    const mnl = open("libmnl.so.0", mnlSymbols, "libmnl0");
    const nfq = open("libnetfilter_queue.so.1", nfqSymbols, "libnetfilter-queue1");
    // The libraries stay open for the life of the process: closing them while a
    // nonblocking call may still run on a helper thread would unmap live code.
    native = { libc: libc.symbols, mnl: mnl.symbols, nfq: nfq.symbols };
  }
  return native;
}

/**
 * errno of the main thread after the last synchronous libc call. The location is
 * thread-local; synchronous FFI calls all run on the main thread, so it is cached once.
 */
export function errno(): number {
  if (errnoView === undefined) {
    const ptr = loadNative().libc.__errno_location();
    if (ptr === null) return 0;
    errnoView = new Deno.UnsafePointerView(ptr);
  }
  return errnoView.getInt32();
}

/** The C library's text for an errno value, e.g. "Operation not permitted". */
export function strerror(code: number): string {
  const ptr = loadNative().libc.strerror(code);
  return ptr === null ? `errno ${code}` : Deno.UnsafePointerView.getCString(ptr);
}
