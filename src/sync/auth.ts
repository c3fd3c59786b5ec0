/**
 * Optional authentication of sync messages with a shared key: HMAC-SHA256 over the whole
 * message, carried as one more optional parameter (type 0x48: the kernel's "optional" bit
 * 0x40 and low bits 8, which no kernel parameter uses) at the end of the message's last entry.
 * A trailer after the entries is not possible: a receiver refuses a datagram whose length is
 * not the header's size, and a mainline backup must still read the message. As a parameter it
 * is inside the size, and a mainline backup skips it.
 *
 * The parameter's 40 bytes are the sender's epoch (random per sender start), a counter that
 * grows by one per message, and the MAC, computed with the MAC bytes zeroed. The receiver
 * refuses a message whose counter is not above the last one it took from the same epoch
 * ({@linkcode ReplayGuard}), so a captured message cannot be played back to undo a later one.
 *
 * @module
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { appendToLastEntry, IPVS_OPT_F_PARAM } from "./wire.ts";

/** The parameter type: 0x40 (optional) | 8. */
export const AUTH_PARAM_TYPE = IPVS_OPT_F_PARAM | 0x08;
/** Bytes of the parameter's data: epoch, counter, MAC. */
export const AUTH_DATA_LENGTH = 40;
/** Bytes the parameter adds to a message (type, length, data). */
export const AUTH_PARAM_LENGTH = 2 + AUTH_DATA_LENGTH;
const MAC_LENGTH = 32;

const mac = (key: Uint8Array, m: Uint8Array) =>
  new Uint8Array(createHmac("sha256", key).update(m).digest());

/** `message` with its authentication appended to its last entry. */
export function signMessage(
  message: Uint8Array,
  key: Uint8Array,
  epoch: number,
  counter: number,
): Uint8Array {
  const data = new Uint8Array(AUTH_DATA_LENGTH);
  const v = new DataView(data.buffer);
  v.setUint32(0, epoch >>> 0);
  v.setUint32(4, counter >>> 0);
  const out = appendToLastEntry(message, AUTH_PARAM_TYPE, data);
  out.set(mac(key, out), out.length - MAC_LENGTH);
  return out;
}

/** What {@linkcode checkSignature} found. */
export type AuthCheck =
  | { ok: true; epoch: number; counter: number }
  | { ok: false; fault: "unsigned" | "forged" };

/**
 * Checks the authentication of a message that decoded (`wire.ts` `decodeMessage`): its last
 * bytes must be the authentication parameter, and the MAC must be the key's.
 */
export function checkSignature(buf: Uint8Array, key: Uint8Array): AuthCheck {
  const at = buf.length - AUTH_PARAM_LENGTH;
  if (at < 8 || buf[at] !== AUTH_PARAM_TYPE || buf[at + 1] !== AUTH_DATA_LENGTH) {
    return { ok: false, fault: "unsigned" };
  }
  const copy = buf.slice();
  copy.fill(0, copy.length - MAC_LENGTH);
  const expected = mac(key, copy);
  if (!timingSafeEqual(expected, buf.subarray(buf.length - MAC_LENGTH))) {
    return { ok: false, fault: "forged" };
  }
  const v = new DataView(buf.buffer, buf.byteOffset + at + 2, 8);
  return { ok: true, epoch: v.getUint32(0), counter: v.getUint32(4) };
}

/** Refuses a signed message whose counter does not grow within its sender's epoch. */
export class ReplayGuard {
  #last = new Map<number, number>();

  /** True (and remembered) when `counter` is above the last one taken from `epoch`. */
  accept(epoch: number, counter: number): boolean {
    const last = this.#last.get(epoch);
    if (last !== undefined && counter <= last) return false;
    // A handful of epochs at most (one per sender start); forget the oldest beyond that.
    if (last === undefined && this.#last.size >= 16) {
      this.#last.delete(this.#last.keys().next().value!);
    }
    this.#last.set(epoch, counter);
    return true;
  }
}
