/**
 * Packets a SYN proxy session holds while its real server has not answered the SYN the
 * balancer sent it (`syn_proxy.ts`): the client's cookie ACK (which becomes the third ACK to
 * the server) and whatever the client sends right after it, typically its request. They are
 * copied into preallocated slots and run through the engine again, in order, once the
 * server's SYN-ACK arrives; dropping them instead would cost the client a retransmission
 * timeout on every connection.
 *
 * Fixed memory: `slots` slots of `slotSize` bytes (a packet and the room it may grow by), and
 * at most {@linkcode HOLD_PER_SESSION} per session, so one client cannot take them all. A
 * packet that finds no slot is dropped (and counted by the engine): the client retransmits.
 *
 * @module
 */

/** Most packets one session may hold. */
export const HOLD_PER_SESSION = 8;
/** Returned by {@linkcode ProxyHold.first} when the session holds nothing. */
export const NO_SLOT = -1;

/** The slots. */
export class ProxyHold {
  /** Every slot's bytes, slot `s` at `s * slotSize`. */
  readonly buf: Uint8Array;
  readonly slotSize: number;
  /** Session id per slot, -1 when free. */
  readonly #owner: Int32Array;
  readonly #length: Int32Array;
  /** Order of arrival per slot. */
  readonly #stamp: Int32Array;
  #next = 0;
  /** Slots in use. */
  count = 0;

  constructor(slots = 64, slotSize = 2048) {
    this.slotSize = slotSize;
    this.buf = new Uint8Array(slots * slotSize);
    this.#owner = new Int32Array(slots).fill(-1);
    this.#length = new Int32Array(slots);
    this.#stamp = new Int32Array(slots);
  }

  /**
   * Copies the packet `b[o, o+len)` for session `id`; its slot, or {@linkcode NO_SLOT} when
   * no slot is free, the session holds its share, or the packet would leave less than `room`
   * bytes to grow by.
   */
  put(id: number, b: Uint8Array, o: number, len: number, room: number): number {
    if (len + room > this.slotSize) return NO_SLOT;
    const owner = this.#owner;
    let free = -1;
    let mine = 0;
    for (let s = 0; s < owner.length; s++) {
      if (owner[s] === id) mine++;
      else if (owner[s] === -1 && free === -1) free = s;
    }
    if (free === -1 || mine >= HOLD_PER_SESSION) return NO_SLOT;
    const at = free * this.slotSize;
    const buf = this.buf;
    for (let i = 0; i < len; i++) buf[at + i] = b[o + i];
    owner[free] = id;
    this.#length[free] = len;
    this.#stamp[free] = this.#next++;
    this.count++;
    return free;
  }

  /** The slot of session `id`'s oldest held packet, or {@linkcode NO_SLOT}. */
  first(id: number): number {
    if (this.count === 0) return NO_SLOT;
    const owner = this.#owner;
    let best = NO_SLOT;
    for (let s = 0; s < owner.length; s++) {
      if (owner[s] === id && (best === NO_SLOT || this.#stamp[s] - this.#stamp[best] < 0)) best = s;
    }
    return best;
  }

  /** Length of the packet in slot `s`. */
  length(s: number): number {
    return this.#length[s];
  }

  /** Frees slot `s`. */
  release(s: number): void {
    if (this.#owner[s] === -1) return;
    this.#owner[s] = -1;
    this.count--;
  }

  /** Frees every slot of session `id` (it ended before its server answered). */
  forget(id: number): void {
    if (this.count === 0) return;
    const owner = this.#owner;
    for (let s = 0; s < owner.length; s++) if (owner[s] === id) this.release(s);
  }
}
