/**
 * The misc check (keepalived's MISC_CHECK): runs the check's command and judges its exit
 * status. 0 is up; 1 is down; 2-255 is up with weight `code - 2` when the check is dynamic
 * (keepalived's misc_dynamic), down otherwise. Exit 0 carries no weight: the runner keeps the
 * last one, as keepalived does. A command still running after `timeout` seconds (default
 * delayLoop) is killed, with everything it started, and counts as down.
 *
 * The command line is run by `/bin/sh -c`, so quoting and arguments work as a keepalived user
 * writes them in misc_path (keepalived splits misc_path itself, honouring quotes, and execs it
 * without a shell; a shell reads such lines the same way and also takes `$VARIABLES`, pipes and
 * `&&`). It runs in a session of its own (setsid), so the timeout kills the shell and its
 * children together (SIGKILL to the process group; keepalived sends SIGTERM first and SIGKILL 2 s
 * later, which only delays the verdict). Standard input is empty; only the first line of output
 * is kept, for the reason (`exit 1: backend not ready`); the rest is read and dropped so the
 * command never blocks on a full pipe.
 *
 * @example
 * ```ts
 * import { probeMisc } from "./probe_misc.ts";
 * import { normalizeCheck } from "./spec.ts";
 * const r = await probeMisc(normalizeCheck({ type: "misc", command: "exit 1" }),
 *   { address: "127.0.0.1", port: 80 }, new AbortController().signal);
 * console.log(r.reason); // "exit 1"
 * ```
 *
 * @module
 */
import { formatSeconds } from "./probe_socket.ts";
import { type CheckSpec, miscTimeout, type ProbeResult, type RsTarget } from "./spec.ts";
import { concatBytes } from "../wire/bytes.ts";

/** The shell that runs misc commands. */
export const MISC_SHELL = "/bin/sh";

/** Most characters of output a reason quotes. */
const MAX_OUTPUT_LINE = 120;

/** Bytes of output kept to find the first line; the rest is drained unread. */
const KEEP_BYTES = 1024;

/** One misc attempt. Never rejects. */
export async function probeMisc(
  spec: CheckSpec,
  _rs: RsTarget,
  signal: AbortSignal,
): Promise<ProbeResult> {
  const start = performance.now();
  const elapsed = () => performance.now() - start;
  if (signal.aborted) return { ok: false, reason: "aborted", ms: 0 };
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(MISC_SHELL, {
      args: ["-c", spec.command ?? "false"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
  } catch (e) {
    return {
      ok: false,
      reason: `cannot run ${MISC_SHELL}: ${(e as Error).message}`,
      ms: elapsed(),
    };
  }
  const stdout = drain(child.stdout);
  const stderr = drain(child.stderr);
  let killedFor: "timeout" | "abort" | undefined;
  const kill = (why: "timeout" | "abort") => {
    if (killedFor !== undefined) return;
    killedFor = why;
    try {
      Deno.kill(-child.pid, "SIGKILL"); // the whole session: the shell and what it started
    } catch {
      // Already gone.
    }
  };
  const limit = miscTimeout(spec);
  const timer = setTimeout(() => kill("timeout"), limit * 1000);
  const onAbort = () => kill("abort");
  signal.addEventListener("abort", onAbort, { once: true });
  const status = await child.status;
  clearTimeout(timer);
  signal.removeEventListener("abort", onAbort);
  // A child the shell left behind may hold the pipes open: stop reading rather than wait.
  await settleSoon(Promise.all([stdout.finished, stderr.finished]), 50);
  const output = firstLine(stdout.head()) || firstLine(stderr.head());
  stdout.cancel();
  stderr.cancel();
  const ms = elapsed();
  if (killedFor === "timeout") {
    return { ok: false, reason: `killed after ${formatSeconds(limit)} timeout`, ms };
  }
  if (killedFor === "abort") return { ok: false, reason: "aborted", ms };
  const said = output === "" ? "" : `: ${output}`;
  if (status.signal !== null) {
    return { ok: false, reason: `killed by ${status.signal}${said}`, ms };
  }
  const code = status.code;
  if (code === 0) return { ok: true, reason: `exit 0${said}`, ms };
  if (code >= 2 && spec.dynamic === true) {
    return { ok: true, reason: `exit ${code} (weight ${code - 2})${said}`, weight: code - 2, ms };
  }
  return { ok: false, reason: `exit ${code}${said}`, ms };
}

/**
 * Reads a stream to its end (so the command never blocks writing), keeping only its first
 * bytes.
 */
function drain(
  stream: ReadableStream<Uint8Array>,
): { finished: Promise<void>; head(): string; cancel(): void } {
  const reader = stream.getReader();
  const kept: Uint8Array[] = [];
  let size = 0;
  const finished = (async () => {
    try {
      while (true) {
        const r = await reader.read();
        if (r.done) break;
        if (size < KEEP_BYTES) {
          const piece = r.value.subarray(0, KEEP_BYTES - size);
          kept.push(piece);
          size += piece.length;
        }
      }
    } catch {
      // Cancelled or broken pipe: keep what was read.
    }
  })();
  return {
    finished,
    head: () => new TextDecoder().decode(concatBytes(kept, size)),
    cancel: () => void reader.cancel().catch(() => {}),
  };
}

/** Waits for the promise at most `ms` milliseconds. */
function settleSoon(p: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise((resolve) => timer = setTimeout(resolve, ms))])
    .finally(() => clearTimeout(timer));
}

/** The first non-empty line, trimmed and shortened for a reason. */
function firstLine(text: string): string {
  const line = text.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "";
  return line.length > MAX_OUTPUT_LINE ? `${line.slice(0, MAX_OUTPUT_LINE - 1)}…` : line;
}
