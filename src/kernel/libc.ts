/**
 * The C library through FFI, as every kernel module here opens it: `dlopen` with a message
 * that says what to fix, and errno read and described the same way everywhere.
 *
 * @module
 */

/** The symbols {@linkcode threadErrno} and {@linkcode errnoText} need; add them to a module's own. */
export const ERRNO_SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** A libc with at least {@linkcode ERRNO_SYMBOLS}. */
export type ErrnoLibc = Deno.DynamicLibrary<typeof ERRNO_SYMBOLS>["symbols"];

/**
 * Opens libc with `symbols`; throws, naming `purpose` and the missing permission, when it
 * cannot. Callers keep the result (once per thread: each Worker has its own module instance).
 */
export function openLibc<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
  purpose: string,
): Deno.DynamicLibrary<S>["symbols"] {
  try {
    return Deno.dlopen("libc.so.6", symbols).symbols;
  } catch (err) {
    throw new Error(
      `cannot load libc.so.6 for ${purpose} (${(err as Error).message}); ` +
        `run Deno with --allow-ffi`,
    );
  }
}

/**
 * A getter that opens libc with `symbols` on first use, once per thread (each Worker has its
 * own module instance, so each opens its own).
 */
export function lazyLibc<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
  purpose: string,
): () => Deno.DynamicLibrary<S>["symbols"] {
  let lib: Deno.DynamicLibrary<S>["symbols"] | undefined;
  return () => lib ??= openLibc(symbols, purpose);
}

/** errno of the calling thread, right after a failed call. */
export function threadErrno(lib: ErrnoLibc): number {
  const p = lib.__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

/** The C library's text for an errno value. */
export function errnoText(lib: ErrnoLibc, code: number): string {
  const p = lib.strerror(code);
  return p === null ? `errno ${code}` : Deno.UnsafePointerView.getCString(p);
}
