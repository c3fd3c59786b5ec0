/**
 * The TCP connection state machine of a balanced session, as literal data: states, the event a
 * segment represents, and a transition matrix per direction. The balancer sees both halves of
 * the conversation, so it tracks one state for the pair, the way IPVS does.
 *
 * @module
 */
import type { Timeouts } from "./types.ts";
import { TCP_FLAG } from "../wire/tcp.ts";

/** Session states. Numbering is internal; names are what ipvsadm prints. */
export const TcpState = {
  NONE: 0,
  ESTABLISHED: 1,
  SYN_SENT: 2,
  SYN_RECV: 3,
  FIN_WAIT: 4,
  TIME_WAIT: 5,
  CLOSE: 6,
  CLOSE_WAIT: 7,
  LAST_ACK: 8,
} as const;
/** One of the {@linkcode TcpState} values. */
export type TcpState = typeof TcpState[keyof typeof TcpState];

/** State names indexed by state number. */
export const TCP_STATE_NAMES: readonly string[] = [
  "NONE",
  "ESTABLISHED",
  "SYN_SENT",
  "SYN_RECV",
  "FIN_WAIT",
  "TIME_WAIT",
  "CLOSE",
  "CLOSE_WAIT",
  "LAST_ACK",
];

/** What a segment means to the state machine; RST outranks SYN outranks FIN outranks ACK. */
export const TcpEvent = { SYN: 0, FIN: 1, ACK: 2, RST: 3 } as const;
/** One of the {@linkcode TcpEvent} values. */
export type TcpEvent = typeof TcpEvent[keyof typeof TcpEvent];

/** Classifies a segment by its flag byte. */
export function tcpEvent(flags: number): TcpEvent {
  if (flags & TCP_FLAG.RST) return TcpEvent.RST;
  if (flags & TCP_FLAG.SYN) return TcpEvent.SYN;
  if (flags & TCP_FLAG.FIN) return TcpEvent.FIN;
  return TcpEvent.ACK;
}

const { NONE: NO, ESTABLISHED: ES, SYN_SENT: SS, SYN_RECV: SR, FIN_WAIT: FW } = TcpState;
const { TIME_WAIT: TW, CLOSE: CL, CLOSE_WAIT: CW, LAST_ACK: LA } = TcpState;

// Rows are events (SYN, FIN, ACK, RST); columns are the current state in TcpState order:
//            NO  ES  SS  SR  FW  TW  CL  CW  LA
/** Transitions for segments from the client towards the real server. */
const FROM_CLIENT: readonly (readonly TcpState[])[] = [
  /* SYN */ [SR, ES, ES, SR, SR, SR, SR, SR, SR], // a new SYN after close reopens the session
  /* FIN */ [CL, CW, SS, TW, TW, TW, CL, CW, LA], // client closes first: CLOSE_WAIT until RS FIN
  /* ACK */ [ES, ES, SS, ES, FW, TW, CL, CW, CL], // third-handshake ACK establishes
  /* RST */ [CL, CL, CL, SR, CL, CL, CL, CL, LA],
];

/** Transitions for segments from the real server towards the client. */
const FROM_SERVER: readonly (readonly TcpState[])[] = [
  /* SYN */ [SS, ES, SS, SR, SS, SS, SS, SS, SS], // SYN-ACK keeps SYN_RECV
  /* FIN */ [TW, FW, SS, TW, FW, TW, CL, TW, LA], // server closes first: FIN_WAIT
  // A bare ACK in SYN_RECV is no handshake step (the client's ACK establishes): it is a
  // challenge ACK from a server holding a lost connection on the tuple (proto_tcp.ts).
  /* ACK */ [ES, ES, SS, SR, FW, TW, CL, CW, LA],
  /* RST */ [CL, CL, SS, CL, CL, TW, CL, CL, CL],
];

/**
 * Transitions for client segments of a session whose real server answers the client directly
 * (DR, TUNNEL: IPVS's `IP_VS_CONN_F_NOOUTPUT`, its "INPUT-ONLY" rows of `tcp_states`). The
 * server's FIN is never seen, so the client's FIN from ESTABLISHED leads to FIN_WAIT (short
 * timeout) rather than CLOSE_WAIT, and a FIN in FIN_WAIT stays there.
 */
const CLIENT_ONLY: readonly (readonly TcpState[])[] = [
  /* SYN */ [SR, ES, ES, SR, SR, SR, SR, SR, SR],
  /* FIN */ [CL, FW, SS, TW, FW, TW, CL, CW, LA],
  /* ACK */ [ES, ES, SS, ES, FW, TW, CL, CW, CL],
  /* RST */ [CL, CL, CL, SR, CL, CL, CL, CL, LA],
];

/** The next state after a segment of event `ev` travelling in the given direction. */
export function nextTcpState(state: TcpState, ev: TcpEvent, fromClient: boolean): TcpState {
  return (fromClient ? FROM_CLIENT : FROM_SERVER)[ev][state];
}

/** The next state after a client segment of a session that sees no replies (DR). */
export function nextTcpStateInputOnly(state: TcpState, ev: TcpEvent): TcpState {
  return CLIENT_ONLY[ev][state];
}

/**
 * The slot after the states' in a timeout table: the `tcpSynAck` hold of a SYN_RECV session
 * whose real server answered and whose client has not (yet) completed the handshake.
 */
export const SYN_ACK_WAIT: number = TCP_STATE_NAMES.length;

/**
 * Timeout table in milliseconds indexed by state, derived from the configured seconds, with
 * the `tcpSynAck` hold at {@linkcode SYN_ACK_WAIT}.
 */
export function tcpTimeoutTable(t: Timeouts): Float64Array {
  const ms = new Float64Array(TCP_STATE_NAMES.length + 1);
  ms[SYN_ACK_WAIT] = t.tcpSynAck * 1000;
  ms[NO] = t.tcpClose * 1000;
  ms[ES] = t.tcpEstablished * 1000;
  ms[SS] = t.tcpSynSent * 1000;
  ms[SR] = t.tcpSynRecv * 1000;
  ms[FW] = t.tcpFinWait * 1000;
  ms[TW] = t.tcpTimeWait * 1000;
  ms[CL] = t.tcpClose * 1000;
  ms[CW] = t.tcpCloseWait * 1000;
  ms[LA] = t.tcpLastAck * 1000;
  return ms;
}
