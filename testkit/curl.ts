/**
 * HTTP requests from inside a namespace with the real `curl`, so the kernel's TCP stack (not a
 * JavaScript one) is what talks to the balancer.
 *
 * @module
 */

import { inNetns } from "./proc.ts";

/** Options of {@linkcode curl}. */
export interface CurlOptions {
  /** Whole-transfer limit in seconds (default 10). */
  maxTimeSec?: number;
  /** Connect limit in seconds (default 3). */
  connectTimeoutSec?: number;
  /** Throw away the body instead of returning it (for bulk transfers). */
  discardBody?: boolean;
  /** Extra curl arguments, e.g. `["--local-port", "40000"]`. */
  args?: readonly string[];
}

/** The outcome of one request. */
export interface CurlResult {
  /** curl's exit code: 0 on a completed transfer (whatever the HTTP status). */
  code: number;
  /** HTTP status, 0 when there was no response. */
  status: number;
  /** The body as text (empty when discarded). */
  body: string;
  /** The body as bytes (empty when discarded). */
  bytes: Uint8Array;
  /** Bytes received, as curl counted them (also when discarded). */
  sizeDownload: number;
  /** Total time in seconds. */
  timeSec: number;
  /** The client's own address and port of the connection. */
  localAddr: string;
  localPort: number;
  /** curl's error text, if any. */
  stderr: string;
}

const MARK = "FULLNAT-CURL";

/** Runs `curl` on `url` inside `netns` (or here, when undefined). */
export async function curl(
  netns: string | undefined,
  url: string,
  opts: CurlOptions = {},
): Promise<CurlResult> {
  // The write-out goes to stderr (curl >= 7.63) so stdout carries the exact body bytes.
  const writeOut =
    `%{stderr}\n${MARK} %{http_code} %{time_total} %{size_download} %{local_ip} %{local_port}\n`;
  const argv = inNetns(netns, [
    "curl",
    "--silent",
    "--show-error",
    "--max-time",
    String(opts.maxTimeSec ?? 10),
    "--connect-timeout",
    String(opts.connectTimeoutSec ?? 3),
    "--output",
    opts.discardBody ? "/dev/null" : "-",
    "--write-out",
    writeOut,
    ...(opts.args ?? []),
    "--",
    url,
  ]);
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const errText = new TextDecoder().decode(out.stderr);
  const markLine = errText.split("\n").find((l) => l.startsWith(MARK + " "));
  const [, status, time, size, localAddr, localPort] = (markLine ?? "").split(" ");
  return {
    code: out.code,
    status: Number(status ?? 0) || 0,
    body: new TextDecoder().decode(out.stdout),
    bytes: out.stdout,
    sizeDownload: Number(size ?? 0) || 0,
    timeSec: Number(time ?? 0) || 0,
    localAddr: localAddr ?? "",
    localPort: Number(localPort ?? 0) || 0,
    stderr: errText.split("\n").filter((l) => l !== "" && !l.startsWith(MARK)).join("\n"),
  };
}

/** Options of {@linkcode newConnectionsCommand}. */
export interface NewConnectionsOptions {
  /** Source address to send from (`--interface`). */
  from?: string;
  /** Requests in flight at once (`-Z --parallel-max N`); default one after the other. */
  parallel?: number;
  /** Whole-run limit in seconds; default none. */
  maxTimeSec?: number;
}

/**
 * The `curl` command line of `count` requests to `url`, each on a new TCP connection
 * (`Connection: close`), printing each response's status code on a line of its own: one
 * process makes a stream of new connections, which is what a load balancer's session setup
 * is tested and measured by.
 */
export function newConnectionsCommand(
  url: string,
  count: number,
  opts: NewConnectionsOptions = {},
): string[] {
  return [
    "curl",
    "-s",
    ...(opts.from === undefined ? [] : ["--interface", opts.from]),
    ...(opts.parallel === undefined
      ? []
      : ["-Z", "--parallel-max", String(opts.parallel), "--parallel-immediate"]),
    "-H",
    "Connection: close",
    "-w",
    "%{http_code}\\n",
    ...(opts.maxTimeSec === undefined ? [] : ["--max-time", String(opts.maxTimeSec)]),
    ...Array.from({ length: count }, () => ["-o", "/dev/null", url]).flat(),
  ];
}
