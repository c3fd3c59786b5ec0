/**
 * Traffic counters shared by services and real servers.
 *
 * @module
 */
import type { Stats } from "./types.ts";

/** A fresh set of zeroed counters. */
export function newStats(): Stats {
  return { conns: 0, inPackets: 0, outPackets: 0, inBytes: 0, outBytes: 0 };
}

/** Zeroes counters in place (objects are shared with the hot path, so never replaced). */
export function zeroStats(s: Stats): void {
  s.conns = 0;
  s.inPackets = 0;
  s.outPackets = 0;
  s.inBytes = 0;
  s.outBytes = 0;
}
