/**
 * NAT transmit (ipvsadm `-m`): only the destination is translated on the way in and only the
 * source on the way out; the real server routes its replies back through the balancer. The
 * session's local endpoint is the client's own (seed 4.1), so the FULLNAT lookup and rewrite
 * serve it unchanged; sequence numbers, timestamps, MSS and TOA are left alone (the real
 * server sees the client itself), but a TOA the client forged is still blanked.
 *
 * @module
 */
import { TCP, tcpHeaderLength } from "../wire/tcp.ts";
import type { Engine } from "./engine.ts";
import type { AddressFamily } from "./family.ts";
import { rewrite } from "./rewrite.ts";
import type { RealServer, Service } from "./service.ts";
import { NO_SESSION } from "./session_table.ts";
import { stripToa } from "./toa.ts";
import { METHOD_NAT, type Transmit } from "./xmit.ts";

/** NAT (ipvsadm `-m`). */
export const NAT: Transmit = {
  code: METHOD_NAT,
  inputOnly: false,
  marks: false,

  connect(
    e: Engine,
    fam: AddressFamily,
    _svc: Service,
    rs: RealServer,
    proto: number,
    b: Uint8Array,
    o: number,
    cport: number,
    vport: number,
  ): number {
    // Replies come from the real server to the client itself: that tuple must be free.
    if (fam.clientTaken(e.table, proto, rs, b, o, cport)) {
      e.counters.natTupleInUse++;
      return NO_SESSION;
    }
    const id = fam.insert(e.table, proto, b, o, cport, vport, undefined, cport, rs);
    if (id === NO_SESSION) {
      e.counters.tableFull++;
      return NO_SESSION;
    }
    e.table.local[id] = -1;
    return id;
  },

  mapSequence(): void {},

  tcpIn(
    e: Engine,
    _fam: AddressFamily,
    b: Uint8Array,
    _o: number,
    l4: number,
    total: number,
  ): number {
    if (tcpHeaderLength(b, l4) > TCP.MIN_HEADER) {
      const spoofed = stripToa(b, l4);
      if (spoofed !== 0) e.counters.toaSpoofRemoved += spoofed;
    }
    return total;
  },

  tcpOut(): void {},

  xmit: rewrite,
};
