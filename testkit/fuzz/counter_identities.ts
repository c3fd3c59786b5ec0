/**
 * What the engine's counters must add up to, whatever the packets: every packet ends in
 * exactly one outcome counter; the verdicts the caller saw match the counters of the outcomes
 * that give them; the traffic counted per service equals what was forwarded; and the session
 * table's size equals sessions made minus sessions ended, as each server, service and local
 * address counts them too. The fuzzer checks these after every packet and every expiry.
 *
 * @module
 */
import type { EngineCounters } from "../../src/fullnat/counters.ts";
import type { Engine } from "../../src/fullnat/engine.ts";
import type { RealServer } from "../../src/fullnat/service.ts";

/** The counters of which each packet handled increments exactly one. */
export const OUTCOMES: readonly (keyof EngineCounters)[] = [
  "notIp",
  "malformedIp",
  "fragments",
  "malformedL4",
  "icmpPassed",
  "icmpMalformedQuote",
  "icmpNoSession",
  "icmpErrorsTranslated",
  "icmpErrorsRouted",
  "icmpErrorsTunnelled",
  "icmpErrorsNotForwarded",
  "otherProtocol",
  "otherProtocolDropped",
  "passedThrough",
  "tcpNoSession",
  "noRealServer",
  "noLocalAddress",
  "portExhausted",
  "tableFull",
  "badChecksum",
  "aclDenied",
  "sourceRateRefused",
  "sourceSessionsRefused",
  "natTupleInUse",
  "orphansReset",
  "tunnelReplySeen",
  "toaFragNeeded",
  "tunnelFragNeeded",
  "tunnelGsoDropped",
  "tunnelNoRoom",
  "tunnelNoSource",
  "synProxyCookiesSent",
  "synProxyCookieInvalid",
  "synProxyNotFullnat",
  "synProxyServerAnswered",
  "synProxyServerRefused",
  "synProxyServerDropped",
  "synProxyHeld",
  "synProxyHoldFull",
  "forwarded",
];

/** The sum of the outcome counters. */
export function outcomes(c: EngineCounters): number {
  let n = 0;
  for (const k of OUTCOMES) n += c[k];
  return n;
}

/** How many times the caller saw each verdict. */
export interface VerdictTally {
  accept: number;
  drop: number;
  rewritten: number;
  marked: number;
}

/**
 * Problems with the engine's counters against the verdicts seen (empty: none). Checked
 * cheaply enough to run after every packet.
 */
export function counterProblems(e: Engine, v: VerdictTally): string[] {
  const c = e.counters;
  const out: string[] = [];
  const sum = outcomes(c);
  if (sum !== c.packets) out.push(`outcome counters sum to ${sum}, packets ${c.packets}`);
  // Packets the SYN proxy held and ran through the engine again got no verdict of their own.
  const seen = v.accept + v.drop + v.rewritten + v.marked + c.synProxyReplayed +
    c.synProxyReplayDropped;
  if (seen !== c.packets) out.push(`verdicts ${seen}, packets ${c.packets}`);
  if (v.marked !== c.drRouted + c.icmpErrorsRouted) {
    out.push(`Marked verdicts ${v.marked}, drRouted ${c.drRouted} + ${c.icmpErrorsRouted} ICMP`);
  }
  // Rewritten: forwarded (not DR), ICMP translated, and the replies the engine writes.
  const rewritten = c.forwarded - c.drRouted + c.icmpErrorsTranslated + c.icmpErrorsTunnelled +
    c.resetsSent +
    c.noSessionResets + c.orphansReset + c.toaFragNeeded + c.tunnelFragNeeded +
    c.synProxyCookiesSent + c.synProxyServerRefused - c.synProxyReplayed;
  if (v.rewritten !== rewritten) {
    out.push(`Rewritten verdicts ${v.rewritten}, counters say ${rewritten}`);
  }
  // A proxied service answers a segment with a bad cookie as a lost session's.
  if (c.noSessionResets > c.tcpNoSession + c.synProxyCookieInvalid) {
    out.push("more no-session resets than no-session segments");
  }
  return out;
}

/**
 * Problems with the session accounting (empty: none): the table's size against sessions made
 * and ended, and against each server's, service's and local address's own counts, and the
 * traffic counted per service and per server against the packets forwarded. `everServer`
 * gathers every server seen (the caller passes it again each time, and adds servers it
 * deletes), so the packets of servers deleted since still count.
 */
export function sessionProblems(e: Engine, everServer: Set<RealServer> = new Set()): string[] {
  const c = e.counters;
  const out: string[] = [];
  const size = e.table.size;
  const made = c.sessionsCreated - c.sessionsExpired - c.onePacketAnswered - c.serverSessionsEnded;
  if (size !== made) {
    out.push(
      `table holds ${size}, created ${c.sessionsCreated} - expired ${c.sessionsExpired} - ` +
        `answered ${c.onePacketAnswered} - ended ${c.serverSessionsEnded} = ${made}`,
    );
  }
  let byServer = 0;
  let bySvc = 0;
  let byLocal = 0;
  let svcPackets = 0;
  let rsPackets = 0;
  for (const rs of e.registry.servers) {
    if (rs === undefined) continue;
    if (rs.activeConns < 0 || rs.inactiveConns < 0) {
      out.push(`server ${rs.id} counts ${rs.activeConns} active, ${rs.inactiveConns} inactive`);
    }
    byServer += rs.activeConns + rs.inactiveConns;
    everServer.add(rs);
  }
  // A deleted server leaves the registry with its last session; its packets stay counted.
  for (const rs of everServer) rsPackets += rs.stats.inPackets + rs.stats.outPackets;
  for (const svc of e.registry.services) {
    if (svc === undefined) continue;
    bySvc += svc.sessions;
    svcPackets += svc.stats.inPackets + svc.stats.outPackets;
  }
  let withLocal = 0;
  for (let id = 0; id < e.table.highWater; id++) {
    if (e.table.live(id) && e.table.local[id] >= 0) withLocal++;
  }
  for (const la of e.registry.locals) if (la !== undefined) byLocal += la.conns;
  if (byServer !== size) out.push(`servers count ${byServer} sessions, table ${size}`);
  if (bySvc !== size) out.push(`services count ${bySvc} sessions, table ${size}`);
  if (byLocal !== withLocal) {
    out.push(`local addresses count ${byLocal}, sessions with one ${withLocal}`);
  }
  if (svcPackets !== c.forwarded) {
    out.push(`services counted ${svcPackets} packets, forwarded ${c.forwarded}`);
  }
  if (rsPackets !== c.forwarded) {
    out.push(`servers counted ${rsPackets} packets, forwarded ${c.forwarded}`);
  }
  return out;
}
