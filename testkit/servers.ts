/**
 * Real servers for end-to-end tests: nginx (`/usr/sbin/nginx`, Debian's nginx-light) started
 * inside a namespace with a configuration of its own in a temporary directory, so any number
 * can run side by side and nothing of the system's nginx setup is used or changed.
 *
 * Every instance serves:
 * - `/`: a one-line body naming the address and port the request arrived on and the peer it
 *   came from (`server 203.0.113.11:80 peer 203.0.113.201:40001`), see {@linkcode parseRootBody};
 * - {@linkcode NginxServer.bulkPath}: a file of pseudo-random bytes for bulk transfers.
 *
 * The client side helpers live in `curl.ts` and `wait.ts` and are re-exported here.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { run, spawnIn } from "./proc.ts";
import { waitFor } from "./wait.ts";

export { curl, type CurlOptions, type CurlResult } from "./curl.ts";
export { waitFor, type WaitOptions } from "./wait.ts";

/** Path of the nginx binary from nginx-light. */
export const NGINX_BIN = "/usr/sbin/nginx";

/** Options of {@linkcode startNginx}. */
export interface NginxOptions {
  /** Namespace to run in; the caller's own when absent. */
  netns?: string;
  /** Addresses to listen on; they must already be assigned in that namespace. */
  addrs: readonly string[];
  /** TCP port (default 80). */
  port?: number;
  /** Size of the bulk file in bytes (default 1 MiB). */
  bulkBytes?: number;
  /** nginx `worker_connections` (default 4096). */
  workerConnections?: number;
  /** How long to wait for every listener to appear (default 5000 ms). */
  startTimeoutMs?: number;
  /**
   * More `location` blocks for the server (nginx syntax), e.g. a health endpoint that a test
   * switches by creating or removing a file under {@linkcode NginxServer.dir}`/www`.
   */
  extraLocations?: string;
}

/** One parsed access-log line (`$remote_addr:$remote_port $request $status $body_bytes_sent`). */
export interface AccessLogEntry {
  remoteAddr: string;
  remotePort: number;
  /** The request line, e.g. `GET / HTTP/1.1`. */
  request: string;
  method: string;
  path: string;
  status: number;
  bodyBytes: number;
  /** The line as written. */
  line: string;
}

/** A running nginx. */
export interface NginxServer {
  /** Its temporary prefix directory (config, logs, document root). */
  readonly dir: string;
  readonly netns: string | undefined;
  readonly addrs: readonly string[];
  readonly port: number;
  readonly pid: number;
  /** URL path of the bulk file. */
  readonly bulkPath: string;
  readonly bulkBytes: number;
  /** Lower-case hex SHA-256 of the bulk file. */
  readonly bulkSha256: string;
  /** Parsed access-log lines so far, oldest first. */
  accessLog(): Promise<AccessLogEntry[]>;
  /** The error log's text. */
  errorLog(): Promise<string>;
  /** Kills nginx and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

/** The access-log format every instance writes. */
export const ACCESS_LOG_FORMAT = "$remote_addr:$remote_port $request $status $body_bytes_sent";

// The request part may be empty or odd for malformed requests, so it is taken as a whole.
const ACCESS_RE = /^(\S+):(\d+) (.*) (\d{3}) (\d+)$/;

/** Parses one access-log line; throws on a line of another shape. */
export function parseAccessLine(line: string): AccessLogEntry {
  const m = ACCESS_RE.exec(line);
  if (m === null) throw new Error(`unexpected access log line: ${JSON.stringify(line)}`);
  const [method = "", path = ""] = m[3].split(" ");
  return {
    remoteAddr: m[1],
    remotePort: Number(m[2]),
    request: m[3],
    method,
    path,
    status: Number(m[4]),
    bodyBytes: Number(m[5]),
    line,
  };
}

/** What the body of `/` says. */
export interface RootBody {
  server: string;
  serverPort: number;
  peer: string;
  peerPort: number;
}

const BODY_RE = /^server (\S+):(\d+) peer (\S+):(\d+)\n?$/;

/** Parses the body of `/`; null when it is not one of ours. */
export function parseRootBody(body: string): RootBody | null {
  const m = BODY_RE.exec(body);
  if (m === null) return null;
  return { server: m[1], serverPort: Number(m[2]), peer: m[3], peerPort: Number(m[4]) };
}

/** Lower-case hex SHA-256 of some bytes. */
export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * Writes `size` deterministic pseudo-random bytes (xorshift32), so transfers cannot be
 * compressed or faked by a repeating pattern, and returns their SHA-256.
 */
export async function writeBulkFile(path: string, size: number): Promise<string> {
  const hash = createHash("sha256");
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    let state = 0x2545f491;
    const chunk = new Uint8Array(1 << 20);
    const words = new Uint32Array(chunk.buffer);
    for (let left = size; left > 0;) {
      for (let i = 0; i < words.length; i++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        words[i] = state >>> 0;
      }
      const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
      hash.update(part);
      for (let off = 0; off < part.length;) off += await file.write(part.subarray(off));
      left -= part.length;
    }
  } finally {
    file.close();
  }
  return hash.digest("hex");
}

function nginxConfig(dir: string, opts: NginxOptions, port: number): string {
  const listens = opts.addrs.map((a) => `    listen ${a}:${port};`).join("\n");
  return `# generated by testkit/servers.ts
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile ${2 * (opts.workerConnections ?? 4096) + 64};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log notice;
events {
  worker_connections ${opts.workerConnections ?? 4096};
}
http {
  default_type application/octet-stream;
  log_format fullnat '${ACCESS_LOG_FORMAT}';
  access_log ${dir}/access.log fullnat;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  keepalive_timeout 10s;
  server {
${listens}
    root ${dir}/www;
    location = / {
      default_type text/plain;
      return 200 "server $server_addr:$server_port peer $remote_addr:$remote_port\\n";
    }
${opts.extraLocations ?? ""}
  }
}
`;
}

/** Starts nginx and waits until it listens on every address. */
export async function startNginx(opts: NginxOptions): Promise<NginxServer> {
  if (opts.addrs.length === 0) throw new Error("startNginx needs at least one address");
  const port = opts.port ?? 80;
  const bulkBytes = opts.bulkBytes ?? 1 << 20;
  const dir = await Deno.makeTempDir({ prefix: "fullnat-nginx-" });
  let child: Deno.ChildProcess | undefined;
  let exited = false;
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child !== undefined) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), 3000));
      const res = await Promise.race([child.status, late]);
      clearTimeout(timer);
      if (res === "late") {
        try {
          child.kill("SIGKILL");
        } catch {
          // Exited meanwhile.
        }
        await child.status;
      }
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  try {
    await Deno.mkdir(`${dir}/www`);
    await Deno.mkdir(`${dir}/tmp`);
    const bulkSha256 = await writeBulkFile(`${dir}/www/bulk.bin`, bulkBytes);
    await Deno.writeTextFile(`${dir}/nginx.conf`, nginxConfig(dir, opts, port));
    // -e: nginx opens its default error log before reading the config unless told otherwise.
    child = spawnIn(opts.netns, [
      NGINX_BIN,
      "-p",
      dir,
      "-c",
      `${dir}/nginx.conf`,
      "-e",
      `${dir}/error.log`,
    ]);
    child.status.then(() => exited = true);
    const wanted = opts.addrs.map((a) => `${a}:${port}`);
    await waitFor(async () => {
      if (exited) return true; // reported below, without waiting out the timeout
      const ss = await run(["ss", "-Hltn"], { netns: opts.netns, check: true });
      const listening = new Set(ss.stdout.split("\n").map((l) => l.trim().split(/\s+/)[3]));
      return wanted.every((w) => listening.has(w));
    }, { timeoutMs: opts.startTimeoutMs ?? 5000, what: `nginx listening on ${wanted.join(" ")}` })
      .then(() => {
        if (exited) throw new Error("nginx exited during startup");
      })
      .catch(async (e) => {
        const log = await Deno.readTextFile(`${dir}/error.log`).catch(() => "");
        throw new Error(`${e instanceof Error ? e.message : e}\nnginx error log:\n${log}`);
      });
    const pid = child.pid;
    return {
      dir,
      netns: opts.netns,
      addrs: [...opts.addrs],
      port,
      pid,
      bulkPath: "/bulk.bin",
      bulkBytes,
      bulkSha256,
      accessLog: async () => {
        const text = await Deno.readTextFile(`${dir}/access.log`).catch(() => "");
        return text.split("\n").filter((l) => l !== "").map(parseAccessLine);
      },
      errorLog: () => Deno.readTextFile(`${dir}/error.log`).catch(() => ""),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
