/**
 * The packet mark of a DR real server: what the engine puts in the verdict of a DR packet and
 * what the daemon's policy rule (`ip rule fwmark M lookup M`, `src/kernel/dr_routes.ts`)
 * matches. It is a function of the server's address alone, so every packet worker and the
 * daemon agree on it without telling each other, and the same address in several services
 * shares one rule and one route. An IPv4 server's mark is its address (no two differ); an IPv6
 * server's is a 32-bit mix of its address (rules are per family, so the two never meet). The
 * mark also names the routing table, so it is kept above the kernel's reserved tables.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { drMark } from "./dr_mark.ts";
 * assert.equal(drMark("203.0.113.11"), 0xcb00710b);
 * assert.ok(drMark("2001:db8::11") > 255);
 * ```
 *
 * @module
 */
import { parseAddress } from "../vocab/address.ts";

/** Marks (and table ids) at or below this are the kernel's or a person's own: never used. */
const RESERVED = 0xffff;

/** The mark of a DR real server at `address` (either family); 0 for text that is no address. */
export function drMark(address: string): number {
  const a = parseAddress(address);
  if (a === undefined) return 0;
  if (a.family === 4) return a.v4 >>> 0 > RESERVED ? a.v4 >>> 0 : (a.v4 | 0x10000) >>> 0;
  let h = 0x811c9dc5;
  for (const w of a.v6) h = Math.imul(h ^ w, 0x01000193) ^ (h >>> 15);
  h >>>= 0;
  return h > RESERVED ? h : (h | 0x10000) >>> 0;
}
