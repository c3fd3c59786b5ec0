/**
 * What a packet that would open a session (a TCP SYN, a UDP datagram with no session) must
 * pass before one is made, so that a flood makes no state the real server would not keep
 * (issue 16):
 *
 * - its transport checksum, unless the kernel says it is not filled in yet (checksum offload:
 *   `NFQA_SKB_CSUMNOTREADY`, a packet from a local stack): the real server would drop a
 *   segment with a wrong one, so the balancer must not hold a local port for it;
 * - the service's deny list (it wins) and allow list (when not empty, only sources in it);
 * - the service's per-source limits: new connections per second and open sessions
 *   (`source_table.ts`).
 *
 * A packet refused here is dropped, not answered: a reset to a spoofed source would only turn
 * the balancer into a reflector. Every refusal is counted by cause, engine-wide and per
 * service. Nothing here allocates; it runs once per new connection, out of the per-packet
 * path.
 *
 * @module
 */
import { fold, sumWords } from "../wire/checksum.ts";
import { IPPROTO } from "../wire/ipv4.ts";
import type { EngineCounters } from "./counters.ts";
import type { AddressFamily } from "./family.ts";
import type { Service } from "./service.ts";
import { A6, SessionFlag, type SessionTable, V6 } from "./session_table.ts";
import { OVER_RATE, OVER_SESSIONS, sourceTime } from "./source_table.ts";

/** `NFQA_SKB_CSUMNOTREADY`: the transport checksum holds only the pseudo-header's sum. */
const SKB_CSUM_NOT_READY = 1;
/** Offset of the UDP checksum field. */
const UDP_CHECK = 6;

/** {@linkcode admit}: refused and counted; the packet is dropped (not `NO_SESSION`, -1). */
export const NOT_ADMITTED = -3;
/** {@linkcode admit}: admitted, and the service keeps no per-source counts. */
export const ADMITTED = -2;

/** The client address of the packet in hand, as four words (reused). */
const client = new Uint32Array(4);

/**
 * True when the TCP or UDP checksum of the segment at `b[l4, end)` of the packet at `o` is
 * right, or absent (a UDP checksum of 0 where the family allows it).
 */
export function l4ChecksumOk(
  fam: AddressFamily,
  b: Uint8Array,
  o: number,
  l4: number,
  end: number,
  proto: number,
): boolean {
  if (
    proto === IPPROTO.UDP && fam.udpChecksumOptional && b[l4 + UDP_CHECK] === 0 &&
    b[l4 + UDP_CHECK + 1] === 0
  ) return true;
  const len = end - l4;
  return fold(fam.sumAddrs(b, o) + proto + len + sumWords(b, l4, len)) === 0xffff;
}

/**
 * Checks the opening packet at `o` (transport at `l4`, ending at `end`) for service `svc`.
 * Returns {@linkcode NOT_ADMITTED} having counted why, {@linkcode ADMITTED}, or the slot of
 * the source in the service's per-source table, to count the session in once it exists
 * ({@linkcode countSource}). The caller has set {@linkcode sourceTime} when the service keeps
 * per-source counts.
 */
export function admit(
  c: EngineCounters,
  fam: AddressFamily,
  svc: Service,
  b: Uint8Array,
  o: number,
  l4: number,
  end: number,
  proto: number,
  skbInfo: number,
): number {
  if ((skbInfo & SKB_CSUM_NOT_READY) === 0 && !l4ChecksumOk(fam, b, o, l4, end, proto)) {
    c.badChecksum++;
    return NOT_ADMITTED;
  }
  if (!svc.guarded) return ADMITTED;
  fam.clientWords(b, o, client);
  if (
    (svc.denySet !== undefined && svc.denySet.has(client)) ||
    (svc.allowSet !== undefined && !svc.allowSet.has(client))
  ) {
    c.aclDenied++;
    svc.refused.aclDenied++;
    return NOT_ADMITTED;
  }
  const sources = svc.sources;
  if (sources === undefined) return ADMITTED;
  const r = sources.admit(client, svc.sourceRateLimit, svc.sourceSessionsLimit, c);
  if (r === OVER_RATE) {
    c.sourceRateRefused++;
    svc.refused.sourceRate++;
    return NOT_ADMITTED;
  }
  if (r === OVER_SESSIONS) {
    c.sourceSessionsRefused++;
    svc.refused.sourceSessions++;
    return NOT_ADMITTED;
  }
  return r;
}

/** Counts new session `id` of `svc` against its source, in `slot` of the per-source table. */
export function countSource(t: SessionTable, svc: Service, id: number, slot: number): void {
  if (svc.sources === undefined) return;
  svc.sources.opened(slot);
  t.flags[id] |= SessionFlag.SOURCE_COUNTED;
}

/** Session `id` of `svc`, counted against its source, ends: its source holds one less. */
export function releaseSource(t: SessionTable, svc: Service, id: number): void {
  const sources = svc.sources;
  if (sources === undefined) return;
  sessionClient(t, id);
  sources.release(client);
}

/**
 * Counts session `id` of `svc`, taken over from a previous process, against its client in
 * this engine's per-source table, whatever the limits (it is open already).
 */
export function recountSource(
  t: SessionTable,
  svc: Service,
  id: number,
  c: EngineCounters,
  now: number,
): void {
  t.flags[id] &= ~SessionFlag.SOURCE_COUNTED;
  const sources = svc.sources;
  if (sources === undefined) return;
  sessionClient(t, id);
  sourceTime[0] = now;
  countSource(t, svc, id, sources.slotOf(client, svc.sourceRateLimit, c));
}

/** Writes the client address of session `id` into `client`. */
function sessionClient(t: SessionTable, id: number): void {
  if ((t.proto[id] & V6) !== 0) {
    const at = id * 16 + A6.C;
    for (let i = 0; i < 4; i++) client[i] = t.addr6[at + i];
  } else {
    client[0] = t.caddr[id];
    client[1] = 0;
    client[2] = 0;
    client[3] = 0;
  }
}
