/**
 * The contract of a transport protocol that carries sessions, as DPVS's `dp_vs_proto`: a
 * header check, whether a packet with no session may open one, the per-packet connection
 * handling (state, expiry, the mode's in/out edits) and the idle timeout. The handlers are
 * `proto_tcp.ts` and `proto_udp.ts`; {@linkcode PROTOCOLS} indexes them by IP protocol.
 * ICMP carries no sessions of its own: its errors are translated for the sessions they are
 * about (`icmp_translate.ts`).
 *
 * @module
 */
import type { Engine } from "./engine.ts";
import type { AddressFamily } from "./family.ts";
import type { RealServer } from "./service.ts";
import type { Dir } from "./session_table.ts";
import type { Transmit } from "./xmit.ts";
import { TCP_HANDLER } from "./proto_tcp.ts";
import { UDP_HANDLER } from "./proto_udp.ts";

/** One transport protocol's handler. Every method allocates nothing. */
export interface ProtocolHandler {
  /** The IP protocol number. */
  readonly proto: number;
  /** True when the header at `l4` is sound for the `l4Length` bytes to the packet's end. */
  sound(b: Uint8Array, l4: number, l4Length: number): boolean;
  /** True when a packet that matches no session may open one (for TCP: a bare SYN). */
  opens(b: Uint8Array, l4: number): boolean;
  /**
   * Handles session `id`'s packet at `o` (transport at `l4`, `total` bytes, may grow to
   * `limit`) travelling in `dir` before it is transmitted: state, expiry and the edits of
   * `xmit`'s mode. Returns the new total, or minus the length of the reply to its sender that
   * replaced the packet (an ICMP error, a RST).
   */
  conn(
    e: Engine,
    fam: AddressFamily,
    xmit: Transmit,
    b: Uint8Array,
    o: number,
    l4: number,
    total: number,
    limit: number,
    id: number,
    dir: Dir,
    rs: RealServer,
  ): number;
  /** Milliseconds session `id` may stay idle in its current state. */
  timeoutMs(e: Engine, id: number): number;
}

/** Handlers by IP protocol number; undefined for protocols that carry no sessions. */
export const PROTOCOLS: readonly (ProtocolHandler | undefined)[] = (() => {
  const table: (ProtocolHandler | undefined)[] = new Array(256).fill(undefined);
  for (const h of [TCP_HANDLER, UDP_HANDLER]) table[h.proto] = h;
  return table;
})();
