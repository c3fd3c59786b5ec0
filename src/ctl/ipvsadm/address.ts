/**
 * Address and endpoint text as ipvsadm accepts it on the command line: `IP[:port]` for IPv4,
 * `[IPv6]:port` or a bare IPv6 address, and the `ip:port` / `[ip]:port` text it prints.
 *
 * ipvsadm also resolves host and service names (`gethostbyname`, `getservbyname`); this module
 * does not, so a listing or a command never blocks on DNS. Only numeric forms are accepted.
 *
 * @module
 */
import { formatIpv6, parseIpv6 as parseIpv6Words } from "../../wire/ipv6.ts";

/** An address with an optional port, as parsed from `-t`, `-u`, `-r` or `-z`. */
export interface ParsedEndpoint {
  /** Canonical text form: dotted quad, or RFC 5952 compressed IPv6. */
  address: string;
  /** Absent when the argument named no port. */
  port?: number;
  family: 4 | 6;
}

/**
 * Parses a strict dotted-quad IPv4 address. Leading zeros are refused because inet_aton reads
 * them as octal, and silently guessing which the admin meant is worse than an error.
 */
export function parseIpv4(text: string): string | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return undefined;
  }
  return parts.join(".");
}

/** Parses an IPv6 address and returns its canonical (RFC 5952) text, or undefined. */
export function parseIpv6(text: string): string | undefined {
  const words = parseIpv6Words(text);
  return words === undefined ? undefined : formatIpv6(words);
}

/** Parses a port number 0..65535 written in decimal. */
export function parsePort(text: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/**
 * Parses ipvsadm's `host[:port]` argument. Mirrors ipvsadm's parse_service: a bracketed IPv6
 * address must be followed by `:port`; an unbracketed IPv6 address carries no port; an IPv4
 * address may carry `:port`; a bare number is refused.
 */
export function parseEndpoint(text: string): ParsedEndpoint | undefined {
  if (text.length === 0 || /^[0-9]+$/.test(text)) return undefined;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") return undefined;
    const address = parseIpv6(text.slice(1, close));
    const port = parsePort(text.slice(close + 2));
    if (address === undefined || port === undefined) return undefined;
    return { address, port, family: 6 };
  }
  const v6 = parseIpv6(text);
  if (v6 !== undefined) return { address: v6, family: 6 };
  const colon = text.lastIndexOf(":");
  const host = colon < 0 ? text : text.slice(0, colon);
  const address = parseIpv4(host);
  if (address === undefined) return undefined;
  if (colon < 0) return { address, family: 4 };
  const port = parsePort(text.slice(colon + 1));
  return port === undefined ? undefined : { address, port, family: 4 };
}

/**
 * Orders two addresses as ipvsadm sorts them: IPv4 before IPv6, then by numeric value.
 * Text that is not an address sorts last, by its text, so a listing never throws.
 */
export function compareAddresses(a: string, b: string): number {
  const key = (text: string): [number, number[]] => {
    const v4 = parseIpv4(text);
    if (v4 !== undefined) return [0, v4.split(".").map(Number)];
    const v6 = parseIpv6Words(text);
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

/** True when the address text is IPv6 (it contains a colon). */
export function isIpv6(address: string): boolean {
  return address.includes(":");
}

/** Formats `ip:port` as ipvsadm prints it with `-n`: IPv6 addresses in brackets. */
export function formatEndpoint(address: string, port: number): string {
  return isIpv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}
