/**
 * Per-server connection thresholds (ipvsadm `-a|-e ... -x UPPER -y LOWER`), as IPVS keeps them
 * (`ip_vs_bind_dest` / `ip_vs_unbind_dest` in ip_vs_conn.c, `__ip_vs_update_dest` in
 * ip_vs_ctl.c): a server whose sessions (active and inactive) reach its upper threshold is
 * marked overloaded when a session is bound to it, and every scheduler passes it over; the mark
 * clears when a session ends and the count is below the lower threshold, or, with no lower
 * threshold, below three quarters of the upper one. Raising or removing the upper threshold
 * clears it at once. 0 means no threshold.
 *
 * A daemon's packet workers each count only their own sessions, so each enforces its share of
 * the configured figures (rounded up): with one worker, exactly IPVS's numbers.
 *
 * @module
 */
import type { EngineCounters } from "./counters.ts";
import type { RealServer } from "./service.ts";

/** This engine's share of a threshold configured for `shares` engines (0 stays 0). */
export function thresholdShare(threshold: number, shares: number): number {
  return threshold === 0 ? 0 : Math.ceil(threshold / shares);
}

/**
 * Sets the thresholds of `rs` (validated by the caller) for an engine that is one of `shares`.
 * As IPVS, a raised or removed upper threshold lifts an overload at once; a lowered one waits
 * for the next session bound to the server.
 */
export function setThresholds(rs: RealServer, upper: number, lower: number, shares: number) {
  if (rs.overloaded && (upper === 0 || upper > rs.upperThreshold)) clearOverload(rs);
  rs.upperThreshold = upper;
  rs.lowerThreshold = lower;
  rs.upperLimit = thresholdShare(upper, shares);
  rs.lowerLimit = thresholdShare(lower, shares);
}

/** After a session was bound to `rs`: marks it overloaded when it reached its upper limit. */
export function bindOverload(rs: RealServer, c: EngineCounters): void {
  if (rs.upperLimit === 0 || rs.overloaded) return;
  if (rs.activeConns + rs.inactiveConns >= rs.upperLimit) {
    rs.overloaded = true;
    rs.service.overloadedServers++;
    c.overloads++;
  }
}

/** After a session of overloaded `rs` ended: lifts the mark once the count fell far enough. */
export function unbindOverload(rs: RealServer): void {
  const n = rs.activeConns + rs.inactiveConns;
  const below = rs.lowerLimit !== 0
    ? n < rs.lowerLimit
    : rs.upperLimit !== 0
    ? n * 4 < rs.upperLimit * 3
    : true;
  if (below) clearOverload(rs);
}

/** Lifts the overload mark of `rs`. */
export function clearOverload(rs: RealServer): void {
  if (!rs.overloaded) return;
  rs.overloaded = false;
  rs.service.overloadedServers--;
}
