import assert from "node:assert/strict";
import {
  nextTcpState,
  TCP_STATE_NAMES,
  TcpEvent,
  tcpEvent,
  TcpState,
  tcpTimeoutTable,
} from "./tcp_state.ts";
import { DEFAULT_TIMEOUTS } from "./types.ts";
import { TCP_FLAG } from "../wire/tcp.ts";

const { SYN, ACK, FIN, RST } = TCP_FLAG;

function walk(steps: Array<[number, boolean]>): string[] {
  let s: TcpState = TcpState.NONE;
  return steps.map(([flags, fromClient]) => {
    s = nextTcpState(s, tcpEvent(flags), fromClient);
    return TCP_STATE_NAMES[s];
  });
}

Deno.test("tcpEvent() ranks RST over SYN over FIN over ACK", () => {
  assert.equal(tcpEvent(RST | SYN | FIN | ACK), TcpEvent.RST);
  assert.equal(tcpEvent(SYN | ACK), TcpEvent.SYN);
  assert.equal(tcpEvent(FIN | ACK), TcpEvent.FIN);
  assert.equal(tcpEvent(ACK), TcpEvent.ACK);
});

Deno.test("nextTcpState() follows a handshake and a client-initiated close", () => {
  assert.deepEqual(
    walk([[SYN, true], [SYN | ACK, false], [ACK, true], [ACK, false], [FIN | ACK, true], [
      ACK,
      false,
    ], [
      FIN | ACK,
      false,
    ], [ACK, true]]),
    [
      "SYN_RECV",
      "SYN_RECV",
      "ESTABLISHED",
      "ESTABLISHED",
      "CLOSE_WAIT",
      "CLOSE_WAIT",
      "TIME_WAIT",
      "TIME_WAIT",
    ],
  );
});

Deno.test("nextTcpState() follows a server-initiated close", () => {
  assert.deepEqual(
    walk([[SYN, true], [SYN | ACK, false], [ACK, true], [FIN | ACK, false], [ACK, true], [
      FIN | ACK,
      true,
    ]]),
    ["SYN_RECV", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "FIN_WAIT", "TIME_WAIT"],
  );
});

Deno.test("nextTcpState() closes on a reset from either side", () => {
  assert.deepEqual(
    walk([[SYN, true], [SYN | ACK, false], [ACK, true], [RST, false]]).at(-1),
    "CLOSE",
  );
  assert.deepEqual(
    walk([[SYN, true], [SYN | ACK, false], [ACK, true], [RST, true]]).at(-1),
    "CLOSE",
  );
});

Deno.test("tcpTimeoutTable() maps each state to its configured seconds", () => {
  const ms = tcpTimeoutTable({ ...DEFAULT_TIMEOUTS, tcpEstablished: 11, tcpTimeWait: 5 });
  assert.equal(ms[TcpState.ESTABLISHED], 11_000);
  assert.equal(ms[TcpState.TIME_WAIT], 5_000);
  assert.equal(ms[TcpState.SYN_RECV], DEFAULT_TIMEOUTS.tcpSynRecv * 1000);
});
