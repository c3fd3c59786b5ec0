/**
 * TCP state for sessions whose replies never cross the balancer (TUNNEL, DR: IPVS's
 * `IP_VS_CONN_F_NOOUTPUT`). Only the client's half of the conversation is seen, so the state
 * advances on client segments alone, by IPVS's "INPUT-ONLY" table (`ip_vs_proto_tcp.c`):
 * it differs from the two-sided one (`tcp_state.ts`) in that the client's FIN moves an
 * established session to FIN_WAIT (nothing will tell the balancer that the server closed),
 * so a closed connection leaves after the FIN_WAIT timeout rather than CLOSE_WAIT's.
 *
 * @module
 */
import { type TcpEvent, TcpState } from "./tcp_state.ts";

const { ESTABLISHED: ES, SYN_SENT: SS, SYN_RECV: SR, FIN_WAIT: FW } = TcpState;
const { TIME_WAIT: TW, CLOSE: CL, CLOSE_WAIT: CW, LAST_ACK: LA } = TcpState;

// Rows are events (SYN, FIN, ACK, RST); columns are the current state in TcpState order:
//            NO  ES  SS  SR  FW  TW  CL  CW  LA
/** IPVS's INPUT-ONLY transitions: client segments of a session whose replies bypass the balancer. */
const CLIENT_ONLY: readonly (readonly TcpState[])[] = [
  /* SYN */ [SR, ES, ES, SR, SR, SR, SR, SR, SR],
  /* FIN */ [CL, FW, SS, TW, FW, TW, CL, CW, LA], // the client's FIN: FIN_WAIT, not CLOSE_WAIT
  /* ACK */ [ES, ES, SS, ES, FW, TW, CL, CW, CL], // the third ACK establishes, as two-sided
  /* RST */ [CL, CL, CL, SR, CL, CL, CL, CL, LA],
];

/**
 * The next state of a session that sees only its client (TUNNEL, DR) after a client segment
 * of event `ev`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nextTcpStateClientOnly } from "./tcp_state_client_only.ts";
 * import { TcpEvent, TcpState } from "./tcp_state.ts";
 * assert.ok(nextTcpStateClientOnly(TcpState.ESTABLISHED, TcpEvent.FIN) === TcpState.FIN_WAIT);
 * ```
 */
export function nextTcpStateClientOnly(state: TcpState, ev: TcpEvent): TcpState {
  return CLIENT_ONLY[ev][state];
}
