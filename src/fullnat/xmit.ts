/**
 * The contract of a forwarding mode (seed 4.9's flag: FULLNAT beside DR, NAT and TUNNEL),
 * as DPVS cuts `ip_vs_xmit`: each mode says how a new connection binds its local endpoint and
 * what it does to a TCP segment beyond the shared state tracking, and writes the packet out.
 * One lookup path serves every mode (seed 4.1), so modes differ only here.
 *
 * Modes: `xmit_fullnat.ts` (seed 4.2), `xmit_nat.ts`; the table that maps a session's method
 * code to its mode is `xmit_modes.ts`. Adding a mode (DR, TUNNEL) means a new `xmit_*.ts`
 * implementing {@linkcode Transmit}, a code here, and a line in that table.
 *
 * @module
 */
import type { Engine } from "./engine.ts";
import type { AddressFamily } from "./family.ts";
import type { RealServer, Service } from "./service.ts";
import type { Dir, SessionTable } from "./session_table.ts";

/** Method code stored in `SessionTable.method` for FULLNAT sessions. */
export const METHOD_FULLNAT = 0;
/** NAT mode: only the destination is translated; the client address is kept. */
export const METHOD_NAT = 1;
/** DR mode: the packet goes on unchanged, routed to the real server by its mark. */
export const METHOD_DR = 2;
/**
 * TUNNEL mode (ipvsadm `-i`): the client's packet, unchanged, is wrapped in IPIP (IPv6 in
 * IPv6) to the real server, which answers the client directly.
 */
export const METHOD_TUNNEL = 3;

/** One forwarding mode. Every method allocates nothing. */
export interface Transmit {
  /** The code sessions of this mode carry in `SessionTable.method`. */
  readonly code: number;
  /**
   * True when the real server's replies never cross the balancer (DR, TUNNEL): the session
   * sees the client's segments only, and TCP follows IPVS's input-only state table.
   */
  readonly inputOnly: boolean;
  /**
   * True when the packet leaves unchanged with the real server's mark in its verdict
   * (`RealServer.mark`), for the policy route that takes it to the server (DR).
   */
  readonly marks: boolean;
  /**
   * Modes that wrap the client's packet in an outer header (TUNNEL), after the protocol's
   * edits, for the packet at `o` (transport at `l4`, `total` bytes): `room` bytes are free
   * from `o`, `gso` says the packet is a GSO super-packet. Returns
   * the wrapped packet's length (it then starts at `o`), minus the length of the ICMP error
   * that replaced it, or 0 when it must be dropped (counted).
   */
  wrap?(
    e: Engine,
    fam: AddressFamily,
    b: Uint8Array,
    o: number,
    l4: number,
    total: number,
    room: number,
    gso: boolean,
    id: number,
  ): number;
  /**
   * Creates the session of the new connection in the packet at `o` (client `cport`, virtual
   * `vport`) to `rs`: binds its local endpoint and sets `t.local[id]`. Returns the id, or
   * `NO_SESSION` having counted why.
   */
  connect(
    e: Engine,
    fam: AddressFamily,
    svc: Service,
    rs: RealServer,
    proto: number,
    b: Uint8Array,
    o: number,
    cport: number,
    vport: number,
  ): number;
  /**
   * A client SYN (re)opened session `id`, its sequence number already in `clientIsn`: map its
   * sequence space.
   */
  mapSequence(e: Engine, fam: AddressFamily, id: number, ticks: number): void;
  /**
   * Client->RS TCP edits of session `id`'s segment at `l4` (packet at `o`, `total` bytes, may
   * grow to `limit`) before the rewrite. Returns the new total, or minus the length of the
   * ICMP error that replaced the segment.
   */
  tcpIn(
    e: Engine,
    fam: AddressFamily,
    b: Uint8Array,
    o: number,
    l4: number,
    total: number,
    limit: number,
    id: number,
    svc: Service,
    flags: number,
  ): number;
  /** RS->client TCP edits of session `id`'s segment at `l4` before the rewrite. */
  tcpOut(
    e: Engine,
    fam: AddressFamily,
    b: Uint8Array,
    l4: number,
    id: number,
    svc: Service,
    flags: number,
  ): void;
  /** Writes the packet of session `id` travelling in `dir` out: addresses, ports, checksums. */
  xmit(
    fam: AddressFamily,
    b: Uint8Array,
    o: number,
    l4: number,
    proto: number,
    t: SessionTable,
    id: number,
    dir: Dir,
  ): void;
}
