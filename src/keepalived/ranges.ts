/**
 * keepalived's address ranges and netmasks. A range `192.0.2.1-10` names .1 to .10 (the number
 * after the dash replaces the last byte of IPv4, or, in hex, the last 16-bit group of IPv6:
 * `2001:db8::1-1f`), as `virtual_server_group` and `local_address_group` entries take it. A
 * dotted netmask (`persistence_granularity 255.255.255.0`) becomes the prefix length the
 * configuration document keeps.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { expandAddressRange, netmaskPrefixLength } from "./ranges.ts";
 * const r = expandAddressRange("203.0.113.201-203");
 * assert.ok(r.ok && r.addresses.join(" ") === "203.0.113.201 203.0.113.202 203.0.113.203");
 * assert.equal(netmaskPrefixLength("255.255.255.0"), 24);
 * ```
 *
 * @module
 */
import { formatIpv4, formatIpv6, parseAddress, parseIpv4 } from "../vocab/mod.ts";

/** Most addresses one range may stand for (a /24's worth, or 256 IPv6 addresses). */
export const MAX_RANGE_SIZE = 256;

/** The addresses a single address or range stands for, or why it is not one. */
export type RangeResult =
  | { ok: true; addresses: string[]; range: boolean }
  | { ok: false; message: string };

/** Reads `ADDRESS` or `ADDRESS-END` (see the module doc). Addresses come back canonical. */
export function expandAddressRange(text: string): RangeResult {
  const dash = text.indexOf("-");
  const first = parseAddress(dash < 0 ? text : text.slice(0, dash));
  if (first === undefined) {
    return {
      ok: false,
      message: `${JSON.stringify(text)} is not an IPv4 or IPv6 address (or a range like ` +
        `192.0.2.1-10)`,
    };
  }
  if (dash < 0) return { ok: true, addresses: [first.address], range: false };
  const endText = text.slice(dash + 1);
  const v6 = first.family === 6;
  const digits = v6 ? /^[0-9a-fA-F]{1,4}$/ : /^[0-9]{1,3}$/;
  const end = digits.test(endText) ? parseInt(endText, v6 ? 16 : 10) : NaN;
  const max = v6 ? 0xffff : 255;
  const start = v6 ? first.v6[3] & 0xffff : first.v4 & 0xff;
  if (!(end <= max)) {
    return {
      ok: false,
      message: `range ${text}: the end must be the last ${
        v6 ? "group of the address in hex (0-ffff)" : "byte of the address (0-255)"
      }`,
    };
  }
  if (end < start) {
    return { ok: false, message: `range ${text} ends before it starts` };
  }
  if (end - start + 1 > MAX_RANGE_SIZE) {
    return { ok: false, message: `range ${text} names more than ${MAX_RANGE_SIZE} addresses` };
  }
  const addresses: string[] = [];
  for (let n = start; n <= end; n++) {
    if (first.family === 4) addresses.push(formatIpv4(((first.v4 & ~0xff) | n) >>> 0));
    else {
      const words = Uint32Array.from(first.v6);
      words[3] = ((words[3] & 0xffff0000) | n) >>> 0;
      addresses.push(formatIpv6(words));
    }
  }
  return { ok: true, addresses, range: true };
}

/**
 * The prefix length of a dotted IPv4 netmask (`255.255.255.0` -> 24); undefined when the text
 * is not a netmask or its ones are not contiguous (IPVS would take such a mask; fullnat keeps
 * persistence granularity as a prefix length).
 */
export function netmaskPrefixLength(text: string): number | undefined {
  const n = parseIpv4(text);
  if (n === undefined) return undefined;
  // Leading ones of the mask are the leading zeros of its inverse.
  const length = Math.clz32(~n >>> 0);
  const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  return mask === n >>> 0 ? length : undefined;
}
