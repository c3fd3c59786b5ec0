/**
 * Cuts a pcap stream (tcpdump `-w -`) at a size limit on a record boundary, so a capture file
 * is never larger than asked and always ends with a whole packet that `tcpdump -r` and
 * Wireshark read. Classic pcap only (what tcpdump writes): a 24-byte file header, then per
 * packet a 16-byte record header whose third word is the captured length, in the byte order
 * the magic number shows.
 *
 * @module
 */

const FILE_HEADER = 24;
const RECORD_HEADER = 16;
const MAGICS = new Set([0xa1b2c3d4, 0xa1b23c4d]);

/** What {@linkcode PcapLimiter.push} says about the stream. */
export type PushResult = "more" | "full";

/**
 * Takes chunks as they come and hands whole records to `write` until the next one would pass
 * `maxBytes`; then it says "full" and writes nothing more.
 */
export class PcapLimiter {
  #pending = new Uint8Array(0);
  #little: boolean | undefined;
  #written = 0;
  #packets = 0;
  #full = false;

  constructor(
    readonly maxBytes: number,
    private readonly write: (bytes: Uint8Array) => void,
  ) {}

  /** Bytes written so far. */
  get bytes(): number {
    return this.#written;
  }

  /** Whole packets written so far. */
  get packets(): number {
    return this.#packets;
  }

  /** Adds a chunk of the stream; throws when the stream is not pcap. */
  push(chunk: Uint8Array): PushResult {
    if (this.#full) return "full";
    const all = new Uint8Array(this.#pending.length + chunk.length);
    all.set(this.#pending);
    all.set(chunk, this.#pending.length);
    let off = 0;
    const view = new DataView(all.buffer);
    if (this.#little === undefined) {
      if (all.length < FILE_HEADER) {
        this.#pending = all;
        return "more";
      }
      const le = view.getUint32(0, true);
      const be = view.getUint32(0, false);
      if (MAGICS.has(le)) this.#little = true;
      else if (MAGICS.has(be)) this.#little = false;
      else throw new Error("the capture program did not write pcap (unknown magic number)");
      if (!this.#emit(all.subarray(0, FILE_HEADER), false)) return this.#stop();
      off = FILE_HEADER;
    }
    while (all.length - off >= RECORD_HEADER) {
      const caplen = view.getUint32(off + 8, this.#little);
      const size = RECORD_HEADER + caplen;
      if (all.length - off < size) break;
      if (!this.#emit(all.subarray(off, off + size), true)) return this.#stop();
      off += size;
    }
    this.#pending = all.slice(off);
    return "more";
  }

  #emit(bytes: Uint8Array, packet: boolean): boolean {
    if (this.#written + bytes.length > this.maxBytes) return false;
    this.write(bytes);
    this.#written += bytes.length;
    if (packet) this.#packets++;
    return true;
  }

  #stop(): PushResult {
    this.#full = true;
    this.#pending = new Uint8Array(0);
    return "full";
  }
}
