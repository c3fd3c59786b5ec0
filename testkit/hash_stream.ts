/**
 * Byte-exact bulk transfers for end-to-end tests, run as `deno run -A hash_stream.ts MODE ...`
 * inside a namespace:
 *
 * - `sink HOST PORT`: accepts connections; reads each to its end, then answers the SHA-256 hex
 *   of what it read and closes. Prints `listening` once bound.
 * - `greet-sink HOST PORT`: a `sink` that first says `ready\n`, so the server has spoken before
 *   the upload (the kernel fast path offloads a session only once its server sent data).
 * - `greet-send HOST PORT BYTES SEED WAIT_MS`: `send` to a `greet-sink`: reads its greeting,
 *   waits WAIT_MS (the fast path takes the session), then sends.
 * - `source HOST PORT`: accepts connections; writes `BYTES` pseudo-random bytes from `SEED`,
 *   each connection first sending nothing until the client says `BYTES SEED\n`.
 * - `send HOST PORT BYTES SEED`: connects, sends the stream, half-closes, prints the sink's
 *   hash and the local hash as `sent <hex> got <hex>`.
 * - `fetch HOST PORT BYTES SEED`: connects, asks the source for the stream, reads it to the
 *   end, prints `expected <hex> got <hex> bytes N gap MS at B` (the longest wait between two
 *   reads once data flowed, and the bytes received before it).
 *
 * The stream is xorshift32 output, so both ends can produce or check it without storing it.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { ExecResult, Topology } from "./netns.ts";

/** This script's path, to run it with `deno run -A`. */
export const HASH_STREAM = decodeURIComponent(new URL(import.meta.url).pathname);

/**
 * Starts a `sink` or `source` server of this script on `host:port` in the topology's `rs`
 * namespace; resolves once it listens. The topology's teardown kills it.
 */
export async function startHashServer(
  topo: Pick<Topology, "spawn">,
  mode: "sink" | "source" | "greet-sink",
  host: string,
  port: number,
): Promise<Deno.ChildProcess> {
  const child = topo.spawn(
    "rs",
    [Deno.execPath(), "run", "-A", HASH_STREAM, mode, host, `${port}`],
    {
      stdout: "piped",
    },
  );
  const reader = child.stdout.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  reader.releaseLock();
  if (!first.includes("listening")) throw new Error(`hash_stream ${mode} did not start: ${first}`);
  return child;
}

/** What {@linkcode sendHashStream} saw: both hashes when the upload completed. */
export interface HashUpload {
  /** SHA-256 hex of what the client sent. */
  sent?: string;
  /** SHA-256 hex of what the sink received. */
  got?: string;
  /** Exit code and output, for the assertion message. */
  output: string;
}

/** Runs this tool's client side (`send` or `fetch`) in the topology's `client` namespace. */
function clientRun(
  topo: Pick<Topology, "exec">,
  mode: "send" | "fetch" | "greet-send",
  host: string,
  port: number,
  bytes: number,
  seed: number,
  timeoutSec: number,
  ...more: string[]
): Promise<ExecResult> {
  return topo.exec("client", [
    "timeout",
    String(timeoutSec),
    Deno.execPath(),
    "run",
    "-A",
    HASH_STREAM,
    mode,
    host,
    String(port),
    String(bytes),
    String(seed),
    ...more,
  ]);
}

/**
 * Uploads `bytes` of the stream from `seed` from the topology's `client` namespace to a
 * `sink` at `host:port`, bounded by `timeoutSec`; with `afterGreetMs`, to a `greet-sink`,
 * that long after its greeting.
 */
export async function sendHashStream(
  topo: Pick<Topology, "exec">,
  host: string,
  port: number,
  bytes: number,
  seed: number,
  timeoutSec = 60,
  afterGreetMs?: number,
): Promise<HashUpload> {
  const r = afterGreetMs === undefined
    ? await clientRun(topo, "send", host, port, bytes, seed, timeoutSec)
    : await clientRun(topo, "greet-send", host, port, bytes, seed, timeoutSec, `${afterGreetMs}`);
  const m = /^sent ([0-9a-f]{64}) got ([0-9a-f]{64})$/m.exec(r.stdout);
  return { sent: m?.[1], got: m?.[2], output: `(${r.code}) ${r.stdout} ${r.stderr}` };
}

/** What {@linkcode fetchHashStream} saw: both hashes when the download completed. */
export interface HashDownload {
  /** SHA-256 hex of the stream the source was asked for, computed locally. */
  expected?: string;
  /** SHA-256 hex of what the client received. */
  got?: string;
  /** Bytes received. */
  bytes?: number;
  /** The longest time between two reads (ms): a failover's gap as the transfer saw it. */
  gapMs?: number;
  /** Bytes received before that gap began. */
  gapAt?: number;
  /** Exit code and output, for the assertion message. */
  output: string;
}

/**
 * Downloads `bytes` of the stream from `seed` from a `source` at `host:port` into the
 * topology's `client` namespace, bounded by `timeoutSec`.
 */
export async function fetchHashStream(
  topo: Pick<Topology, "exec">,
  host: string,
  port: number,
  bytes: number,
  seed: number,
  timeoutSec = 60,
): Promise<HashDownload> {
  const r = await clientRun(topo, "fetch", host, port, bytes, seed, timeoutSec);
  const m = /^expected ([0-9a-f]{64}) got ([0-9a-f]{64}) bytes (\d+) gap (\d+) at (\d+)/m
    .exec(r.stdout);
  return {
    expected: m?.[1],
    got: m?.[2],
    ...(m && { bytes: Number(m[3]), gapMs: Number(m[4]), gapAt: Number(m[5]) }),
    output: `(${r.code}) ${r.stdout} ${r.stderr}`,
  };
}

/** Fills `buf` with the next bytes of the xorshift32 stream whose state is `s[0]`. */
export function fillStream(buf: Uint8Array, s: Uint32Array): void {
  let x = s[0];
  for (let i = 0; i + 4 <= buf.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x;
    buf[i + 1] = x >>> 8;
    buf[i + 2] = x >>> 16;
    buf[i + 3] = x >>> 24;
  }
  s[0] = x;
}

const CHUNK = 1 << 16;

async function writeStream(conn: Deno.Conn, bytes: number, seed: number): Promise<string> {
  const h = createHash("sha256");
  const s = Uint32Array.of(seed || 1);
  const buf = new Uint8Array(CHUNK);
  for (let left = bytes; left > 0;) {
    fillStream(buf, s);
    const n = Math.min(left, CHUNK);
    const part = buf.subarray(0, n);
    h.update(part);
    for (let off = 0; off < n;) off += await conn.write(part.subarray(off));
    left -= n;
  }
  return h.digest("hex");
}

async function readAllHash(
  conn: Deno.Conn,
): Promise<{ hex: string; bytes: number; gapMs: number; gapAt: number }> {
  const h = createHash("sha256");
  const buf = new Uint8Array(CHUNK);
  let bytes = 0;
  // The longest wait for data once it started flowing, and where in the stream it was.
  let last = 0;
  let gapMs = 0;
  let gapAt = 0;
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    const now = performance.now();
    if (bytes > 0 && now - last > gapMs) [gapMs, gapAt] = [now - last, bytes];
    last = now;
    h.update(buf.subarray(0, n));
    bytes += n;
  }
  return { hex: h.digest("hex"), bytes, gapMs: Math.round(gapMs), gapAt };
}

async function readLine(conn: Deno.Conn): Promise<string> {
  const one = new Uint8Array(1);
  let line = "";
  while (line.length < 100) {
    const n = await conn.read(one);
    if (n === null || one[0] === 10) break;
    line += String.fromCharCode(one[0]);
  }
  return line;
}

async function main(args: string[]): Promise<void> {
  const [mode, host, portText, bytesText, seedText, waitText] = args;
  const port = Number(portText);
  if (mode === "sink" || mode === "source" || mode === "greet-sink") {
    const listener = Deno.listen({ hostname: host, port });
    console.log("listening");
    for await (const conn of listener) {
      (async () => {
        try {
          if (mode === "greet-sink") await conn.write(new TextEncoder().encode("ready\n"));
          if (mode !== "source") {
            const { hex } = await readAllHash(conn);
            await conn.write(new TextEncoder().encode(hex + "\n"));
          } else {
            const [b, s] = (await readLine(conn)).split(" ").map(Number);
            await writeStream(conn, b, s);
          }
        } catch (e) {
          console.error(`${mode}: ${e instanceof Error ? e.message : e}`);
        } finally {
          try {
            conn.close();
          } catch { /* closed */ }
        }
      })();
    }
    return;
  }
  const bytes = Number(bytesText);
  const seed = Number(seedText);
  const conn = await Deno.connect({ hostname: host, port });
  if (mode === "greet-send") {
    await readLine(conn);
    await new Promise((r) => setTimeout(r, Number(waitText)));
  }
  if (mode === "send" || mode === "greet-send") {
    const sent = await writeStream(conn, bytes, seed);
    await conn.closeWrite();
    const got = (await readLine(conn)).trim();
    console.log(`sent ${sent} got ${got}`);
  } else if (mode === "fetch") {
    await conn.write(new TextEncoder().encode(`${bytes} ${seed}\n`));
    const { hex, bytes: n, gapMs, gapAt } = await readAllHash(conn);
    // The expected hash is recomputed locally from the same stream.
    const h = createHash("sha256");
    const s = Uint32Array.of(seed || 1);
    const buf = new Uint8Array(CHUNK);
    for (let left = bytes; left > 0; left -= CHUNK) {
      fillStream(buf, s);
      h.update(buf.subarray(0, Math.min(left, CHUNK)));
    }
    console.log(`expected ${h.digest("hex")} got ${hex} bytes ${n} gap ${gapMs} at ${gapAt}`);
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  conn.close();
}

if (import.meta.main) await main(Deno.args);
