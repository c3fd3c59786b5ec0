/**
 * Throwaway network namespaces for the queue's end-to-end tests and benchmark:
 *
 * ```
 * client (10.201.1.2) --c0/rc-- router (10.201.1.1 | 10.201.2.1) --rs/s0-- server (10.201.2.2)
 * ```
 *
 * The queue loop runs in the router namespace (a netlink socket belongs to the namespace
 * of the process that opens it). Names carry the pid and a tag so runs never collide;
 * {@linkcode Topology.destroy} kills what was started in them and deletes them.
 *
 * @module
 */

/** Runs a command; throws with its stderr if it fails. Returns stdout. */
export async function sh(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${dec.decode(out.stderr).trim()}`);
  }
  return dec.decode(out.stdout);
}

/** Like {@linkcode sh} but returns the exit code instead of throwing. */
export async function shCode(cmd: string, ...args: string[]): Promise<number> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
  return out.code;
}

/** The three namespaces and their addresses. */
export class Topology {
  readonly client: string;
  readonly router: string;
  readonly server: string;
  readonly clientIp = "10.201.1.2";
  readonly routerClientIp = "10.201.1.1";
  readonly routerServerIp = "10.201.2.1";
  readonly serverIp = "10.201.2.2";
  readonly #children: Deno.ChildProcess[] = [];

  private constructor(tag: string) {
    const base = `fnq-${Deno.pid}-${tag}`;
    this.client = `${base}-c`;
    this.router = `${base}-r`;
    this.server = `${base}-s`;
  }

  /** Builds the namespaces, links, addresses and routes. Cleans up if any step fails. */
  static async create(tag: string): Promise<Topology> {
    const t = new Topology(tag);
    try {
      for (const ns of [t.client, t.router, t.server]) {
        await sh("ip", "netns", "add", ns);
        await sh("ip", "-n", ns, "link", "set", "lo", "up");
      }
      await sh(
        "ip",
        ...["-n", t.router, "link", "add", "rc", "type", "veth", "peer", "name", "c0"],
        ...["netns", t.client],
      );
      await sh(
        "ip",
        ...["-n", t.router, "link", "add", "rs", "type", "veth", "peer", "name", "s0"],
        ...["netns", t.server],
      );
      const addr = async (ns: string, dev: string, cidr: string) => {
        await sh("ip", "-n", ns, "addr", "add", cidr, "dev", dev);
        await sh("ip", "-n", ns, "link", "set", dev, "up");
      };
      await addr(t.client, "c0", `${t.clientIp}/24`);
      await addr(t.router, "rc", `${t.routerClientIp}/24`);
      await addr(t.router, "rs", `${t.routerServerIp}/24`);
      await addr(t.server, "s0", `${t.serverIp}/24`);
      await sh("ip", "-n", t.client, "route", "add", "default", "via", t.routerClientIp);
      await sh("ip", "-n", t.server, "route", "add", "default", "via", t.routerServerIp);
      return t;
    } catch (err) {
      await t.destroy();
      throw err;
    }
  }

  /** Starts `cmd` inside namespace `ns`; it is killed by {@linkcode destroy}. */
  spawn(
    ns: string,
    cmd: string[],
    io: { stdin?: "piped" | "null"; stdout?: "piped" | "null" | "inherit" } = {},
  ): Deno.ChildProcess {
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", ns, ...cmd],
      stdin: io.stdin ?? "null",
      stdout: io.stdout ?? "null",
      stderr: "inherit",
    }).spawn();
    this.#children.push(child);
    return child;
  }

  /** Runs `cmd` inside `ns` to completion; returns exit code and stdout. */
  async exec(ns: string, ...cmd: string[]): Promise<{ code: number; stdout: string }> {
    const out = await new Deno.Command("ip", {
      args: ["netns", "exec", ns, ...cmd],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
  }

  /** Waits until something listens on TCP `port` in `ns`. */
  async waitListening(ns: string, port: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { stdout } = await this.exec(ns, "ss", "-Hltn", `sport = :${port}`);
      if (stdout.trim() !== "") return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`nothing listens on port ${port} in ${ns}`);
  }

  /** Kills every process started with {@linkcode spawn} and deletes the namespaces. */
  async destroy(): Promise<void> {
    for (const child of this.#children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      try {
        await child.status;
      } catch {
        // Ignore.
      }
    }
    this.#children.length = 0;
    for (const ns of [this.client, this.router, this.server]) {
      await shCode("ip", "netns", "del", ns);
    }
  }
}

/** Reads a child's stdout line by line. */
export async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let nl;
    while ((nl = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, nl);
      rest = rest.slice(nl + 1);
    }
  }
  if (rest !== "") yield rest;
}
