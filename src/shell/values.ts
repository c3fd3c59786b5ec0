/**
 * The value types of the admin commands (protocol, address, address:port, scheduler, method,
 * counts of seconds, weights). Each parser returns the value in the form the control contract
 * takes, or throws commander's `InvalidArgumentError` with a message that names the fix; the
 * command layer reports that as a usage error.
 *
 * Addresses are numeric only (no DNS), as in the ipvsadm front end, whose address parsing this
 * reuses.
 *
 * @module
 */
import { InvalidArgumentError } from "commander";
import { formatEndpoint, parseEndpoint, parseIpv4, parseIpv6 } from "../ctl/ipvsadm/address.ts";
import type {
  Endpoint,
  ForwardMethod,
  Protocol,
  SchedulerName,
  ServiceKey,
} from "../fullnat/types.ts";

/** Protocols a service can carry, as typed. */
export const PROTOCOLS: readonly Protocol[] = ["tcp", "udp"];
/** Schedulers the engine implements. */
export const SCHEDULERS: readonly SchedulerName[] = ["rr", "wrr"];
/** Forwarding methods the engine implements. */
export const METHODS: readonly ForwardMethod[] = ["fullnat", "nat"];

/** Largest number of seconds accepted (timeouts, persistence): 31 days, as ipvsadm. */
export const MAX_SECONDS = 86400 * 31;

function bad(message: string): never {
  throw new InvalidArgumentError(message);
}

/** `tcp` or `udp` (any case). */
export function parseProtocol(text: string): Protocol {
  const p = text.toLowerCase();
  if ((PROTOCOLS as readonly string[]).includes(p)) return p as Protocol;
  bad(`'${text}' is not a protocol: use tcp or udp`);
}

/** A numeric IPv4 or IPv6 address, returned in canonical form. */
export function parseAddress(text: string): string {
  const address = parseIpv4(text) ?? parseIpv6(text);
  if (address !== undefined) return address;
  if (/^[0-9.]+:[0-9]*$/.test(text)) bad(`'${text}' has a port: give the address alone`);
  bad(
    `'${text}' is not an IP address: write it as digits, e.g. 192.0.2.10 (names are not looked up)`,
  );
}

/** `ip:port` or `[ipv6]:port`, port 1..65535. */
export function parseEndpointText(text: string): Endpoint {
  const parsed = parseEndpoint(text);
  if (parsed === undefined) {
    bad(`'${text}' is not an address:port: write e.g. 192.0.2.10:80 or [2001:db8::1]:80`);
  }
  if (parsed.port === undefined) {
    const hint = parsed.family === 6 ? `[${parsed.address}]:PORT` : `${parsed.address}:PORT`;
    bad(`'${text}' has no port: write ${hint}`);
  }
  if (parsed.port === 0) bad(`port 0 in '${text}' cannot be used: give a port from 1 to 65535`);
  return { address: parsed.address, port: parsed.port };
}

/** `ip` or `ip:port`: a filter that may leave the port out. */
export function parseAddressFilter(text: string): { address: string; port?: number } {
  const parsed = parseEndpoint(text);
  if (parsed === undefined) {
    bad(`'${text}' is not an address or address:port: write e.g. 192.0.2.10 or 192.0.2.10:80`);
  }
  return parsed.port === undefined
    ? { address: parsed.address }
    : { address: parsed.address, port: parsed.port };
}

/** A scheduler name. */
export function parseScheduler(text: string): SchedulerName {
  if ((SCHEDULERS as readonly string[]).includes(text)) return text as SchedulerName;
  bad(`'${text}' is not a scheduler: use ${SCHEDULERS.join(" or ")}`);
}

/** A forwarding method; ipvsadm's letters `b` and `m` are accepted too. */
export function parseMethod(text: string): ForwardMethod {
  const t = text.toLowerCase();
  if (t === "fullnat" || t === "b") return "fullnat";
  if (t === "nat" || t === "masq" || t === "m") return "nat";
  bad(`'${text}' is not a forwarding method: use fullnat or nat`);
}

function wholeNumber(text: string, what: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max) {
    bad(`'${text}' is not a valid ${what}: give a whole number from ${min} to ${max}`);
  }
  return Number(text);
}

/** Seconds 0..31 days (persistence: 0 turns it off). */
export function parseSeconds(text: string): number {
  return wholeNumber(text, "number of seconds", 0, MAX_SECONDS);
}

/** A timeout: seconds 1..31 days (0 would expire sessions at once). */
export function parseTimeout(text: string): number {
  return wholeNumber(text, "timeout in seconds", 1, MAX_SECONDS);
}

/** A real server's weight 0..65535 (0 quiesces it). */
export function parseWeight(text: string): number {
  return wholeNumber(text, "weight", 0, 65535);
}

/** A service key from its two words, protocol and `vip:port`. */
export function serviceKey(protocol: Protocol, vip: Endpoint): ServiceKey {
  return { protocol, address: vip.address, port: vip.port };
}

/** `tcp 192.0.2.10:80`, the way the commands take a service back. */
export function formatServiceKey(key: ServiceKey): string {
  return `${key.protocol} ${formatEndpoint(key.address, key.port)}`;
}
