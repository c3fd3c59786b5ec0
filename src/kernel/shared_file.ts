/**
 * Memory that outlives the process: a file mapped `MAP_SHARED` (docs/design.md 5; README
 * "Sessions outlive the daemon"). What the daemon writes into the mapping is in the page
 * cache the moment it is written, so a `kill -9` loses none of it; the next process maps the
 * same file and reads it back. On tmpfs (`/run`) nothing is written to a disk, and pages never
 * touched take no memory, so a table sized for a million sessions costs what its live ones use.
 *
 * Also the box's monotonic clock: `performance.now()` restarts at zero with each process, so
 * times kept across a restart (session expiry) are read from `CLOCK_MONOTONIC` instead.
 *
 * Needs `--allow-ffi`.
 *
 * @module
 */

import { ERRNO_SYMBOLS, errnoText, lazyLibc, threadErrno } from "./libc.ts";

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const CLOCK_MONOTONIC = 1;

const O_RDWR = 0o2;
const O_CREAT = 0o100;
const O_CLOEXEC = 0o2000000;

const symbols = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  ...ERRNO_SYMBOLS,
} as const satisfies Deno.ForeignLibraryInterface;

type Libc = Deno.DynamicLibrary<typeof symbols>["symbols"];
const loadLibc = lazyLibc(symbols, "shared memory");

function lastError(l: Libc): string {
  return errnoText(l, threadErrno(l));
}

/** A file mapped shared into memory; {@linkcode bytes} is the mapping. */
export class SharedFile {
  #pointer: Deno.PointerObject | null;

  private constructor(
    readonly path: string,
    readonly bytes: ArrayBuffer,
    pointer: Deno.PointerObject,
  ) {
    this.#pointer = pointer;
  }

  /**
   * Maps `path`, creating it (mode 0600) or growing it to `size` bytes. A file that is larger
   * than `size` is mapped only up to `size`. Throws with the path and the system's reason.
   */
  static open(path: string, size: number): SharedFile {
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new RangeError(`cannot map ${path}: size ${size} is not a positive integer`);
    }
    const l = loadLibc();
    // Through libc: Deno 2 gives no descriptor number to pass to mmap.
    const fd = l.open(new TextEncoder().encode(path + "\0"), O_RDWR | O_CREAT | O_CLOEXEC, 0o600);
    if (fd < 0) throw new Error(`cannot open ${path}: ${lastError(l)}`);
    try {
      if (Deno.statSync(path).size < size && l.ftruncate(fd, BigInt(size)) !== 0) {
        throw new Error(`cannot size ${path} to ${size} bytes: ${lastError(l)}`);
      }
      const p = l.mmap(null, BigInt(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
      // MAP_FAILED is (void *) -1.
      if (p === null || Deno.UnsafePointer.value(p) === 0xffffffffffffffffn) {
        throw new Error(`cannot map ${path} (${size} bytes): ${lastError(l)}`);
      }
      const bytes = Deno.UnsafePointerView.getArrayBuffer(p, size);
      return new SharedFile(path, bytes, p);
    } finally {
      // The mapping keeps the file's pages; the descriptor is not needed once it exists.
      l.close(fd);
    }
  }

  /**
   * Unmaps the file. Every view of {@linkcode bytes} must be dropped first: touching one
   * afterwards faults the process.
   */
  close(): void {
    if (this.#pointer === null) return;
    loadLibc().munmap(this.#pointer, BigInt(this.bytes.byteLength));
    this.#pointer = null;
  }
}

const timespec = new BigInt64Array(2);

/** Milliseconds of the box's `CLOCK_MONOTONIC`: the same clock in every process until reboot. */
export function monotonicMs(): number {
  const l = loadLibc();
  if (l.clock_gettime(CLOCK_MONOTONIC, timespec) !== 0) {
    throw new Error(`clock_gettime(CLOCK_MONOTONIC) failed: ${lastError(l)}`);
  }
  return Number(timespec[0]) * 1000 + Number(timespec[1]) / 1e6;
}

/**
 * A millisecond clock on the box's monotonic time base that costs what `performance.now()`
 * costs (one FFI call at creation): the offset between the two is read once.
 */
export function boxClock(): () => number {
  const offset = monotonicMs() - performance.now();
  return () => performance.now() + offset;
}

/** The kernel's id of this boot: a table written before a reboot has lost its clock base. */
export function bootId(): string {
  try {
    return Deno.readTextFileSync("/proc/sys/kernel/random/boot_id").trim();
  } catch {
    return "unknown";
  }
}
