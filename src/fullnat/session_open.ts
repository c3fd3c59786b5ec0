/**
 * A new connection becomes a session: the real server is scheduled (through the client's
 * persistence template when the service has one), the server's forwarding mode binds the
 * local endpoint and inserts the session (seed 4.5 for FULLNAT), and the owners' counts move.
 *
 * @module
 */
import type { Engine } from "./engine.ts";
import type { AddressFamily } from "./family.ts";
import { bindTemplate, pickServer, pickTime } from "./persistence.ts";
import { schedule } from "./scheduler.ts";
import type { Service } from "./service.ts";
import { NO_SESSION, SessionFlag } from "./session_table.ts";
import { TcpState } from "./tcp_state.ts";
import { bindOverload } from "./thresholds.ts";
import { METHOD_FULLNAT } from "./xmit.ts";
import { TRANSMIT_BY_METHOD } from "./xmit_modes.ts";

/**
 * Opens the session of the packet at `o` (client port `cport`, virtual port `vport`) to
 * `svc`. Returns its id, or `NO_SESSION` having counted why.
 */
export function openSession(
  e: Engine,
  fam: AddressFamily,
  svc: Service,
  proto: number,
  b: Uint8Array,
  o: number,
  cport: number,
  vport: number,
): number {
  const c = e.counters;
  const now = e.now();
  // The clock's fractional milliseconds would be boxed crossing a call that is not inlined:
  // a persistent service, which needs them to pick, reads them from a typed array.
  let rs;
  if (svc.persistence > 0) {
    pickTime[0] = now;
    rs = pickServer(e, svc, fam, b, o, cport);
  } else rs = schedule(svc, fam, b, o, cport);
  if (rs === undefined || !fam.serves(rs)) {
    c.noRealServer++;
    if (svc.overloadedServers > 0) c.overloadRefused++;
    return NO_SESSION;
  }
  if (svc.overloadedServers > 0) c.overloadRedirected++;
  const xmit = TRANSMIT_BY_METHOD[rs.method];
  const id = xmit.connect(e, fam, svc, rs, proto, b, o, cport, vport);
  if (id === NO_SESSION) return NO_SESSION;
  const t = e.table;
  t.method[id] = xmit.code;
  t.state[id] = TcpState.NONE;
  t.service[id] = svc.id;
  t.server[id] = rs.id;
  t.expires[id] = now;
  if (svc.persistence > 0) bindTemplate(svc);
  rs.inactiveConns++;
  if (rs.upperLimit !== 0) bindOverload(rs, c);
  if (svc.onePacket && xmit.code === METHOD_FULLNAT) onePacket(e, id);
  svc.sessions++;
  svc.stats.conns++;
  rs.stats.conns++;
  c.sessionsCreated++;
  return id;
}

/**
 * Makes session `id` a one-packet session (ipvsadm `-o`): unindexed for the client, so its
 * next datagram is scheduled on its own with a port of its own, and ended by the reply
 * (`Engine`), so no local port is held past the reply. NAT sessions, which hold no local port
 * and whose real-server tuple is the client's own, stay ordinary sessions with the short wait.
 */
function onePacket(e: Engine, id: number): void {
  e.table.flags[id] |= SessionFlag.ONE_PACKET;
  e.table.unlinkIn(id);
  e.counters.onePacketScheduled++;
}
