/**
 * The value types of the admin commands (protocol, address, address:port, scheduler, method,
 * counts of seconds, weights). Each parser returns the value in the form the control contract
 * takes, or throws commander's `InvalidArgumentError` with a message that names the fix; the
 * command layer reports that as a usage error.
 *
 * The accepted names, bounds and address rules are the vocabulary's (src/vocab); this module
 * adds only the shell's wording. Addresses are numeric only (no DNS), as in ipvsadm.
 *
 * @module
 */
import { InvalidArgumentError } from "commander";
import type { Endpoint, ServiceKey } from "../fullnat/types.ts";
import {
  canonicalAddress,
  COMMAND_MAX_SECONDS,
  formatEndpoint,
  FORWARD_METHOD_CHOICES,
  type ForwardMethod,
  forwardMethodOfWord,
  isMhTableSize,
  isProtocol,
  isSchedulerName,
  MH_TABLE_SIZES,
  netmaskPrefixLength,
  orList,
  parseEndpoint,
  PORT_MAX,
  PORT_MIN,
  type Protocol,
  PROTOCOL_CHOICES,
  SCHEDULER_CHOICES,
  SCHEDULER_FLAGS,
  type SchedulerFlag,
  type SchedulerName,
  THRESHOLD_MAX,
  WEIGHT_MAX,
  WEIGHT_MIN,
} from "../vocab/mod.ts";

/** Largest number of seconds accepted (timeouts, persistence): 31 days, as ipvsadm. */
export const MAX_SECONDS = COMMAND_MAX_SECONDS;

function bad(message: string): never {
  throw new InvalidArgumentError(message);
}

/** A protocol name, `tcp` or `udp`, in any case. */
export function parseProtocol(text: string): Protocol {
  const p = text.toLowerCase();
  if (isProtocol(p)) return p;
  bad(`'${text}' is not a protocol: use ${PROTOCOL_CHOICES}`);
}

/** A numeric IPv4 or IPv6 address, returned in canonical form. */
export function parseAddress(text: string): string {
  const address = canonicalAddress(text);
  if (address !== undefined) return address;
  if (/^[0-9.]+:[0-9]*$/.test(text)) bad(`'${text}' has a port: give the address alone`);
  bad(
    `'${text}' is not an IP address: write it as digits, e.g. 192.0.2.10 (names are not looked up)`,
  );
}

/** `ip:port` or `[ipv6]:port`, port 1..65535 (0 names no port, so it cannot be used). */
export function parseEndpointText(text: string): Endpoint {
  const parsed = parseEndpoint(text);
  if (parsed === undefined) {
    bad(`'${text}' is not an address:port: write e.g. 192.0.2.10:80 or [2001:db8::1]:80`);
  }
  if (parsed.port === undefined) {
    const hint = parsed.family === 6 ? `[${parsed.address}]:PORT` : `${parsed.address}:PORT`;
    bad(`'${text}' has no port: write ${hint}`);
  }
  if (parsed.port < PORT_MIN) {
    bad(
      `port ${parsed.port} in '${text}' cannot be used: give a port from ${PORT_MIN} to ${PORT_MAX}`,
    );
  }
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
  if (isSchedulerName(text)) return text;
  bad(`'${text}' is not a scheduler: use ${SCHEDULER_CHOICES}`);
}

/**
 * Scheduler flags, comma-separated as ipvsadm's `-b` takes them (`sh-fallback,sh-port`), or
 * `none` for no flags. Whether they fit the scheduler is the daemon's to say.
 */
export function parseSchedulerFlags(text: string): SchedulerFlag[] {
  if (text === "none") return [];
  return text.split(",").map((f) => {
    if ((SCHEDULER_FLAGS as readonly string[]).includes(f)) return f as SchedulerFlag;
    bad(`'${f}' is not a scheduler flag: use ${orList([...SCHEDULER_FLAGS, "none"])}`);
  });
}

/** A Maglev table size of mh: one of IPVS's primes. */
export function parseMhTableSize(text: string): number {
  const n = Number(text);
  if (/^[0-9]+$/.test(text) && isMhTableSize(n)) return n;
  bad(`'${text}' is not an mh table size: use one of ${MH_TABLE_SIZES.join(", ")}`);
}

/**
 * A persistence granularity: a prefix length (0-32 for an IPv4 service, 0-128 for IPv6; which
 * fits the service is the daemon's to say), or for IPv4 a netmask as ipvsadm's `-M` takes it.
 */
export function parsePersistenceMask(text: string): number {
  if (/^[0-9]{1,3}$/.test(text) && Number(text) <= 128) return Number(text);
  const length = netmaskPrefixLength(text);
  if (length !== undefined) return length;
  bad(
    `'${text}' is not a persistence mask: give a prefix length (24; 0-32 for IPv4, 0-128 for ` +
      `IPv6) or a netmask whose one bits are contiguous (255.255.255.0)`,
  );
}

/** `on` or `off` (also `true`/`false`, `yes`/`no`, `1`/`0`). */
export function parseOnOff(text: string): boolean {
  const t = text.toLowerCase();
  if (["on", "true", "yes", "1"].includes(t)) return true;
  if (["off", "false", "no", "0"].includes(t)) return false;
  bad(`'${text}' is not on or off`);
}

/** A forwarding method; its aliases and ipvsadm letters (`b`, `m`) are accepted too. */
export function parseMethod(text: string): ForwardMethod {
  const method = forwardMethodOfWord(text);
  if (method !== undefined) return method;
  bad(`'${text}' is not a forwarding method: use ${FORWARD_METHOD_CHOICES}`);
}

function wholeNumber(text: string, what: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max) {
    bad(`'${text}' is not a valid ${what}: give a whole number from ${min} to ${max}`);
  }
  return Number(text);
}

/** A parser of whole numbers from `min` to `max`, its errors naming `what`. */
export function wholeNumberParser(
  what: string,
  min: number,
  max: number,
): (text: string) => number {
  return (text) => wholeNumber(text, what, min, max);
}

/** Seconds 0..31 days (persistence: 0 turns it off). */
export function parseSeconds(text: string): number {
  return wholeNumber(text, "number of seconds", 0, MAX_SECONDS);
}

/** A timeout: seconds 1..31 days (0 would expire sessions at once). */
export function parseTimeout(text: string): number {
  return wholeNumber(text, "timeout in seconds", 1, MAX_SECONDS);
}

/** Longest wait for a restarted daemon, in seconds (`daemon restart --wait`). */
export const MAX_WAIT_SECONDS = 600;

/** Seconds to wait for something, 0..10 minutes (0: do not wait). */
export function parseWaitSeconds(text: string): number {
  return wholeNumber(text, "number of seconds to wait", 0, MAX_WAIT_SECONDS);
}

/** A real server's weight 0..65535 (0 quiesces it). */
export function parseWeight(text: string): number {
  return wholeNumber(text, "weight", WEIGHT_MIN, WEIGHT_MAX);
}

/** A gue tunnel's UDP port, 1..65535 (ipvsadm's `--tun-port`). */
export function parseTunnelPort(text: string): number {
  return wholeNumber(text, "tunnel port", 1, 65535);
}

/** A connection threshold 0..INT_MAX (0: none), as ipvsadm's `-x` / `-y`. */
export function parseThreshold(text: string): number {
  return wholeNumber(text, "connection threshold", 0, THRESHOLD_MAX);
}

/** A service key from its two words, protocol and `vip:port`. */
export function serviceKey(protocol: Protocol, vip: Endpoint): ServiceKey {
  return { protocol, address: vip.address, port: vip.port };
}

/** `tcp 192.0.2.10:80`, the way the commands take a service back. */
export function formatServiceKey(key: ServiceKey): string {
  return `${key.protocol} ${formatEndpoint(key.address, key.port)}`;
}

/** Seconds of a health check, fractions allowed (`0.5`); the check's own rules bound them. */
export function parseCheckSeconds(text: string): number {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text)) {
    bad(`'${text}' is not a number of seconds: write e.g. 5 or 0.5`);
  }
  return Number(text);
}

/** A count (retries, rise, fall, a check's number): a whole number. */
export function parseCount(text: string): number {
  if (!/^[0-9]+$/.test(text)) bad(`'${text}' is not a whole number`);
  return Number(text);
}

/** HTTP status codes, comma-separated (`200,301`). */
export function parseStatusCodes(text: string): number[] {
  return text.split(",").map((c) => {
    if (!/^[1-5][0-9][0-9]$/.test(c)) {
      bad(`'${c}' is not an HTTP status code: give codes from 100 to 599, e.g. 200,301`);
    }
    return Number(c);
  });
}

/** A per-source limit of a service (`--source-rate`, `--source-sessions`); 0 is none. */
export function parseSourceLimit(text: string): number {
  return wholeNumber(text, "per-source limit", 0, 0x7fffffff);
}

/** A quorum (at least 1) or hysteresis (at least 0): a sum of weights. */
export function parseQuorum(text: string): number {
  return wholeNumber(text, "sum of weights", 0, 0x7fffffff);
}

/**
 * A sorry server's `address:port`, or `none` to remove it (the word itself: commander turns a
 * parsed null into an empty string).
 */
export function parseSorryServer(text: string): Endpoint | "none" {
  return text === "none" ? "none" : parseEndpointText(text);
}
