/**
 * UDP: any datagram to a service opens a session; there is no state, one idle timeout (the
 * service's own, or the engine's), and no edits beyond the address rewrite. A one-packet
 * service's session (ipvsadm `-o`) waits only for its reply, for the service's short window.
 *
 * @module
 */
import { IPPROTO } from "../wire/ipv4.ts";
import { udpProblem } from "../wire/udp.ts";
import type { Engine } from "./engine.ts";
import type { ProtocolHandler } from "./proto.ts";
import type { RealServer } from "./service.ts";

/** The UDP handler. */
export const UDP_HANDLER: ProtocolHandler = {
  proto: IPPROTO.UDP,

  sound(b: Uint8Array, l4: number, l4Length: number): boolean {
    return udpProblem(b, l4, l4Length) === undefined;
  },

  opens(): boolean {
    return true;
  },

  conn(
    e: Engine,
    _fam,
    _xmit,
    _b,
    _o,
    _l4,
    total: number,
    _limit,
    id: number,
    _dir,
    rs: RealServer,
  ): number {
    const svc = rs.service;
    e.table.expires[id] = e.now() + (svc.onePacket ? svc.opsWindowMs : svc.udpTimeoutMs);
    return total;
  },

  timeoutMs(e: Engine, id: number): number {
    const svc = e.registry.services[e.table.service[id]];
    if (svc === undefined) return e.udpTimeoutMs;
    return svc.onePacket ? svc.opsWindowMs : svc.udpTimeoutMs;
  },
};
