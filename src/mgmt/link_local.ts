/**
 * The management port's fallback addresses, derived from its MAC address so that the same box
 * has the same ones at every boot and an operator can compute them from the label on the NIC:
 *
 * - IPv4: one address of RFC 3927's link-local range 169.254.1.0 - 169.254.254.255 (the first
 *   and last /24 are reserved), picked by FNV-1a of the six MAC bytes. RFC 3927 section 2.1
 *   asks for exactly this: a pseudo-random choice seeded from the MAC, stable across reboots.
 *   A collision with another box on the same link is possible (1 in 65,024 per pair); the
 *   fallback is for a laptop on the management segment, not for a fleet on one switch.
 * - IPv6: the modified EUI-64 link-local address (RFC 4291 appendix A), the one the kernel
 *   makes itself with its default `addr_gen_mode` 0; it is added explicitly so it is there
 *   even where the generation mode was changed.
 *
 * @module
 */

import { formatIpv6, parseIpv6 } from "../vocab/mod.ts";

/** First and one past the last host of the usable IPv4 link-local range, as offsets. */
const V4_FIRST = 0x0100; // 169.254.1.0
const V4_COUNT = 0xfeff - V4_FIRST + 1; // up to 169.254.254.255: 65,024 addresses

/** Reads `aa:bb:cc:dd:ee:ff` (or with `-`); throws with the reason otherwise. */
export function parseMac(text: string): Uint8Array {
  const parts = text.trim().split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9A-Fa-f]{2}$/.test(p))) {
    throw new RangeError(`${JSON.stringify(text)} is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  }
  const mac = new Uint8Array(parts.map((p) => parseInt(p, 16)));
  if ((mac[0] & 1) !== 0) {
    throw new RangeError(`${text} is a multicast MAC address, not a port's own`);
  }
  if (mac.every((b) => b === 0)) throw new RangeError(`${text} is the all-zero MAC address`);
  return mac;
}

/** 32-bit FNV-1a: small, well known, the same in any language an operator checks it with. */
export function fnv1a32(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * The IPv4 link-local address of the port with MAC `mac`: 169.254.(1 + n / 256).(n % 256)
 * where n = FNV-1a(MAC bytes) mod 65,024.
 */
export function ipv4LinkLocal(mac: string): string {
  const n = V4_FIRST + (fnv1a32(parseMac(mac)) % V4_COUNT);
  return `169.254.${n >> 8}.${n & 0xff}`;
}

/** The modified EUI-64 IPv6 link-local address (fe80::/64) of the port with MAC `mac`. */
export function ipv6LinkLocal(mac: string): string {
  const m = parseMac(mac);
  const hex = (a: number, b: number) => ((a << 8) | b).toString(16);
  // The universal/local bit is inverted; ff:fe goes in the middle.
  const text = `fe80::${hex(m[0] ^ 2, m[1])}:${hex(m[2], 0xff)}:${hex(0xfe, m[3])}:${
    hex(m[4], m[5])
  }`;
  return formatIpv6(parseIpv6(text)!);
}

/** Both fallback addresses of a port, with the prefix lengths they are put on with. */
export interface FallbackAddresses {
  /** `169.254.x.y/16`. */
  ipv4: string;
  /** `fe80::.../64`. */
  ipv6: string;
}

/** The fallback addresses of the port with MAC `mac`, as `ip addr replace` takes them. */
export function fallbackAddresses(mac: string): FallbackAddresses {
  return { ipv4: `${ipv4LinkLocal(mac)}/16`, ipv6: `${ipv6LinkLocal(mac)}/64` };
}
