/**
 * What health checks do to a service's scheduling, as keepalived does it to IPVS: a real
 * server the daemon's checks hold down gets weight 0 and, unless it has `inhibitOnFailure`,
 * leaves the service's listing and hashing tables (keepalived deletes it from IPVS); while the
 * quorum is lost the sorry server, if there is one, serves alone and the live servers leave
 * too. Established sessions are never touched here.
 *
 * The engine keeps only the inputs (`healthy`, `healthWeight`, `quorumUp`, set by the daemon's
 * health monitor through `setHealth`, and the configured weights and flags) and derives the
 * weights the schedulers read with {@linkcode applyHealth} whenever one of them changes: the
 * configured weight itself is never overwritten, so `config export` shows what the operator
 * set. Configuration changes, not packets, call it.
 *
 * @module
 */
import { rebuildSchedule } from "./scheduler_hashed.ts";
import type { RealServer, Service } from "./service.ts";

/**
 * Sets every server's scheduling weight and listing from its health, the service's quorum
 * state and its sorry server, then rebuilds the scheduler's tables.
 */
export function applyHealth(svc: Service): void {
  const sorry = svc.sorryServer;
  // Without a sorry server, a lost quorum changes nothing (keepalived only notifies then).
  const standIn = sorry !== undefined && !svc.quorumUp;
  for (const rs of svc.servers) {
    if (rs.sorry) continue;
    const weight = rs.healthWeight ?? rs.configWeight;
    rs.weight = rs.healthy && !standIn ? weight : 0;
    rs.listed = rs.healthy ? !standIn : rs.inhibitOnFailure;
    // A server held at 0 keeps its last weight: mh gives it its places back when it returns.
    if (rs.weight > 0) rs.lastWeight = rs.weight;
  }
  if (sorry !== undefined) {
    sorry.weight = standIn ? sorry.configWeight : 0;
    sorry.listed = standIn;
    if (sorry.weight > 0) sorry.lastWeight = sorry.weight;
  }
  rebuildSchedule(svc);
}

/**
 * True when the server is not part of its service as IPVS would see it: deleted, or taken
 * out by its health checks (not inhibited) or by the sorry server. Sessions to such a server
 * go on, unless expire_nodest_conn says otherwise (see `RealServer.listed`).
 */
export function outOfService(rs: RealServer): boolean {
  return rs.removed || !rs.listed;
}
