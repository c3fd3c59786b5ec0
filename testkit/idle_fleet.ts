/**
 * Many idle connections that must each still work later, for the tests of sessions that
 * outlive the daemon. Run as `deno run -A --unstable-net idle_fleet.ts MODE ...` (UDP sockets) inside a namespace:
 *
 * - `server HOST PORT`: a TCP and a UDP echo server on `HOST:PORT` (one line in, the same
 *   line out). Prints `listening` once both are bound.
 * - `client tcp|udp HOST PORT N [SOURCE]`: opens N connections (or N UDP sockets, each its own
 *   flow, bound to SOURCE when given: another client address lands on another worker),
 *   exchanges one line on each, prints `open K` (K of N that answered), then waits for a line
 *   on stdin; then exchanges a second line on each and prints `again K` (K that answered
 *   within 20 s), and exits.
 *
 * @module
 */

import { withTimeout } from "./wait.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** This script's path, to run it with `deno run -A`. */
export const IDLE_FLEET = decodeURIComponent(new URL(import.meta.url).pathname);

async function readLine(conn: Deno.Conn): Promise<string | null> {
  const buf = new Uint8Array(256);
  let text = "";
  while (!text.includes("\n")) {
    const n = await conn.read(buf);
    if (n === null) return null;
    text += dec.decode(buf.subarray(0, n));
  }
  return text.slice(0, text.indexOf("\n"));
}

async function server(host: string, port: number): Promise<void> {
  const tcp = Deno.listen({ hostname: host, port });
  const udp = Deno.listenDatagram({ hostname: host, port, transport: "udp" });
  console.log("listening");
  (async () => {
    for (;;) {
      const [data, addr] = await udp.receive();
      await udp.send(data, addr);
    }
  })();
  for await (const conn of tcp) {
    (async () => {
      try {
        for (;;) {
          const line = await readLine(conn);
          if (line === null) break;
          await conn.write(enc.encode(line + "\n"));
        }
      } catch {
        /* the client went away */
      } finally {
        try {
          conn.close();
        } catch { /* closed */ }
      }
    })();
  }
}

async function client(
  proto: string,
  host: string,
  port: number,
  n: number,
  source: string | undefined,
): Promise<void> {
  if (proto === "tcp" && source !== undefined) throw new Error("SOURCE is for UDP fleets only");
  const ask = proto === "tcp"
    ? await tcpFleet(host, port, n)
    : await udpFleet(host, port, n, source);
  const round = async (tag: string) => {
    const ok = await Promise.all(ask.map((f, i) => withTimeout(f(`${tag} ${i}`), 20_000)));
    return ok.filter((r) => r === true).length;
  };
  console.log(`open ${await round("hello")}`);
  // Wait for the test to say the balancer has been restarted.
  const stdin = Deno.stdin.readable.getReader();
  await stdin.read();
  console.log(`again ${await round("again")}`);
  Deno.exit(0);
}

type Ask = (line: string) => Promise<boolean>;

async function tcpFleet(host: string, port: number, n: number): Promise<Ask[]> {
  const asks: Ask[] = [];
  for (let i = 0; i < n; i++) {
    const conn = await Deno.connect({ hostname: host, port });
    asks.push(async (line) => {
      try {
        await conn.write(enc.encode(line + "\n"));
        return (await readLine(conn)) === line;
      } catch {
        return false;
      }
    });
  }
  return asks;
}

function udpFleet(host: string, port: number, n: number, source: string | undefined): Ask[] {
  const asks: Ask[] = [];
  const to: Deno.NetAddr = { transport: "udp", hostname: host, port };
  for (let i = 0; i < n; i++) {
    const sock = Deno.listenDatagram({
      hostname: source ?? (host.includes(":") ? "::" : "0.0.0.0"),
      port: 0,
      transport: "udp",
    });
    asks.push(async (line) => {
      // Datagrams may be lost while no daemon runs: try a few times.
      for (let k = 0; k < 5; k++) {
        await sock.send(enc.encode(line), to);
        const r = await withTimeout(sock.receive(), 1000);
        if (r !== "timeout") return dec.decode(r[0]) === line;
      }
      return false;
    });
  }
  return asks;
}

if (import.meta.main) {
  const [mode, a, b, c, d, e] = Deno.args;
  if (mode === "server") await server(a, Number(b));
  else if (mode === "client") await client(a, b, Number(c), Number(d), e);
  else throw new Error(`unknown mode ${mode}`);
}
