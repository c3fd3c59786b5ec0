/**
 * One HTTP download kept open on purpose, for checking that a connection outlives something
 * (a restart of the balancer's daemon): `deno run -A held_download.ts HOST PORT PATH` sends
 * one GET, then reads the body slowly (8 KiB every 50 ms) and stops reading 1 MiB before its
 * end, so the connection stays open with data in flight however long the test takes, until it
 * is told to finish. It talks in JSON lines:
 *
 * - stdout `{"event":"started","localPort":N,"bodyBytes":N}` once the headers and the first
 *   64 KiB arrived;
 * - stdin `report`: stdout `{"event":"report","bodyBytes":N}`;
 * - stdin `finish`: reads the rest at full speed to the end of the connection, then stdout
 *   `{"event":"done","status":N,"contentLength":N,"bodyBytes":N,"sha256":"HEX"}`.
 *
 * Any failure is `{"event":"error","message":"..."}` and exit 1. {@linkcode startHeldDownload}
 * runs it inside a namespace.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { inNetns } from "../../../testkit/proc.ts";

const SCRIPT = decodeURIComponent(new URL(import.meta.url).pathname);
const SLOW_CHUNK = 8 * 1024;
const SLOW_PAUSE_MS = 50;
/** Left unread until `finish`, so the transfer cannot end on its own. */
const HOLD_BACK = 1 << 20;
const FIRST_BODY = 64 * 1024;

/** A line the script printed. */
export type HeldEvent =
  | { event: "started"; localPort: number; bodyBytes: number }
  | { event: "report"; bodyBytes: number }
  | { event: "done"; status: number; contentLength: number; bodyBytes: number; sha256: string }
  | { event: "error"; message: string };

/** The running script. */
export interface HeldDownload {
  /** The next line, which must be `event`; rejects on anything else or after `timeoutMs`. */
  next<E extends HeldEvent["event"]>(
    event: E,
    timeoutMs: number,
  ): Promise<Extract<HeldEvent, { event: E }>>;
  /** Sends a command line (`report`, `finish`). */
  send(line: "report" | "finish"): Promise<void>;
  /** Kills it if it still runs and waits for it. */
  stop(): Promise<void>;
}

/** Starts the script in `netns` against `host:port`, asking for `path`. */
export function startHeldDownload(
  netns: string,
  host: string,
  port: number,
  path: string,
): HeldDownload {
  const argv = inNetns(netns, [Deno.execPath(), "run", "-A", SCRIPT, host, `${port}`, path]);
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const writer = child.stdin.getWriter();
  let buffered = "";
  let exited = false;
  const status = child.status.finally(() => exited = true);
  const readLine = async (): Promise<string> => {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("held_download.ts ended without a line");
      buffered += value;
    }
    const at = buffered.indexOf("\n");
    const line = buffered.slice(0, at);
    buffered = buffered.slice(at + 1);
    return line;
  };
  return {
    async next(event, timeoutMs) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`held_download.ts: no '${event}' within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      try {
        const got = JSON.parse(await Promise.race([readLine(), late])) as HeldEvent;
        if (got.event !== event) {
          throw new Error(`held_download.ts: expected '${event}', got ${JSON.stringify(got)}`);
        }
        return got as Extract<HeldEvent, { event: typeof event }>;
      } finally {
        clearTimeout(timer);
      }
    },
    async send(line) {
      await writer.write(new TextEncoder().encode(`${line}\n`));
    },
    async stop() {
      await writer.close().catch(() => {});
      if (!exited) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Gone meanwhile.
        }
      }
      await status;
      await lines.cancel().catch(() => {});
    },
  };
}

function say(event: HeldEvent): void {
  console.log(JSON.stringify(event));
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

function indexOfBytes(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

async function main(host: string, port: number, path: string): Promise<void> {
  const conn = await Deno.connect({ hostname: host, port });
  await conn.write(
    new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
  );
  const hash = createHash("sha256");
  let head = new Uint8Array(0);
  let status = 0;
  let contentLength = -1;
  let bodyBytes = 0;
  let started = false;
  let finishing = false;

  // Commands arrive while the body is read.
  (async () => {
    const decoder = new TextDecoderStream();
    let text = "";
    for await (const chunk of Deno.stdin.readable.pipeThrough(decoder)) {
      text += chunk;
      for (let at = text.indexOf("\n"); at >= 0; at = text.indexOf("\n")) {
        const line = text.slice(0, at).trim();
        text = text.slice(at + 1);
        if (line === "report") say({ event: "report", bodyBytes });
        if (line === "finish") finishing = true;
      }
    }
  })();

  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    const holding = !finishing && started && contentLength >= 0 &&
      contentLength - bodyBytes <= HOLD_BACK;
    if (holding) {
      await delay(SLOW_PAUSE_MS);
      continue;
    }
    const slow = started && !finishing;
    const n = await conn.read(slow ? buffer.subarray(0, SLOW_CHUNK) : buffer);
    if (n === null) break;
    let data = buffer.subarray(0, n);
    if (status === 0) {
      const joined = new Uint8Array(head.length + data.length);
      joined.set(head);
      joined.set(data, head.length);
      const end = indexOfBytes(joined, new TextEncoder().encode("\r\n\r\n"));
      if (end < 0) {
        head = joined;
        continue;
      }
      const headers = new TextDecoder().decode(joined.subarray(0, end));
      status = Number(headers.match(/^HTTP\/1\.[01] (\d{3})/)?.[1] ?? -1);
      contentLength = Number(headers.match(/^content-length:\s*(\d+)/im)?.[1] ?? -1);
      data = joined.subarray(end + 4);
    }
    hash.update(data);
    bodyBytes += data.length;
    if (!started && bodyBytes >= Math.min(FIRST_BODY, contentLength)) {
      started = true;
      const local = conn.localAddr as Deno.NetAddr;
      say({ event: "started", localPort: local.port, bodyBytes });
    }
    if (slow) await delay(SLOW_PAUSE_MS);
  }
  conn.close();
  // The commands reader keeps stdin open; the answer is complete once `done` is out.
  say({ event: "done", status, contentLength, bodyBytes, sha256: hash.digest("hex") });
  Deno.exit(0);
}

if (import.meta.main) {
  const [host, port, path] = Deno.args;
  main(host, Number(port), path).catch((e) => {
    say({ event: "error", message: e instanceof Error ? e.message : String(e) });
    Deno.exit(1);
  });
}
