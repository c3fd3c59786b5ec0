/**
 * Address prefixes: `address/length` text as `ip addr` and `ip route` take it, IPv4 and IPv6,
 * in the strict numeric spelling of {@linkcode parseAddress}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatPrefix, parsePrefix } from "./prefix.ts";
 * const r = parsePrefix("2001:DB8::/32");
 * assert.ok(r.ok && formatPrefix(r.prefix) === "2001:db8::/32");
 * ```
 *
 * @module
 */
import {
  formatIpv4,
  formatIpv6,
  type IpFamily,
  parseAddress,
  type ParsedAddress,
} from "./address.ts";

/**
 * An address with its prefix length.
 *
 * @example
 * ```ts
 * import type { Prefix } from "./prefix.ts";
 * const p: Prefix = { address: "192.0.2.1", prefixLength: 24, family: 4 };
 * ```
 */
export interface Prefix {
  /** Canonical text: dotted quad, or RFC 5952 IPv6. */
  address: string;
  prefixLength: number;
  family: IpFamily;
}

/** The longest prefix of a family: its address width in bits. */
const WIDTH: Record<IpFamily, number> = { 4: 32, 6: 128 };

/**
 * Reads `address/length`; otherwise the message says what is wrong and how to write it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePrefix } from "./prefix.ts";
 * const bad = parsePrefix("192.0.2.1");
 * assert.ok(!bad.ok && bad.message.includes("has no prefix length"));
 * ```
 */
export function parsePrefix(
  text: string,
): { ok: true; prefix: Prefix } | { ok: false; message: string } {
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
  const max = WIDTH[addr.family];
  const lenText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > max) {
    return {
      ok: false,
      message: `prefix length ${JSON.stringify(lenText)} must be a number from 0 to ${max}`,
    };
  }
  return {
    ok: true,
    prefix: { address: addr.address, family: addr.family, prefixLength: Number(lenText) },
  };
}

/**
 * The `address/length` text of a prefix.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatPrefix } from "./prefix.ts";
 * assert.ok(formatPrefix({ address: "10.0.0.0", prefixLength: 8, family: 4 }) === "10.0.0.0/8");
 * ```
 */
export function formatPrefix(prefix: Prefix): string {
  return `${prefix.address}/${prefix.prefixLength}`;
}

/** The address's bits as a bigint (IPv4 in 32 bits, IPv6 in 128). */
function addressBits(address: ParsedAddress): bigint {
  if (address.family === 4) return BigInt(address.v4);
  return Array.from(address.v6).reduce((acc, w) => (acc << 32n) | BigInt(w), 0n);
}

/**
 * True when no bit beyond the prefix length is set: a network address, as routes need.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isNetworkAddress } from "./prefix.ts";
 * assert.ok(isNetworkAddress({ address: "10.0.0.0", prefixLength: 8, family: 4 }));
 * assert.ok(!isNetworkAddress({ address: "10.0.0.1", prefixLength: 8, family: 4 }));
 * ```
 */
export function isNetworkAddress(prefix: Prefix): boolean {
  const parsed = parseAddress(prefix.address);
  if (parsed === undefined) return false;
  const hostBits = BigInt(WIDTH[parsed.family] - prefix.prefixLength);
  return (addressBits(parsed) & ((1n << hostBits) - 1n)) === 0n;
}

/**
 * True when `address` (canonical or not) lies in the subnet of `prefix` (an interface address
 * such as 192.0.2.1/24 names the subnet 192.0.2.0/24); false for another family.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { prefixContains } from "./prefix.ts";
 * const p = { address: "192.0.2.1", prefixLength: 24, family: 4 } as const;
 * assert.ok(prefixContains(p, "192.0.2.77") && !prefixContains(p, "192.0.3.1"));
 * ```
 */
export function prefixContains(prefix: Prefix, address: string): boolean {
  const net = parseAddress(prefix.address);
  const addr = parseAddress(address);
  if (net === undefined || addr === undefined || net.family !== addr.family) return false;
  const hostBits = BigInt(WIDTH[net.family] - prefix.prefixLength);
  return (addressBits(net) >> hostBits) === (addressBits(addr) >> hostBits);
}

/** A client prefix of a service's allow or deny list, read by {@linkcode parseSourcePrefix}. */
export interface SourcePrefix {
  /** Canonical `address/length` text. */
  text: string;
  /** The network address as four words, most significant first (IPv4 in the first word). */
  words: Uint32Array;
  length: number;
}

/**
 * Reads one entry of a service's allow or deny list: `address/length`, or a bare address for
 * that one host, of family `family` (the service's), with no bit set past the length. The
 * message says what is wrong and how to write it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSourcePrefix } from "./prefix.ts";
 * const r = parseSourcePrefix("192.0.2.7", 4);
 * assert.ok(r.ok && r.prefix.text === "192.0.2.7/32");
 * const bad = parseSourcePrefix("10.0.0.1/8", 4);
 * assert.ok(!bad.ok && bad.message.includes("10.0.0.0/8"));
 * ```
 */
export function parseSourcePrefix(
  text: unknown,
  family: IpFamily,
): { ok: true; prefix: SourcePrefix } | { ok: false; message: string } {
  if (typeof text !== "string") {
    return { ok: false, message: `must be an address/length text (got ${JSON.stringify(text)})` };
  }
  const full = text.includes("/") ? text : `${text}/${WIDTH[family]}`;
  const r = parsePrefix(full);
  if (!r.ok) return r;
  const { address, prefixLength, family: f } = r.prefix;
  if (f !== family) {
    return {
      ok: false,
      message: `${text} is IPv${f} but the service is IPv${family}: a list holds prefixes of ` +
        "the service's family",
    };
  }
  const parsed = parseAddress(address) as ParsedAddress;
  const words = new Uint32Array(4);
  if (parsed.family === 4) words[0] = parsed.v4;
  else words.set(parsed.v6);
  if (!isNetworkAddress(r.prefix)) {
    const bits = addressBits(parsed);
    const host = BigInt(WIDTH[f] - prefixLength);
    const net = (bits >> host) << host;
    const netText = f === 4 ? formatIpv4(Number(net)) : formatIpv6(bigintWords(net));
    return {
      ok: false,
      message:
        `${text} has bits set past its length: write the network, ${netText}/${prefixLength}`,
    };
  }
  return { ok: true, prefix: { text: `${address}/${prefixLength}`, words, length: prefixLength } };
}

/** The four words of a 128-bit value, most significant first. */
function bigintWords(v: bigint): Uint32Array {
  const w = new Uint32Array(4);
  for (let i = 0; i < 4; i++) w[i] = Number((v >> BigInt(96 - 32 * i)) & 0xffffffffn);
  return w;
}
