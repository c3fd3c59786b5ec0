/**
 * A helper process driven line by line (`tcp_peers.py`): commands written to its stdin,
 * events awaited on its stdout by pattern, with a deadline and what it printed so far in the
 * error when the event does not come.
 *
 * @module
 */
import type { Role, Topology } from "./netns.ts";

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
      let timer: ReturnType<typeof setTimeout> | undefined;
      const r = await Promise.race([
        this.#pending,
        new Promise<"late">((res) => timer = setTimeout(() => res("late"), left)),
      ]);
      clearTimeout(timer);
      if (r === "late") continue;
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
