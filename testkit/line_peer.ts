/**
 * A helper process driven line by line (`tcp_peers.py`): commands written to its stdin,
 * events awaited on its stdout by pattern, with a deadline and what it printed so far in the
 * error when the event does not come.
 *
 * @module
 */
import type { Role, Topology } from "./netns.ts";
import { withTimeout } from "./wait.ts";

/** The tool's path, to run under Debian's `/usr/bin/python3`. */
export const TCP_PEERS = new URL("./tcp_peers.py", import.meta.url).pathname;

/** A running line-driven helper. */
export class LinePeer {
  readonly #child: Deno.ChildProcess;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #text = "";
  #pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;

  constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#reader = child.stdout.getReader();
    this.#writer = child.stdin.getWriter();
  }

  /** Starts `tcp_peers.py ARGS` in `ns` of `topo`. */
  static tcpPeers(topo: Topology, ns: Role, args: string[]): LinePeer {
    return new LinePeer(
      topo.spawn(ns, ["/usr/bin/python3", "-u", TCP_PEERS, ...args], {
        stdin: "piped",
        stdout: "piped",
      }),
    );
  }

  /** Writes one command line. */
  async say(line: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(line + "\n"));
  }

  /** Waits up to `timeoutMs` for a line matching `re` (anchored to whole lines), consuming it and what came before. */
  async expect(re: RegExp, timeoutMs = 15_000): Promise<RegExpExecArray> {
    const deadline = performance.now() + timeoutMs;
    const line = new RegExp(`^${re.source}$`, "m");
    for (;;) {
      const m = line.exec(this.#text);
      if (m) {
        this.#text = this.#text.slice(m.index + m[0].length);
        return m;
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(`no line matching ${re} within ${timeoutMs} ms; got: ${this.#text}`);
      }
      this.#pending ??= this.#reader.read();
      const r = await withTimeout(this.#pending, left);
      if (r === "timeout") continue;
      this.#pending = undefined;
      if (r.done) {
        throw new Error(`the peer ended before a line matching ${re}; got: ${this.#text}`);
      }
      this.#text += new TextDecoder().decode(r.value);
    }
  }

  /** Closes its stdin (the tool then exits) and waits for it. */
  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await this.#child.status;
    this.#pending?.catch(() => {});
    await this.#reader.cancel().catch(() => {});
  }
}

/** The two ends of {@linkcode echoThroughBalancer}. */
export interface EchoEnds {
  server: LinePeer;
  client: LinePeer;
}

/**
 * An echo server (`tcp_peers.py serve`) on the topology's first real server at `port`, a
 * FULLNAT service on the first VIP at `port` in front of it (round robin, first local
 * address), and a client (`tcp_peers.py client`) of that VIP. Both peers are added to `peers`
 * for the caller to close.
 */
export async function echoThroughBalancer(
  topo: Topology,
  lb: { ipvsadmOk(...args: string[]): Promise<string> },
  port: number,
  peers: LinePeer[],
): Promise<EchoEnds> {
  const vip = topo.addrs.vips[0];
  const rs = topo.addrs.realServers[0];
  const server = LinePeer.tcpPeers(topo, "rs", ["serve", rs, `${port}`]);
  peers.push(server);
  await server.expect(/listening/);
  await lb.ipvsadmOk("-A", "-t", `${vip}:${port}`, "-s", "rr");
  await lb.ipvsadmOk("-a", "-t", `${vip}:${port}`, "-r", `${rs}:${port}`, "-b");
  await lb.ipvsadmOk("-P", "-t", `${vip}:${port}`, "-z", topo.addrs.localAddrs[0]);
  const client = LinePeer.tcpPeers(topo, "client", ["client", vip, `${port}`]);
  peers.push(client);
  return { server, client };
}
