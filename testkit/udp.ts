/**
 * UDP traffic for end-to-end tests: a server on the real servers and clients in the client
 * namespace, both `udp_tool.py` under Debian's `/usr/bin/python3` (see that file for the
 * datagrams). The kernel's own UDP sockets are used at both ends, so connected-socket source
 * filtering, ICMP errors surfacing as ECONNREFUSED and kernel fragmentation are all real.
 *
 * @module
 */
import { formatEndpoint } from "../src/vocab/mod.ts";
import { run, spawnIn } from "./proc.ts";
import { waitFor } from "./wait.ts";

/** The interpreter: Debian's, the one scapy and the tests' Python helpers are installed for. */
export const PYTHON = "/usr/bin/python3";

const TOOL = new URL("./udp_tool.py", import.meta.url).pathname;

/** Counts of what one server saw. */
export interface UdpServerStats {
  /** REQ datagrams answered. */
  requests: number;
  /** `addr:port` of every REQ sender, in order. */
  peers: string[];
  /** Every BIG datagram: its length, whether its content was intact, and its sender. */
  big: { length: number; good: boolean; peer: string }[];
  /** BLK counts per sender address. */
  blk: Record<string, { good: number; bad: number; distinct: number }>;
}

/** A running server. */
export interface UdpServer {
  readonly port: number;
  readonly addrs: readonly string[];
  /** What the server on `addr` counted (asked from inside its namespace). */
  stats(addr?: string): Promise<UdpServerStats>;
  /** Kills it; safe to call twice. */
  stop(): Promise<void>;
}

/** Starts the server on `addrs` at `port` in `netns` and waits until it has bound them all. */
export async function startUdpServer(
  netns: string,
  addrs: readonly string[],
  port: number,
): Promise<UdpServer> {
  if (addrs.length === 0) throw new Error("startUdpServer needs at least one address");
  const child = spawnIn(netns, [PYTHON, TOOL, "serve", String(port), ...addrs], {
    stdout: "piped",
    stderr: "piped",
  });
  let out = "";
  let err = "";
  const dec = new TextDecoder();
  const pumps = Promise.all([
    (async () => {
      for await (const c of child.stdout) out += dec.decode(c, { stream: true });
    })(),
    (async () => {
      for await (const c of child.stderr) err += dec.decode(c, { stream: true });
    })(),
  ]);
  let exited = false;
  child.status.then(() => exited = true);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await pumps;
  };
  try {
    await waitFor(() => {
      if (exited) throw new Error(`udp server exited: ${err}`);
      return out.includes("listening");
    }, { timeoutMs: 5000, what: `udp server on ${addrs.map((a) => formatEndpoint(a, port))}` });
  } catch (e) {
    await stop();
    throw new Error(`${e instanceof Error ? e.message : e}\n${err}`);
  }
  return {
    port,
    addrs: [...addrs],
    async stats(addr = addrs[0]) {
      return await udpTool(netns, ["stat", addr, String(port)]) as unknown as UdpServerStats;
    },
    stop,
  };
}

/** Runs one client mode of the tool in `netns` and returns its JSON answer. */
export async function udpTool(netns: string, args: string[]): Promise<Record<string, unknown>> {
  const res = await run([PYTHON, TOOL, ...args], { netns });
  if (res.code !== 0) {
    throw new Error(`udp_tool ${args.join(" ")} failed (${res.code}): ${res.stderr.trim()}`);
  }
  return JSON.parse(res.stdout);
}

/** One answered request of {@linkcode udpRequests}. */
export interface UdpReply {
  /** The client socket's own `addr:port`. */
  client: string;
  /** Where the reply came from (always the connected address: the socket filters others). */
  from: string;
  /** `REP <i> server <addr>:<port> peer <addr>:<port>`. */
  body: string;
}

/** `count` request/response exchanges, each from a new connected socket (a new source port). */
export async function udpRequests(
  netns: string,
  host: string,
  port: number,
  count: number,
): Promise<{ replies: UdpReply[]; errors: string[] }> {
  return await udpTool(netns, ["request", host, String(port), String(count)]) as unknown as {
    replies: UdpReply[];
    errors: string[];
  };
}

/** What {@linkcode udpBulk} reports: sent, and what the far end counted for this client. */
export interface UdpBulkResult {
  sent: number;
  size: number;
  seconds: number;
  far: { good: number; bad: number; distinct: number; bytes: number };
}

/** Sends `count` numbered, patterned datagrams of `size` bytes, then asks the far end's count. */
export async function udpBulk(
  netns: string,
  host: string,
  port: number,
  count: number,
  size: number,
): Promise<UdpBulkResult> {
  return await udpTool(netns, [
    "bulk",
    host,
    String(port),
    String(count),
    String(size),
  ]) as unknown as UdpBulkResult;
}

/** What {@linkcode udpFlood} reports. */
export interface UdpFloodResult {
  /** Datagrams the socket accepted. */
  sent: number;
  /** Sends that failed (ENOBUFS, ECONNREFUSED from an earlier ICMP error, ...). */
  errors: number;
  seconds: number;
}

/**
 * Sends `count` datagrams of `size` bytes to `host:port` as fast as one socket bound to `src`
 * can (one flow), expecting no answer.
 */
export async function udpFlood(
  netns: string,
  host: string,
  port: number,
  count: number,
  size: number,
  src: string,
): Promise<UdpFloodResult> {
  return await udpTool(netns, [
    "flood",
    host,
    String(port),
    String(count),
    String(size),
    src,
  ]) as unknown as UdpFloodResult;
}

/** What {@linkcode udpQueries} reports. */
export interface UdpQueriesResult {
  sent: number;
  answered: number;
  /** Queries with no answer within the timeout. */
  timeouts: number;
  /** Answers that were wrong, or errors (ECONNREFUSED from an ICMP error). */
  errors: number;
  /** Distinct client source ports used. */
  ports: number;
  seconds: number;
}

/**
 * `count` DNS-like queries to `host:port` as a resolver sends them: `window` outstanding at a
 * time, each from a new socket (a new source port), answered ones matched by id, each given
 * `timeoutSec` (default 2), no retries.
 */
export async function udpQueries(
  netns: string,
  host: string,
  port: number,
  count: number,
  window: number,
  timeoutSec = 2,
): Promise<UdpQueriesResult> {
  return await udpTool(netns, [
    "dns",
    host,
    String(port),
    String(count),
    String(window),
    String(timeoutSec),
  ]) as unknown as UdpQueriesResult;
}

/** Parses a `REP` body: the server's endpoint and the peer it saw. */
export function parseUdpReply(body: string): { server: string; peer: string } | null {
  const m = /^REP \S+ server (\S+) peer (\S+)$/.exec(body);
  return m === null ? null : { server: m[1], peer: m[2] };
}

/** Splits `addr:port` (the last colon separates them, so IPv6 works too). */
export function splitEndpoint(ep: string): { addr: string; port: number } {
  const i = ep.lastIndexOf(":");
  return { addr: ep.slice(0, i), port: Number(ep.slice(i + 1)) };
}
