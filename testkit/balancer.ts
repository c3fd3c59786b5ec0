/**
 * Runs the real `fullnat daemon` inside a topology's `lb` namespace for end-to-end tests, and
 * drives it with the real `fullnat ipvsadm` command, as an operator would.
 *
 * @module
 */
import type { Topology } from "./netns.ts";
import { waitFor } from "./wait.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** A daemon under test. */
export interface Balancer {
  readonly socket: string;
  /** Runs `fullnat ipvsadm ARGS`; returns exit code and output. */
  ipvsadm(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Like {@linkcode ipvsadm} but throws unless the command succeeded. */
  ipvsadmOk(...args: string[]): Promise<string>;
  /** Runs any one-shot `fullnat ARGS` (`config apply FILE`, `rs health --json`, ...). */
  cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** The daemon's `status` report. */
  status(): Promise<StatusJson>;
  /** What the daemon logged so far. */
  log(): string;
  /** Stops the daemon with SIGTERM and waits for it; returns its exit code. */
  stop(): Promise<number>;
  /** Kills the daemon with SIGKILL (a crash: nothing is cleaned up); resolves with its exit status. */
  kill(): Promise<Deno.CommandStatus>;
  /** Resolves when the daemon exits by itself (after a restart request), with its status. */
  exited(): Promise<Deno.CommandStatus>;
}

/** The parts of `fullnat status --json` tests look at. */
export interface StatusJson {
  sessions: number;
  engine: Record<string, number>;
  queue: Record<string, number>;
  diversion: { services: unknown[]; localAddresses: string[]; natRealServers: unknown[] };
}

/** Options of {@linkcode startBalancer}. */
export interface BalancerOptions {
  /**
   * The `main.ts` to run (default this checkout's): another checkout's lets a benchmark run
   * an older version beside this one.
   */
  main?: string;
}

/**
 * Starts `fullnat daemon` in `topo.lb` (any namespace given as `{ lb: name }`: an HA pair has
 * two) and waits until its control socket answers.
 */
export async function startBalancer(
  topo: Pick<Topology, "lb">,
  extraArgs: string[] = [],
  opts: BalancerOptions = {},
): Promise<Balancer> {
  const main = opts.main ?? MAIN;
  const dir = await Deno.makeTempDir({ prefix: "fullnat-e2e-" });
  const socket = `${dir}/control.sock`;
  const child = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      topo.lb,
      Deno.execPath(),
      "run",
      "-A",
      // Inside a namespace nothing can be downloaded: a dependency missing from the cache
      // (scripts/setup.sh fetches them all) fails at once with Deno's own message.
      "--cached-only",
      main,
      "daemon",
      "--socket",
      socket,
      // Never the real /var/lib/fullnat: a private state dir unless the test brings its own.
      ...(extraArgs.some((a) => a.startsWith("--state-dir") || a === "--no-persist")
        ? []
        : ["--state-dir", `${dir}/state`]),
      // Nor the real /run/fullnat (an older checkout, run by a benchmark, has no run dir).
      ...(opts.main !== undefined ||
          extraArgs.some((a) => a.startsWith("--run-dir") || a === "--no-run-dir")
        ? []
        : ["--run-dir", `${dir}/run`]),
      ...extraArgs,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let logText = "";
  const decoder = new TextDecoder();
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) logText += decoder.decode(chunk, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let exited: Deno.CommandStatus | undefined;
  const statusP = child.status.then((s) => (exited = s));

  const env = { FULLNAT_SOCKET: socket };
  const cli = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", main, ...args],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  };
  const ipvsadm = (...args: string[]) => cli("ipvsadm", ...args);
  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 10_000);
    const s = await statusP;
    clearTimeout(timer);
    await pumps;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    return s.code;
  };

  try {
    await waitFor(async () => {
      if (exited) throw new Error(`daemon exited with ${exited.code}:\n${logText}`);
      return (await ipvsadm("-L", "-n")).code === 0;
    }, { timeoutMs: 20_000, intervalMs: 200 });
  } catch (e) {
    await stop();
    throw e;
  }

  return {
    socket,
    ipvsadm,
    cli,
    async ipvsadmOk(...args) {
      const r = await ipvsadm(...args);
      if (r.code !== 0) {
        throw new Error(`ipvsadm ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
      }
      return r.stdout;
    },
    async status() {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", main, "status", "--json"],
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (out.code !== 0) throw new Error(`status failed: ${decoder.decode(out.stderr)}`);
      return JSON.parse(decoder.decode(out.stdout));
    },
    log: () => logText,
    stop,
    exited: () => statusP,
    async kill() {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      const s = await statusP;
      await pumps;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      return s;
    },
  };
}
