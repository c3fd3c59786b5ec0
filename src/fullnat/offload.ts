/**
 * The engine's half of the kernel fast path (`--offload established`): which sessions may be
 * handed to the kernel's conntrack, what the kernel needs to carry them (addresses, the
 * sequence delta as a seqadj, the handshake's window scales), and what becomes of a session
 * while the kernel holds it and once the kernel's entry is gone.
 *
 * Everything here is out of line and off the per-packet path, except the two handshake notes
 * (`noteClientSyn`, `noteServerSyn`), which run on SYNs only. The daemon (`offload_step.ts`)
 * collects candidates, talks to the kernel through its port and reports back; the engine
 * keeps every offloaded session in its table (local port reserved, listings unchanged) and
 * handles any packet of one that reaches the queue anyway exactly as before, counted.
 *
 * @module
 */
import { IPPROTO } from "../wire/ipv4.ts";
import { NO_OPTION, TCPOPT, tcpOptionFind } from "../wire/tcp_options.ts";
import type { Engine } from "./engine.ts";
import { outOfService } from "./health_state.ts";
import { Handshake, SessionFlag, type SessionTable, V6 } from "./session_table.ts";
import { TcpState } from "./tcp_state.ts";
import { METHOD_FULLNAT, METHOD_NAT } from "./xmit.ts";

/** One end of a connection as the kernel sees it: network-order address bytes and a port. */
export interface OffloadEndpoint {
  /** 4 (IPv4) or 16 (IPv6) bytes, network order. */
  addr: Uint8Array;
  port: number;
}

/**
 * What the kernel needs to carry a session: the conntrack entry's original tuple is
 * client -> vip, its reply tuple rs -> local (DNAT to `rs`, SNAT to `local`).
 */
export interface OffloadRequest {
  family: 4 | 6;
  proto: "tcp";
  client: OffloadEndpoint;
  vip: OffloadEndpoint;
  rs: OffloadEndpoint;
  /** The local address and port (NAT mode: the client's own). */
  local: OffloadEndpoint;
  /**
   * Added to client -> real server sequence numbers (uint32; the kernel's CTA_SEQ_ADJ_ORIG
   * offset_before and offset_after; the reply direction's adjustment is 0). 0 in NAT mode.
   */
  seqDeltaClientToRs: number;
  /** The client's ISN (uint32): CTA_SEQ_ADJ_ORIG's correction_pos, before every segment. */
  clientIsnPos: number;
  /** Window scale the client offered in its SYN, 0..14, or -1 (none offered, or not known). */
  wscaleClient: number;
  /** Window scale the real server offered in its SYN-ACK, 0..14, or -1. */
  wscaleRs: number;
  /** The entry's timeout in seconds (the session's ESTABLISHED timeout). */
  timeoutSec: number;
  /** The entry's conntrack mark, {@linkcode offloadMark}: tells the worker and the session. */
  mark: number;
  /** The engine's session id (also the mark's low 24 bits). */
  sessionId: number;
}

/** What identifies a conntrack entry the offload made: its original tuple and its mark. */
export interface OffloadKey {
  family: 4 | 6;
  proto: "tcp";
  client: OffloadEndpoint;
  vip: OffloadEndpoint;
  mark: number;
}

/** The kernel's counters of one entry: original direction (client's) and reply (server's). */
export interface OffloadCounters {
  inPackets: number;
  inBytes: number;
  outPackets: number;
  outBytes: number;
}

/** Bits 31..30 of every offload mark: tells the balancer's entries from any other. */
export const OFFLOAD_MARK_TAG = 0x80000000;
/** The mask that picks the tag out of a mark. */
export const OFFLOAD_MARK_TAG_MASK = 0xc0000000;
/** The mask that picks the tag and the worker out of a mark (one worker's entries). */
export const OFFLOAD_MARK_WORKER_MASK = 0xff000000;
/** The mark's low bits: the session id (tables hold at most 2^24 sessions). */
const SESSION_MASK = 0x00ffffff;

/** The conntrack mark of worker `worker`'s (0..63) session `id`. */
export function offloadMark(worker: number, id: number): number {
  return (OFFLOAD_MARK_TAG | (worker & 0x3f) << 24 | (id & SESSION_MASK)) >>> 0;
}

/** The mark every entry of worker `worker` carries under {@linkcode OFFLOAD_MARK_WORKER_MASK}. */
export function offloadWorkerMark(worker: number): number {
  return offloadMark(worker, 0);
}

/** The session id a mark names (whatever its worker). */
export function markSession(mark: number): number {
  return mark & SESSION_MASK;
}

/** Notes the window scale of the client SYN at `l4` that (re)opened session `id`. */
export function noteClientSyn(t: SessionTable, b: Uint8Array, l4: number, id: number): void {
  t.handshake[id] = wscaleOf(b, l4) + 1;
}

/** Notes the window scale and ISN of the real server's SYN-ACK at `l4` for session `id`. */
export function noteServerSyn(t: SessionTable, b: Uint8Array, l4: number, id: number, isn: number) {
  t.handshake[id] = (t.handshake[id] & Handshake.CLIENT_WSCALE) | (wscaleOf(b, l4) + 1) << 4 |
    Handshake.RS_ISN;
  t.rsIsn[id] = isn;
}

/** The window scale option of the TCP header at `l4` (at most 14, as RFC 7323), or -1. */
function wscaleOf(b: Uint8Array, l4: number): number {
  const off = tcpOptionFind(b, l4, TCPOPT.WINDOW_SCALE);
  if (off === NO_OPTION || b[off + 1] !== 3) return -1;
  return Math.min(b[off + 2], 14);
}

/**
 * Bytes both ends have sent in session `id` as far as the engine saw them: the client's up to
 * the real server's last ack, the server's up to its last segment. Infinity for a session
 * whose handshake this process did not see (taken over at a restart): it is old anyway.
 */
export function sessionBytes(t: SessionTable, id: number): number {
  if ((t.handshake[id] & Handshake.RS_ISN) === 0) return Infinity;
  const client = (t.rsAck[id] - t.seqDelta[id] - t.clientIsn[id] - 1) >>> 0;
  const server = (t.rsSeqEnd[id] - t.rsIsn[id] - 1) >>> 0;
  return client + server;
}

/**
 * Why session `id` cannot be offloaded now, or undefined when it can: a FULLNAT or NAT TCP
 * session, ESTABLISHED, whose real server has sent data (so TOA is done with), not a SYN
 * proxy session (its timestamp and window translation is beyond conntrack), not already
 * offloaded, its server in service, and past `minBytes` both ways together.
 */
export function offloadRefusal(e: Engine, id: number, minBytes: number): string | undefined {
  const t = e.table;
  if (!t.live(id)) return "no such session";
  if ((t.proto[id] & ~V6) !== IPPROTO.TCP) return "not TCP";
  if (t.method[id] !== METHOD_FULLNAT && t.method[id] !== METHOD_NAT) return "not FULLNAT or NAT";
  const f = t.flags[id];
  if ((f & SessionFlag.OFFLOADED) !== 0) return "already offloaded";
  if ((f & (SessionFlag.SYN_PROXY | SessionFlag.PROXY_WAIT)) !== 0) return "SYN proxy session";
  if ((f & SessionFlag.ONE_PACKET) !== 0) return "one-packet session";
  if (t.state[id] !== TcpState.ESTABLISHED) return "not ESTABLISHED";
  if ((f & SessionFlag.RS_DATA) === 0) return "real server has sent no data (TOA pending)";
  if ((t.handshake[id] & Handshake.RETURNED) !== 0) return "came back from the kernel";
  const rs = e.registry.servers[t.server[id]];
  if (rs === undefined || outOfService(rs)) return "real server out of service";
  if (e.registry.services[t.service[id]] === undefined) return "service deleted";
  if (sessionBytes(t, id) < minBytes) return "below the byte threshold";
  return undefined;
}

/**
 * Fills `out` with up to `out.length` ids of sessions that may be offloaded now, looking at
 * no more than `budget` slots from where the previous call stopped (the scan wraps), so a big
 * table costs each call a bounded amount. Returns how many ids it wrote.
 */
export function collectOffloadCandidates(
  e: Engine,
  out: Int32Array,
  minBytes: number,
  budget: number,
): number {
  const t = e.table;
  const hw = t.highWater;
  if (hw === 0) return 0;
  let at = e.offloadScanAt < hw ? e.offloadScanAt : 0;
  let n = 0;
  for (let seen = 0; seen < budget && seen < hw && n < out.length; seen++) {
    if (
      t.proto[at] === (IPPROTO.TCP | (t.proto[at] & V6)) && t.state[at] === TcpState.ESTABLISHED &&
      offloadRefusal(e, at, minBytes) === undefined
    ) out[n++] = at;
    if (++at >= hw) at = 0;
  }
  e.offloadScanAt = at;
  return n;
}

/** The request that hands session `id` of worker `worker` to the kernel. */
export function offloadRequest(e: Engine, id: number, worker: number): OffloadRequest {
  const t = e.table;
  const v6 = (t.proto[id] & V6) !== 0;
  const svc = e.registry.services[t.service[id]];
  const timeoutMs = (svc?.tcpTimeoutMs ?? e.tcpTimeoutMs)[TcpState.ESTABLISHED];
  const hs = t.handshake[id];
  return {
    family: v6 ? 6 : 4,
    proto: "tcp",
    client: endpoint(t, id, v6, 0),
    vip: endpoint(t, id, v6, 1),
    rs: endpoint(t, id, v6, 3),
    local: endpoint(t, id, v6, 2),
    seqDeltaClientToRs: t.seqDelta[id] >>> 0,
    clientIsnPos: t.clientIsn[id] >>> 0,
    wscaleClient: (hs & Handshake.CLIENT_WSCALE) - 1,
    wscaleRs: ((hs & Handshake.RS_WSCALE) >> 4) - 1,
    timeoutSec: Math.ceil(timeoutMs / 1000),
    mark: offloadMark(worker, id),
    sessionId: id,
  };
}

/** The key of the entry {@linkcode offloadRequest} made for session `id` of `worker`. */
export function offloadKey(e: Engine, id: number, worker: number): OffloadKey {
  const t = e.table;
  const v6 = (t.proto[id] & V6) !== 0;
  return {
    family: v6 ? 6 : 4,
    proto: "tcp",
    client: endpoint(t, id, v6, 0),
    vip: endpoint(t, id, v6, 1),
    mark: offloadMark(worker, id),
  };
}

/** Session `id`'s address and port in `slot` (client 0, virtual 1, local 2, real 3). */
function endpoint(t: SessionTable, id: number, v6: boolean, slot: number): OffloadEndpoint {
  const addr = new Uint8Array(v6 ? 16 : 4);
  const view = new DataView(addr.buffer);
  if (v6) {
    for (let w = 0; w < 4; w++) view.setUint32(w * 4, t.addr6[id * 16 + slot * 4 + w]);
  } else view.setUint32(0, t.addrBySlot[slot][id]);
  return { addr, port: t.portBySlot[slot][id] };
}

/** True when `key` (an entry's original tuple) still describes session `id`. */
export function keyMatches(e: Engine, id: number, key: OffloadKey): boolean {
  const t = e.table;
  if (!t.live(id) || (t.proto[id] & ~V6) !== IPPROTO.TCP) return false;
  const v6 = (t.proto[id] & V6) !== 0;
  if ((key.family === 6) !== v6) return false;
  return sameEndpoint(endpoint(t, id, v6, 0), key.client) &&
    sameEndpoint(endpoint(t, id, v6, 1), key.vip);
}

function sameEndpoint(a: OffloadEndpoint, b: OffloadEndpoint): boolean {
  if (a.port !== b.port || a.addr.length !== b.addr.length) return false;
  for (let i = 0; i < a.addr.length; i++) if (a.addr[i] !== b.addr[i]) return false;
  return true;
}

/**
 * The kernel took session `id`: from now on its packets bypass the queue. The real server's
 * sequence numbers the engine follows go stale, so they no longer count as known (no expiry
 * resets from stale numbers; a packet that falls back sets them again).
 */
export function markOffloaded(e: Engine, id: number): void {
  const t = e.table;
  t.flags[id] = (t.flags[id] | SessionFlag.OFFLOADED) & ~SessionFlag.RS_SEEN;
  t.handshake[id] &= ~Handshake.FELL_BACK;
  e.counters.offloaded++;
}

/** How an offload attempt failed, as the daemon's port reports it. */
export type OffloadFailure = "clash" | "full" | "error";

/** The kernel refused session `id` (`why`): it stays in the engine, as before; counted. */
export function offloadFailed(e: Engine, why: OffloadFailure): void {
  const c = e.counters;
  if (why === "clash") c.offloadClash++;
  else if (why === "full") c.offloadFull++;
  else c.offloadFailed++;
}

/**
 * A packet of offloaded session `id` reached the engine (the kernel's entry is gone, or it
 * found the packet INVALID): the engine handles it as it always did; counted and remembered,
 * so that when the kernel's entry turns out gone the session carries on here.
 */
export function offloadFallback(e: Engine, id: number): void {
  const t = e.table;
  if ((t.handshake[id] & Handshake.FELL_BACK) === 0) {
    t.handshake[id] |= Handshake.FELL_BACK;
    // Once per session: the daemon looks whether it is closing here (`takeBackClosing`).
    e.offloadFellBack.push(id);
  }
  e.counters.offloadFallback++;
}

/**
 * The offloaded sessions whose packets came back to the engine and that the engine saw leave
 * ESTABLISHED (their close went through the queue: packets in flight when the kernel took
 * them, typically of a short connection offloaded as it closed): the kernel's entry, still
 * ESTABLISHED there, would hold the local port for the whole ESTABLISHED timeout. Each is taken
 * back ({@linkcode recallSession}) and its key returned, for the daemon to delete the entry.
 */
export function takeBackClosing(e: Engine, worker: number): OffloadKey[] {
  const t = e.table;
  const out: OffloadKey[] = [];
  const list = e.offloadFellBack;
  let keep = 0;
  for (let i = 0; i < list.length; i++) {
    const id = list[i];
    const still = t.live(id) && (t.flags[id] & SessionFlag.OFFLOADED) !== 0 &&
      (t.handshake[id] & Handshake.FELL_BACK) !== 0;
    if (!still) continue;
    if (t.state[id] === TcpState.ESTABLISHED) {
      // Still open: the kernel's entry ends it, or a later close brings it back here.
      list[keep++] = id;
      continue;
    }
    out.push(offloadKey(e, id, worker));
    recallSession(e, id);
  }
  list.length = keep;
  return out;
}

/** Takes offloaded session `id` back into the engine, under its idle timer from now. */
export function recallSession(e: Engine, id: number): void {
  e.table.flags[id] &= ~SessionFlag.OFFLOADED;
  e.table.handshake[id] = (e.table.handshake[id] | Handshake.RETURNED) & ~Handshake.PROBING;
  e.table.expires[id] = e.now() + e.timeoutMs(id);
  e.counters.offloadRecalled++;
}

/**
 * What became of a session whose kernel entry went, by {@linkcode offloadGone}: `ended` (the
 * session was removed: its local port is free), `carried` (its packets already fall back to
 * the engine: it carries on there), `stale` (the key no longer names an offloaded session).
 */
export type GoneOutcome = "ended" | "carried" | "stale" | "probing";

/**
 * How recent the last packet the engine handled of a session must be, when the kernel's entry
 * goes, for the session to carry on in the engine: its packets are coming to the queue now.
 */
export const CARRY_WINDOW_MS = 2000;

/**
 * The kernel's entry `key` is gone (a destroy event, or missing from a dump), having counted
 * `final` beyond what {@linkcode offloadCounted} already added: the counts go to the session's
 * service and real server. A session whose packets are coming back to the queue (one within
 * {@linkcode CARRY_WINDOW_MS}: the entry was deleted under a live connection), or whose entry
 * was deleted while ESTABLISHED with time left (`liveDeleted`: `conntrack -D`, a flush; its
 * packets may not have come yet), carries on in the engine under its idle timer. One whose entry ended by idle timeout while ESTABLISHED
 * (`idleExpiry`: the destroy event's TCP state and no time left) is reset at both ends as an
 * expiring session is: the engine probes the real server for the sequence numbers the kernel
 * does not export (`offload_expiry.ts`) and keeps the session until the answer, `probing`.
 * Any other ended with the kernel's entry (the kernel saw its close) and is removed now.
 */
export function offloadGone(
  e: Engine,
  key: OffloadKey,
  final: OffloadCounters,
  idleExpiry = false,
  liveDeleted = false,
): GoneOutcome {
  const id = markSession(key.mark);
  const t = e.table;
  if (
    !keyMatches(e, id, key) || (t.flags[id] & SessionFlag.OFFLOADED) === 0 ||
    (t.handshake[id] & Handshake.PROBING) !== 0
  ) {
    e.counters.offloadGoneStale++;
    return "stale";
  }
  offloadCounted(e, id, final);
  e.counters.offloadGone++;
  // Every packet the engine handles sets the expiry from its state's timeout, so this is when
  // it last saw one; packets that were only in flight at the handover are long past.
  const lastSeen = t.expires[id] - e.timeoutMs(id);
  // A live connection's entry deleted under it (`liveDeleted`): its next packets come to the
  // queue, perhaps after the event is read, so it carries on without waiting to see one.
  const recent = (t.handshake[id] & Handshake.FELL_BACK) !== 0 &&
    e.now() - lastSeen < CARRY_WINDOW_MS;
  if (recent || (liveDeleted && t.state[id] === TcpState.ESTABLISHED)) {
    t.flags[id] &= ~SessionFlag.OFFLOADED;
    t.expires[id] = e.now() + e.timeoutMs(id);
    t.handshake[id] |= Handshake.RETURNED;
    return "carried";
  }
  // Still OFFLOADED while it waits: the answer takes the engine's out-of-line path.
  if (idleExpiry && t.state[id] === TcpState.ESTABLISHED && e.probeOffloadExpiry(id)) {
    return "probing";
  }
  t.flags[id] &= ~SessionFlag.OFFLOADED;
  e.removeSession(id);
  e.counters.sessionsExpired++;
  return "ended";
}

/** Adds `delta`, counted by the kernel for session `id`, to its service's and server's stats. */
export function offloadCounted(e: Engine, id: number, delta: OffloadCounters): void {
  const t = e.table;
  const rs = e.registry.servers[t.server[id]];
  const svc = e.registry.services[t.service[id]];
  for (const s of [rs?.stats, svc?.stats]) {
    if (s === undefined) continue;
    s.inPackets += delta.inPackets;
    s.inBytes += delta.inBytes;
    s.outPackets += delta.outPackets;
    s.outBytes += delta.outBytes;
  }
}

/**
 * Takes every offloaded session back into the engine (the fast path was switched off, or the
 * kernel's entries were deleted wholesale): each goes back under the idle timer from now, its
 * packets reaching the queue again. Returns how many there were.
 */
export function recallOffloaded(e: Engine): number {
  const t = e.table;
  let n = 0;
  for (let id = 0, hw = t.highWater; id < hw; id++) {
    if (!t.live(id) || (t.flags[id] & SessionFlag.OFFLOADED) === 0) continue;
    recallSession(e, id);
    n++;
  }
  return n;
}

/** True when some session of `e` is offloaded. */
export function anyOffloaded(e: Engine): boolean {
  const t = e.table;
  for (let id = 0, hw = t.highWater; id < hw; id++) {
    if (t.live(id) && (t.flags[id] & SessionFlag.OFFLOADED) !== 0) return true;
  }
  return false;
}
