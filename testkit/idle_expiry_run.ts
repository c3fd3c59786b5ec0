/**
 * One idle connection through the balancer until its session expires, with captures at both
 * ends: the shared half of the tests that check the resets on expiry (the engine's own, and
 * the fast path's probe, `offload_expiry.ts`). `idle_probe.ts` serves in the real server's
 * namespace and connects from the client's; both wait, so only the balancer's resets end
 * them, and each side prints how its connection ended (`client reset`, `server reset`, ...).
 *
 * @module
 */
import { startCapture } from "./capture.ts";
import type { Bed } from "./bed.ts";
import { decode, type Decoded } from "./oracle.ts";
import { waitFor } from "./servers.ts";

const IDLE_PROBE = new URL("./idle_probe.ts", import.meta.url).pathname;

/** The resets a client sees from the service's port. */
export const rstFilter = (port: number) => [
  "tcp",
  "port",
  String(port),
  "and",
  "tcp[tcpflags]",
  "&",
  "tcp-rst",
  "!=",
  "0",
];

/** What one idle connection's end showed. */
export interface IdleExpiry {
  /** The client's output (`client reset` when a RST ended it). */
  client: string;
  /** The server's output (`server reset` when a RST ended it). */
  server: string;
  /** Milliseconds from connecting to the client's end. */
  waitedMs: number;
  /** Packets captured at the client (filter `clientFilter`) and at the real server. */
  atClient: Decoded[];
  atRs: Decoded[];
}

/**
 * Serves on the real server's `port`, connects the client to the VIP's `port` and holds the
 * connection idle for up to `holdMs`, capturing `clientFilter` at the client and `rsFilter`
 * at the real server. The service must already exist with a short ESTABLISHED timeout.
 */
export async function idleExpiry(bed: Bed, opts: {
  port: number;
  holdMs: number;
  clientFilter: readonly string[];
  rsFilter: readonly string[];
}): Promise<IdleExpiry> {
  const port = String(opts.port);
  const server = bed.topo.spawn(
    "rs",
    [Deno.execPath(), "run", "-A", IDLE_PROBE, "server", "0.0.0.0", port],
    { stdout: "piped" },
  );
  let serverOut = "";
  const pump = (async () => {
    const dec = new TextDecoder();
    for await (const c of server.stdout) serverOut += dec.decode(c, { stream: true });
  })();
  try {
    await waitFor(() => serverOut.includes("listening"), { timeoutMs: 10_000, what: "server" });
    const atClient = await startCapture(bed.topo.client, "eth0", opts.clientFilter);
    const atRs = await startCapture(bed.topo.rs, "eth0", opts.rsFilter);
    const t0 = performance.now();
    const client = await bed.topo.exec("client", [
      Deno.execPath(),
      "run",
      "-A",
      IDLE_PROBE,
      "client",
      bed.vip,
      port,
      String(opts.holdMs),
    ]);
    const waitedMs = performance.now() - t0;
    await waitFor(() => /server (reset|eof|error)/.test(serverOut), {
      timeoutMs: 5000,
      what: `server outcome (${serverOut})`,
    });
    const [c, r] = await Promise.all([atClient.stop().then(decode), atRs.stop().then(decode)]);
    return {
      client: client.stdout + client.stderr,
      server: serverOut,
      waitedMs,
      atClient: c,
      atRs: r,
    };
  } finally {
    try {
      server.kill();
    } catch {
      // It ended already.
    }
    await server.status;
    await pump;
  }
}
