/**
 * TCP: only a bare SYN opens a session; every packet advances the state machine
 * (`tcp_state.ts`, a literal transition matrix) and refreshes the expiry from the state's
 * timeout. A client SYN that opens or reopens a session maps its sequence space afresh (seed
 * 4.6); every RS->client segment records where the real server's sequence space stands, for
 * the resets on expiry (seed 4.8). The mode's own edits come from its transmit module.
 *
 * @module
 */
import { get32 } from "../wire/bytes.ts";
import { IPPROTO } from "../wire/ipv4.ts";
import { TCP, TCP_FLAG, tcpHeaderLength, tcpProblem } from "../wire/tcp.ts";
import type { Engine } from "./engine.ts";
import type { AddressFamily } from "./family.ts";
import { ISN_TICKS_PER_MS } from "./isn.ts";
import { noteClientSyn, noteServerSyn } from "./offload.ts";
import type { ProtocolHandler } from "./proto.ts";
import type { RealServer } from "./service.ts";
import { Dir, SessionFlag, type SessionTable } from "./session_table.ts";
import {
  nextTcpState,
  nextTcpStateInputOnly,
  SYN_ACK_WAIT,
  tcpEvent,
  TcpState,
} from "./tcp_state.ts";
import type { Transmit } from "./xmit.ts";

/** The TCP handler. */
export const TCP_HANDLER: ProtocolHandler = {
  proto: IPPROTO.TCP,

  sound(b: Uint8Array, l4: number, l4Length: number): boolean {
    return tcpProblem(b, l4, l4Length) === undefined;
  },

  opens(b: Uint8Array, l4: number): boolean {
    return (b[l4 + TCP.FLAGS] & (TCP_FLAG.SYN | TCP_FLAG.ACK | TCP_FLAG.RST)) === TCP_FLAG.SYN;
  },

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
  ): number {
    const t = e.table;
    const now = e.now();
    const flags = b[l4 + TCP.FLAGS];
    const st = t.state[id] as TcpState;
    // Replies of an input-only mode (DR, TUNNEL) never reach the engine (engine.ts passes them).
    const ns = xmit.inputOnly
      ? nextTcpStateInputOnly(st, tcpEvent(flags))
      : nextTcpState(st, tcpEvent(flags), dir === Dir.In);
    if (dir === Dir.In && (flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === TCP_FLAG.SYN) {
      // The ISN clock in 4-microsecond ticks, computed here: a double passed to a call that
      // is not inlined is boxed into a new heap number.
      clientSyn(e, fam, xmit, b, l4, id, st, ns, Math.floor(now * ISN_TICKS_PER_MS) | 0);
    }
    if (ns !== st) setState(t, id, rs, st, ns);
    const svc = rs.service;
    // The service's timeouts: the engine's, or its own where it has them.
    if (ns === TcpState.SYN_RECV && (dir === Dir.Out || (flags & TCP_FLAG.SYN) === 0)) {
      // Only the client's SYN extends a handshake it has not completed: a SYN-ACK (first or
      // retransmitted) or a client RST leaves at most the short hold, so a flood from spoofed
      // sources, whose SYN-ACKs nobody answers, holds local ports for seconds, not for the
      // real server's retransmissions plus tcpSynRecv (README "Under a SYN flood").
      const until = now + svc.tcpTimeoutMs[SYN_ACK_WAIT];
      if (until < t.expires[id]) t.expires[id] = until;
    } else t.expires[id] = now + svc.tcpTimeoutMs[ns];
    if (dir === Dir.In) return xmit.tcpIn(e, fam, b, o, l4, total, limit, id, svc, flags);
    trackServer(t, b, l4, o + total - l4, id, flags);
    xmit.tcpOut(e, fam, b, l4, id, svc, flags);
    return total;
  },

  timeoutMs(e: Engine, id: number): number {
    const svc = e.registry.services[e.table.service[id]];
    return (svc?.tcpTimeoutMs ?? e.tcpTimeoutMs)[e.table.state[id]];
  },
};

/**
 * A client SYN: a new session, or a SYN that reopens a session in a SYN or closing state
 * with a new ISN, gets a fresh sequence mapping; a retransmitted SYN keeps its mapping.
 */
function clientSyn(
  e: Engine,
  fam: AddressFamily,
  xmit: Transmit,
  b: Uint8Array,
  l4: number,
  id: number,
  st: TcpState,
  ns: TcpState,
  ticks: number,
): void {
  const t = e.table;
  const seq = get32(b, l4 + TCP.SEQ);
  if (st !== TcpState.NONE) {
    if (seq === t.clientIsn[id]) {
      e.counters.synRetransmits++;
      return;
    }
    if (ns !== TcpState.SYN_RECV) return;
    e.counters.seqMappingsRenewed++;
  }
  t.clientIsn[id] = seq;
  noteClientSyn(t, b, l4, id);
  // What the real server said belongs to the old mapping; the session's source count stays.
  t.flags[id] &= SessionFlag.SOURCE_COUNTED | SessionFlag.SYN_PROXY | SessionFlag.PROXY_WAIT;
  // The ISN is read back from the table: a sequence number of 2^31 or more passed to a call
  // that is not inlined is boxed into a new heap number.
  xmit.mapSequence(e, fam, id, ticks);
}

/**
 * Remembers where the real server's sequence space stands (before any translation: the
 * resets on expiry are written in it) from its segment at `l4` of `l4Length` bytes.
 */
function trackServer(
  t: SessionTable,
  b: Uint8Array,
  l4: number,
  l4Length: number,
  id: number,
  flags: number,
): void {
  const payload = l4Length - tcpHeaderLength(b, l4);
  // SYN and FIN each take one sequence number.
  const span = payload + (flags & TCP_FLAG.SYN ? 1 : 0) + (flags & TCP_FLAG.FIN ? 1 : 0);
  t.rsSeqEnd[id] = (get32(b, l4 + TCP.SEQ) + span) >>> 0;
  // The SYN-ACK's window scale and ISN, for the offload (`offload.ts`); SYNs only.
  if (flags & TCP_FLAG.SYN) noteServerSyn(t, b, l4, id, t.rsSeqEnd[id] - 1);
  if (flags & TCP_FLAG.ACK) t.rsAck[id] = get32(b, l4 + TCP.ACK);
  t.flags[id] |= payload > 0 ? SessionFlag.RS_SEEN | SessionFlag.RS_DATA : SessionFlag.RS_SEEN;
}

/** Moves session `id` from state `from` to `to`, keeping the server's active count right. */
function setState(t: SessionTable, id: number, rs: RealServer, from: TcpState, to: TcpState) {
  t.state[id] = to;
  if (from === TcpState.ESTABLISHED) {
    rs.activeConns--;
    rs.inactiveConns++;
  } else if (to === TcpState.ESTABLISHED) {
    rs.activeConns++;
    rs.inactiveConns--;
  }
}
