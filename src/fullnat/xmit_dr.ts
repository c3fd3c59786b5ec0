/**
 * DR transmit (ipvsadm `-g`, direct routing): the client's packet goes on exactly as it came,
 * still addressed to the VIP; the verdict carries the real server's mark
 * (`RealServer.mark`, `dr_mark.ts`) and the daemon's policy route for that mark
 * (`src/kernel/dr_routes.ts`) hands it to the server's MAC address on the attached segment.
 * The server holds the VIP on a loopback and answers the client itself, so the session sees
 * client segments only: no local address, no sequence mapping, no TOA (the server sees the
 * client's own address), and TCP state follows IPVS's input-only table (`tcp_state.ts`).
 *
 * @module
 */
import type { Engine } from "./engine.ts";
import type { AddressFamily } from "./family.ts";
import { METHOD_DR, type Transmit } from "./xmit.ts";
import { NAT } from "./xmit_nat.ts";

/** DR (ipvsadm `-g`). */
export const DR: Transmit = {
  code: METHOD_DR,
  inputOnly: true,
  marks: true,

  // Indexed by the client's own tuple, as in NAT: two sessions of one client tuple to one
  // server would be indistinguishable.
  connect: NAT.connect,

  mapSequence(): void {},

  tcpIn(
    _e: Engine,
    _fam: AddressFamily,
    _b: Uint8Array,
    _o: number,
    _l4: number,
    total: number,
  ): number {
    return total;
  },

  tcpOut(): void {},

  // The packet is not touched: the mark in the verdict does the forwarding.
  xmit(): void {},
};
