/**
 * Address text: numeric IPv4 (strict dotted quad) and IPv6 literals, their canonical text
 * (RFC 5952 for IPv6), the unicast check every configured address passes, ipvsadm's
 * `IP[:port]` / `[IPv6]:port` endpoints, and the order listings sort addresses in.
 *
 * Names are never resolved: a command, a listing or a configuration check never blocks on DNS.
 * The bit-level parsers are the wire layer's (src/wire), which the engine uses to convert an
 * address once when configuration changes; this module is the only door to them for text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalAddress, formatEndpoint, parseEndpoint } from "./address.ts";
 * assert.ok(canonicalAddress("2001:db8:0:0::1") === "2001:db8::1");
 * assert.ok(parseEndpoint("[2001:db8::1]:80")?.port === 80);
 * assert.ok(formatEndpoint("2001:db8::1", 80) === "[2001:db8::1]:80");
 * ```
 *
 * @module
 */
import { formatIpv4, parseIpv4 } from "../wire/ipv4.ts";
import { formatIpv6, parseIpv6 } from "../wire/ipv6.ts";
import { parsePort } from "./port.ts";

export { formatIpv4, formatIpv6, parseIpv4, parseIpv6 };

/**
 * The IP version of an address.
 *
 * @example
 * ```ts
 * import type { IpFamily } from "./address.ts";
 * const f: IpFamily = 6;
 * ```
 */
export type IpFamily = 4 | 6;

/**
 * An address read from text: its canonical text, and its value as the engine stores it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAddress } from "./address.ts";
 * const a = parseAddress("192.0.2.1");
 * assert.ok(a?.family === 4 && a.v4 === 0xc0000201);
 * ```
 */
export type ParsedAddress =
  | { family: 4; address: string; v4: number }
  | { family: 6; address: string; v6: Uint32Array };

/**
 * True when the address text is IPv6: it has a colon, which no IPv4 text has. Cheap enough for
 * listings that only need to pick a layout.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isIpv6 } from "./address.ts";
 * assert.ok(isIpv6("::1") && !isIpv6("127.0.0.1"));
 * ```
 */
export function isIpv6(address: string): boolean {
  return address.includes(":");
}

/**
 * Reads a numeric IPv4 or IPv6 address; undefined when it is neither. IPv4 must be a strict
 * dotted quad: leading zeros are refused because inet_aton reads them as octal, and silently
 * guessing which the admin meant is worse than an error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAddress } from "./address.ts";
 * assert.ok(parseAddress("2001:DB8::1")?.address === "2001:db8::1");
 * assert.ok(parseAddress("010.0.0.1") === undefined);
 * ```
 */
export function parseAddress(text: string): ParsedAddress | undefined {
  if (isIpv6(text)) {
    const v6 = parseIpv6(text);
    return v6 === undefined ? undefined : { family: 6, address: formatIpv6(v6), v6 };
  }
  const v4 = parseIpv4(text);
  return v4 === undefined ? undefined : { family: 4, address: formatIpv4(v4), v4 };
}

/**
 * The canonical text of a numeric IPv4 address, or undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalIpv4 } from "./address.ts";
 * assert.ok(canonicalIpv4("10.0.0.1") === "10.0.0.1" && canonicalIpv4("::1") === undefined);
 * ```
 */
export function canonicalIpv4(text: string): string | undefined {
  const v4 = parseIpv4(text);
  return v4 === undefined ? undefined : formatIpv4(v4);
}

/**
 * The canonical (RFC 5952) text of a numeric IPv6 address, or undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalIpv6 } from "./address.ts";
 * assert.ok(canonicalIpv6("2001:0db8::0001") === "2001:db8::1");
 * ```
 */
export function canonicalIpv6(text: string): string | undefined {
  const v6 = parseIpv6(text);
  return v6 === undefined ? undefined : formatIpv6(v6);
}

/**
 * The canonical text of a numeric IPv4 or IPv6 address, or undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalAddress } from "./address.ts";
 * assert.ok(canonicalAddress("::ffff:192.0.2.1") === "::ffff:c000:201");
 * assert.ok(canonicalAddress("lb1.example") === undefined);
 * ```
 */
export function canonicalAddress(text: string): string | undefined {
  return parseAddress(text)?.address;
}

/**
 * True when a balancer can serve or use the address: not unspecified (`0.0.0.0`, `::`), not
 * multicast, not the IPv4 broadcast address, not IPv6 loopback.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isUnicast, parseAddress } from "./address.ts";
 * assert.ok(isUnicast(parseAddress("192.0.2.1")!));
 * assert.ok(!isUnicast(parseAddress("224.0.0.1")!) && !isUnicast(parseAddress("ff02::1")!));
 * ```
 */
export function isUnicast(address: ParsedAddress): boolean {
  if (address.family === 6) {
    const w = address.v6;
    const multicast = w[0] >>> 24 === 0xff;
    const unspecifiedOrLoopback = w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] <= 1;
    return !multicast && !unspecifiedOrLoopback;
  }
  const n = address.v4;
  return n !== 0 && n >>> 28 !== 14 && n !== 0xffffffff;
}

/**
 * An address with an optional port, as ipvsadm's `-t`, `-u`, `-r` and `-z` take it.
 *
 * @example
 * ```ts
 * import type { ParsedEndpoint } from "./address.ts";
 * const e: ParsedEndpoint = { address: "192.0.2.1", port: 80, family: 4 };
 * ```
 */
export interface ParsedEndpoint {
  /** Canonical text form: dotted quad, or RFC 5952 compressed IPv6. */
  address: string;
  /** Absent when the argument named no port. */
  port?: number;
  family: IpFamily;
}

/**
 * Reads ipvsadm's `host[:port]` argument, numeric only. Mirrors ipvsadm's parse_service: a
 * bracketed IPv6 address must be followed by `:port`; an unbracketed IPv6 address carries no
 * port; an IPv4 address may carry `:port`; a bare number is refused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseEndpoint } from "./address.ts";
 * assert.ok(parseEndpoint("192.0.2.1:80")?.port === 80);
 * assert.ok(parseEndpoint("2001:db8::1")?.port === undefined);
 * assert.ok(parseEndpoint("80") === undefined);
 * ```
 */
export function parseEndpoint(text: string): ParsedEndpoint | undefined {
  if (text.length === 0 || /^[0-9]+$/.test(text)) return undefined;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") return undefined;
    const address = canonicalIpv6(text.slice(1, close));
    const port = parsePort(text.slice(close + 2));
    if (address === undefined || port === undefined) return undefined;
    return { address, port, family: 6 };
  }
  const v6 = canonicalIpv6(text);
  if (v6 !== undefined) return { address: v6, family: 6 };
  const colon = text.lastIndexOf(":");
  const address = canonicalIpv4(colon < 0 ? text : text.slice(0, colon));
  if (address === undefined) return undefined;
  if (colon < 0) return { address, family: 4 };
  const port = parsePort(text.slice(colon + 1));
  return port === undefined ? undefined : { address, port, family: 4 };
}

/**
 * `ip:port`, IPv6 addresses in brackets: how listings, messages and the shell write an
 * endpoint.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatEndpoint } from "./address.ts";
 * assert.ok(formatEndpoint("192.0.2.1", 80) === "192.0.2.1:80");
 * ```
 */
export function formatEndpoint(address: string, port: number): string {
  return isIpv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * Orders two addresses as ipvsadm sorts them: IPv4 before IPv6, then by numeric value. Text
 * that is not an address sorts last, by its text, so a listing never throws.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareAddresses } from "./address.ts";
 * assert.ok(compareAddresses("10.0.0.2", "10.0.0.10") < 0);
 * assert.ok(compareAddresses("::1", "10.0.0.1") > 0);
 * ```
 */
export function compareAddresses(a: string, b: string): number {
  const key = (text: string): [number, number[]] => {
    const v4 = parseIpv4(text);
    if (v4 !== undefined) return [0, [v4]];
    const v6 = parseIpv6(text);
    return v6 !== undefined ? [1, Array.from(v6)] : [2, []];
  };
  const [fa, ga] = key(a);
  const [fb, gb] = key(b);
  if (fa !== fb) return fa - fb;
  for (let i = 0; i < ga.length; i++) {
    if (ga[i] !== gb[i]) return ga[i] - gb[i];
  }
  return fa === 2 ? (a < b ? -1 : a > b ? 1 : 0) : 0;
}
