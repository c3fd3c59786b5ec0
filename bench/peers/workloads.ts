/**
 * The three workloads, each run from the topology's `client` namespace against whatever
 * address and port the peer under test exposes:
 *
 * - `bulk`: one iperf3 TCP stream from the client; the figure is what the receiver got, in
 *   Gbit/s;
 * - `download`: the same from the real server to the client (`iperf3 -R`): the direction the
 *   kernel fast path takes over, as a session is offloaded once its server has sent data;
 * - `conns`: wrk with `Connection: close`, so every request opens a new TCP connection to
 *   nginx on the real server; requests/s and wrk's 99th percentile latency (from the request
 *   being written on a connected socket to the response being read, so the handshake's own
 *   round trip is outside it while every queueing delay it causes is inside);
 * - `udp`: two iperf3 senders, from two client addresses (one even, one odd: fullnat's
 *   workers split clients by address) to ports 5201 and 5202, each sending 64-byte datagrams
 *   as fast as it can; the figure is what an iptables counter on the real server saw arrive,
 *   per second.
 *
 * Parsers are exported for the tests.
 *
 * @module
 */

import type { Topology } from "../../testkit/netns.ts";
import type { RealServer } from "./real_server.ts";

/** Where a workload sends its traffic. */
export interface Endpoint {
  host: string;
  port: number;
}

/** Parameters of the workloads. */
export interface WorkloadParams {
  /** Seconds each workload runs. */
  seconds: number;
  /** Concurrent connections of wrk. */
  connections: number;
  /** wrk threads. */
  threads: number;
  /** UDP payload bytes (of the live UDP workload and of the bursts). */
  udpPayload: number;
  /** Counted bursts of the queued-burst workload (bench/peers/burst.ts). */
  bursts: number;
  /** Datagrams per sender and burst (two senders). */
  burstPerSender: number;
}

/** Runs a command in a namespace, killing it if it outlives `timeoutMs`. */
export async function runBounded(
  topo: Topology,
  ns: "client" | "lb" | "rs",
  cmd: string[],
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string; timedOut: boolean }> {
  const child = topo.spawn(ns, cmd, { stdout: "piped", stderr: "piped" });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  }, timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    timedOut,
  };
}

function failure(what: string, r: { code: number; stderr: string; timedOut: boolean }): Error {
  const why = r.timedOut ? "did not finish in time" : `exited ${r.code}`;
  const detail = r.stderr.trim().split("\n").slice(-2).join(" / ");
  return new Error(`${what} ${why}${detail ? `: ${detail}` : ""}`);
}

/** The receiver's throughput in Gbit/s from iperf3's `-J` output; throws on an iperf3 error. */
export function parseIperfTcp(json: string): number {
  let j: {
    error?: string;
    end?: { sum_received?: { bits_per_second?: number } };
  };
  try {
    j = JSON.parse(json);
  } catch {
    throw new Error(`iperf3 printed no JSON: ${json.slice(0, 200)}`);
  }
  if (j.error) throw new Error(`iperf3: ${j.error}`);
  const bps = j.end?.sum_received?.bits_per_second;
  if (typeof bps !== "number") throw new Error("iperf3 JSON has no end.sum_received");
  return bps / 1e9;
}

/** An iperf3 error from its `-J` output, or undefined when it reports none. */
export function iperfError(json: string): string | undefined {
  try {
    const j = JSON.parse(json) as { error?: string };
    return j.error;
  } catch {
    return `iperf3 printed no JSON: ${json.slice(0, 200)}`;
  }
}

/** What wrk printed, reduced to the figures the benchmark uses. */
export interface WrkFigures {
  requestsPerSec: number;
  p99Ms: number;
  /** Socket errors (connect + read + write + timeout) and non-2xx/3xx responses. */
  errors: number;
  requests: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** Parses `wrk --latency` output. */
export function parseWrk(text: string): WrkFigures {
  const rps = /Requests\/sec:\s+([0-9.]+)/.exec(text);
  const p99 = /^\s*99(?:\.000)?%\s+([0-9.]+)(us|ms|s|m)\s*$/m.exec(text);
  const total = /^\s*([0-9]+) requests in /m.exec(text);
  if (rps === null || p99 === null || total === null) {
    throw new Error(`unexpected wrk output: ${text.trim().slice(0, 300)}`);
  }
  let errors = 0;
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  if (sock !== null) errors += sock.slice(1).reduce((a, b) => a + Number(b), 0);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  if (non2xx !== null) errors += Number(non2xx[1]);
  return {
    requestsPerSec: Number(rps[1]),
    p99Ms: Number(p99[1]) * UNIT_MS[p99[2]],
    errors,
    requests: Number(total[1]),
  };
}

/** Bulk TCP throughput in Gbit/s; `reverse`: from the real server to the client (`iperf3 -R`). */
export async function runBulk(
  topo: Topology,
  to: Endpoint,
  p: WorkloadParams,
  reverse = false,
): Promise<number> {
  const r = await runBounded(topo, "client", [
    "iperf3",
    "-c",
    to.host,
    "-p",
    String(to.port),
    "-t",
    String(p.seconds),
    "--connect-timeout",
    "3000",
    "-J",
    ...(reverse ? ["-R"] : []),
  ], (p.seconds + 15) * 1000);
  if (r.stdout.trim() === "") throw failure("iperf3", r);
  const gbps = parseIperfTcp(r.stdout);
  // iperf3 exits 0 when the stream stalls after connecting; a stall is a failure, not a figure.
  if (gbps < 0.001) throw new Error("bulk transfer stalled: the receiver got (almost) nothing");
  return gbps;
}

/** New-connection HTTP load; the figures of wrk. */
export async function runConns(
  topo: Topology,
  to: Endpoint,
  p: WorkloadParams,
): Promise<WrkFigures> {
  const r = await runBounded(topo, "client", [
    "wrk",
    "-t",
    String(p.threads),
    "-c",
    String(p.connections),
    "-d",
    `${p.seconds}s`,
    "--timeout",
    "2s",
    "--latency",
    "-H",
    "Connection: close",
    `http://${to.host}:${to.port}/`,
  ], (p.seconds + 15) * 1000);
  if (r.code !== 0) throw failure("wrk", r);
  const f = parseWrk(r.stdout);
  if (f.requests === 0) throw new Error("no request completed");
  return f;
}

/** The client's second address, which the UDP workload's second sender uses. */
export const SECOND_CLIENT_ADDR = "198.51.100.3";

/**
 * UDP datagrams per second that reached the real server, in thousands: one sender from each
 * of `sources` to `to.port + i`.
 */
export async function runUdp(
  topo: Topology,
  to: Endpoint,
  rs: RealServer,
  p: WorkloadParams,
  sources: readonly string[] = [topo.addrs.client, SECOND_CLIENT_ADDR],
): Promise<number> {
  await rs.resetUdpCounter();
  const results = await Promise.all(sources.map((src, i) => udpSender(topo, to, src, i, p)));
  const arrived = await rs.udpArrived();
  // iperf3 may report an error about its own end-of-test exchange although datagrams flowed;
  // what arrived is the figure, the error is reported only when nothing did.
  const err = results.find((e) => e !== undefined);
  if (arrived === 0) throw new Error(err ?? "no datagram reached the real server");
  return arrived / p.seconds / 1000;
}

async function udpSender(
  topo: Topology,
  to: Endpoint,
  src: string,
  i: number,
  p: WorkloadParams,
): Promise<string | undefined> {
  const r = await runBounded(topo, "client", [
    "iperf3",
    "-c",
    to.host,
    "-p",
    String(to.port + i),
    "-B",
    src,
    "-u",
    "-b",
    "0",
    "-l",
    String(p.udpPayload),
    "-t",
    String(p.seconds),
    "--connect-timeout",
    "3000",
    "-J",
  ], (p.seconds + 15) * 1000);
  return r.stdout.trim() === "" ? failure("iperf3 -u", r).message : iperfError(r.stdout);
}
