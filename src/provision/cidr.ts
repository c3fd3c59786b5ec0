/**
 * Address text of the provisioning file: bare addresses and `address/prefix` forms, IPv4 and
 * IPv6, in the strict numeric spelling the ipvsadm front end accepts.
 *
 * @module
 */

import { parseIpv4, parseIpv6 } from "../ctl/ipvsadm/address.ts";
import type { Cidr } from "./types.ts";

/** A bare address in canonical text with its family, or undefined. */
export function parseAddress(text: string): { address: string; family: 4 | 6 } | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { address: v4, family: 4 };
  const v6 = parseIpv6(text);
  if (v6 !== undefined) return { address: v6, family: 6 };
  return undefined;
}

/** Parses `address/len`; the message says what is wrong otherwise. */
export function parseCidr(text: string): { ok: true; cidr: Cidr } | { ok: false; message: string } {
  const slash = text.indexOf("/");
  if (slash < 0) {
    return {
      ok: false,
      message: `${JSON.stringify(text)} has no prefix length; write it as ${text}/24 or similar`,
    };
  }
  const addr = parseAddress(text.slice(0, slash));
  if (addr === undefined) {
    return {
      ok: false,
      message: `${JSON.stringify(text.slice(0, slash))} is not an IPv4 or IPv6 address`,
    };
  }
  const max = addr.family === 4 ? 32 : 128;
  const lenText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > max) {
    return {
      ok: false,
      message: `prefix length ${JSON.stringify(lenText)} must be a number from 0 to ${max}`,
    };
  }
  return { ok: true, cidr: { ...addr, prefixLength: Number(lenText) } };
}

/** `address/len` text of a {@linkcode Cidr}. */
export function formatCidr(c: Cidr): string {
  return `${c.address}/${c.prefixLength}`;
}

/** The address's bits as a bigint (IPv4 in 32 bits, IPv6 in 128). */
export function addressBits(address: string, family: 4 | 6): bigint {
  if (family === 4) {
    return address.split(".").reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  }
  // Expand "::" into the missing zero groups first.
  const [head, tail = ""] = address.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = tail === "" ? [] : tail.split(":");
  const groups = address.includes("::")
    ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t]
    : h;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** True when no bit beyond the prefix length is set (a network address, as routes need). */
export function isNetworkAddress(c: Cidr): boolean {
  const width = c.family === 4 ? 32n : 128n;
  const hostBits = width - BigInt(c.prefixLength);
  const mask = (1n << hostBits) - 1n;
  return (addressBits(c.address, c.family) & mask) === 0n;
}
