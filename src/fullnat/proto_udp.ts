/**
 * UDP: any datagram to a service opens a session; there is no state, one idle timeout, and
 * no edits beyond the address rewrite.
 *
 * @module
 */
import { IPPROTO } from "../wire/ipv4.ts";
import { udpProblem } from "../wire/udp.ts";
import type { Engine } from "./engine.ts";
import type { ProtocolHandler } from "./proto.ts";

/** The UDP handler. */
export const UDP_HANDLER: ProtocolHandler = {
  proto: IPPROTO.UDP,

  sound(b: Uint8Array, l4: number, l4Length: number): boolean {
    return udpProblem(b, l4, l4Length) === undefined;
  },

  opens(): boolean {
    return true;
  },

  conn(e: Engine, _fam, _xmit, _b, _o, _l4, total: number, _limit, id: number): number {
    e.table.expires[id] = e.now() + e.udpTimeoutMs;
    return total;
  },

  timeoutMs(e: Engine): number {
    return e.udpTimeoutMs;
  },
};
