/**
 * Helpers of the RS-side TOA tests: building the shim, running servers under it, and a
 * user-space TCP client (scapy, `toa_client.py`) whose SYNs carry a TOA option.
 *
 * @module
 */
import { run } from "./proc.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const CLIENT_PY = new URL("./toa_client.py", import.meta.url).pathname;

/** Source ports the scapy client uses: outside the kernel's ephemeral range (32768-60999). */
export const TOA_PORT_RANGE = [61000, 61999] as const;

/** Builds `rs/build/libfullnat_toa.so` (a no-op when up to date) and returns its path. */
export async function buildShim(): Promise<string> {
  const res = await run(["bash", `${ROOT}rs/build.sh`], { check: true });
  const path = res.stdout.trim().split("\n").at(-1) ?? "";
  await Deno.stat(path);
  return path;
}

/** A TCP option as `[kind, hex of the value]`, the form `toa_client.py` takes. */
export type RawOption = [number, string];

function hex(bytes: Iterable<number>): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function portBytes(port: number): number[] {
  return [port >> 8, port & 0xff];
}

function ipv6Bytes(addr: string): number[] {
  const [head, tail = ""] = addr.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = tail === "" ? [] : tail.split(":");
  const groups = addr.includes("::")
    ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t]
    : h;
  if (groups.length !== 8) throw new Error(`not an IPv6 address: ${addr}`);
  return groups.flatMap((g) => portBytes(parseInt(g, 16)));
}

/** The TOA option for a client: length 8 for IPv4, 20 for IPv6 (docs/design.md section 4). */
export function toaOption(addr: string, port: number): RawOption {
  const a = addr.includes(":") ? ipv6Bytes(addr) : addr.split(".").map(Number);
  return [254, hex([...portBytes(port), ...a])];
}

/** One connection of {@linkcode toaClient}. */
export interface ToaConn {
  sport: number;
  /** Options put into the SYN before an MSS option. */
  options: RawOption[];
  /** Bytes sent after the handshake (latin-1 text). */
  payload: string;
}

/** What became of one connection. */
export interface ToaConnResult {
  sport: number;
  ok: boolean;
  response: string;
  error: string | null;
}

/**
 * Drops the resets the namespace's kernel would send for the scapy client's connections
 * (it knows nothing of them), for source ports in {@linkcode TOA_PORT_RANGE} only.
 */
export async function dropClientResets(ns: string, v6 = false): Promise<void> {
  await run([
    v6 ? "ip6tables" : "iptables",
    "-w",
    "-A",
    "OUTPUT",
    "-p",
    "tcp",
    "--tcp-flags",
    "RST",
    "RST",
    "--sport",
    TOA_PORT_RANGE.join(":"),
    "-j",
    "DROP",
  ], { netns: ns, check: true });
}

/**
 * Runs connections at once from `ns` with the scapy client, each with its own SYN options.
 * Call {@linkcode dropClientResets} for the namespace first.
 */
export async function toaClient(
  ns: string,
  spec: { src: string; dst: string; dport: number; conns: ToaConn[]; timeoutSec?: number },
): Promise<ToaConnResult[]> {
  for (const c of spec.conns) {
    if (c.sport < TOA_PORT_RANGE[0] || c.sport > TOA_PORT_RANGE[1]) {
      throw new RangeError(`sport ${c.sport} is outside ${TOA_PORT_RANGE.join("-")}`);
    }
  }
  const input = JSON.stringify({
    src: spec.src,
    dst: spec.dst,
    dport: spec.dport,
    timeout: spec.timeoutSec ?? 5,
    conns: spec.conns,
  });
  // Debian's scapy imports only under the system interpreter.
  const res = await run(["/usr/bin/python3", CLIENT_PY], { netns: ns, stdin: input });
  if (res.code !== 0) throw new Error(`toa_client.py failed (${res.code}): ${res.stderr}`);
  return JSON.parse(res.stdout) as ToaConnResult[];
}

/** The body of an HTTP/1.x response (after the blank line). */
export function httpBody(response: string): string {
  const i = response.indexOf("\r\n\r\n");
  return i < 0 ? "" : response.slice(i + 4);
}

/** A GET of `/` that asks the server to close after answering. */
export const HTTP_GET = "GET / HTTP/1.1\r\nHost: rs\r\nConnection: close\r\n\r\n";

/**
 * Runs `fn` with variables set in this process's environment, which children spawned meanwhile
 * (a server started by a shared helper that has no `env` option) inherit; restores them after.
 */
export async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const before = new Map(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
  try {
    return await fn();
  } finally {
    for (const [k, v] of before) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
}
