/**
 * Persistence granularity (ipvsadm `-M`, the configuration's `persistenceMask`): clients whose
 * addresses agree in the first N bits share one persistence template. Kept as a prefix length:
 * 0-32 for an IPv4 service (ipvsadm writes it as a netmask, `-M 255.255.255.0` for 24), 0-128
 * for an IPv6 one (ipvsadm writes the length itself, `-M 64`). The default is the whole
 * address (32 or 128): one template per client.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { netmaskPrefixLength, prefixLengthNetmask } from "./persistence_mask.ts";
 * assert.equal(netmaskPrefixLength("255.255.255.0"), 24);
 * assert.equal(prefixLengthNetmask(20), "255.255.240.0");
 * assert.equal(netmaskPrefixLength("255.0.255.0"), undefined); // not contiguous
 * ```
 *
 * @module
 */
import { parseAddress } from "./address.ts";

/** The whole address: the default granularity of an IPv4 (32) or IPv6 (128) service. */
export function fullPersistenceMask(v6: boolean): number {
  return v6 ? 128 : 32;
}

/** True when `n` is a prefix length an IPv4 (`v6` false) or IPv6 service may persist by. */
export function isPersistenceMask(n: unknown, v6: boolean): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= fullPersistenceMask(v6);
}

/** What is wrong with `got` as the persistence mask of a service of that family. */
export function persistenceMaskProblem(got: unknown, v6: boolean): string {
  return `persistence mask must be a prefix length from 0 to ${fullPersistenceMask(v6)} for an ${
    v6 ? "IPv6" : "IPv4"
  } service (got ${typeof got === "string" ? JSON.stringify(got) : String(got)})`;
}

/**
 * The prefix length of a dotted IPv4 netmask (`255.255.255.0` -> 24), or undefined when the
 * text is not an IPv4 address or its one bits are not contiguous from the top (IPVS would take
 * `255.0.255.0`; a prefix length cannot say it).
 */
export function netmaskPrefixLength(text: string): number | undefined {
  const parsed = parseAddress(text);
  if (parsed?.family !== 4) return undefined;
  const m = parsed.v4 >>> 0;
  const len = Math.clz32(~m);
  const expect = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return m === expect ? len : undefined;
}

/** The dotted IPv4 netmask of a prefix length (24 -> `255.255.255.0`), as ipvsadm prints it. */
export function prefixLengthNetmask(length: number): string {
  const m = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  return [m >>> 24, (m >>> 16) & 255, (m >>> 8) & 255, m & 255].join(".");
}

/**
 * Writes the four words of the mask of a prefix length (of up to 128 bits, most significant
 * word first) into `out`: the words an address is ANDed with.
 */
export function prefixMaskWords(length: number, out: Uint32Array): Uint32Array {
  for (let i = 0; i < 4; i++) {
    const bits = Math.max(0, Math.min(32, length - 32 * i));
    out[i] = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  }
  return out;
}
