/**
 * An in-process daemon for admin shell tests: a real {@linkcode Engine} behind
 * {@linkcode EngineControl}, the persistence layer's `configExport` / `configApply` ops (no
 * state directory), served by the real {@linkcode ControlServer} on a socket in a temp dir.
 * Only the packet queue and iptables are missing, which these commands never touch.
 *
 * @module
 */
import { ControlServer } from "../../../src/ctl/server.ts";
import { EngineControl } from "../../../src/fullnat/control.ts";
import { Engine } from "../../../src/fullnat/engine.ts";
import { attachPersistence } from "../../../src/persist/attach.ts";
import type { Output } from "../../../src/shell/context.ts";
import type { ByteSink, Host, HostPaths } from "../../../src/shell/host.ts";
import { runLine } from "../../../src/shell/dispatch.ts";
import { type Connector, createContext, type Runtime } from "../../../src/shell/runtime.ts";
import { localRemote } from "../../../src/ctl/remote.ts";
import type { ControlTarget } from "../../../src/fullnat/types.ts";
import { buildShellTree } from "../../../src/shell/tree.ts";

/** A running in-process daemon. */
export interface TestDaemon {
  engine: Engine;
  control: EngineControl;
  socket: string;
  dir: string;
  /** Milliseconds on the engine's clock; tests move it. */
  now: { ms: number };
  dispose(): Promise<void>;
}

/** Options of {@linkcode startDaemon}. */
export interface DaemonFixtureOptions {
  /** Serve configExport / configApply (default true); false plays an older daemon. */
  configOps?: boolean;
  /** Keep versions in a store in this directory (default: no persistence). */
  stateDir?: string;
  /** Extra ops to serve (e.g. `healthStatus`), given the engine's control. */
  ops?: (control: EngineControl) => Record<string, (...args: unknown[]) => unknown>;
}

/** Starts the daemon; dispose() stops it and removes its directory. */
export async function startDaemon(options: DaemonFixtureOptions = {}): Promise<TestDaemon> {
  const now = { ms: 0 };
  const engine = new Engine({ clock: () => now.ms, capacity: 1024, localPortRange: [5000, 5999] });
  const control = new EngineControl(engine);
  const persistence = await attachPersistence(control, {
    stateDir: options.stateDir ?? null,
    log: () => {},
  });
  const server = new ControlServer(persistence.target, { onError: (e) => console.error(e) });
  if (options.configOps !== false) persistence.register(server);
  for (const [op, handler] of Object.entries(options.ops?.(control) ?? {})) {
    server.register(op, handler);
  }
  const dir = await Deno.makeTempDir({ prefix: "fullnat-shell-" });
  const socket = `${dir}/control.sock`;
  await server.listen({ path: socket });
  return {
    engine,
    control,
    socket,
    dir,
    now,
    async dispose() {
      await server.close();
      await persistence.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * Connects straight to a control target in this process, skipping the socket: for checking
 * what a command asks of the engine independently of the socket's argument checks.
 */
export function inProcessConnector(target: ControlTarget): Connector {
  const remote = localRemote(target);
  return () =>
    Promise.resolve({
      ...remote,
      call: (op: string, ...args: unknown[]) => {
        const method =
          (remote as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[op];
        return method ? method(...args) : Promise.reject(new Error(`unknown op ${op}`));
      },
      close: () => {},
    });
}

/** Output captured line by line. */
export class Captured implements Output {
  stdout: string[] = [];
  stderr: string[] = [];
  /** What `bytes` wrote to stdout, unchanged. */
  raw: Uint8Array[] = [];
  bytes(chunk: Uint8Array, stream: "out" | "err"): Promise<void> {
    if (stream === "out") this.raw.push(chunk.slice());
    // Programs' text output lands in the lines as well, as a terminal would show it.
    const text = new TextDecoder().decode(chunk).replace(/\n$/, "");
    if (stream === "out") this.stdout.push(text);
    else this.stderr.push(text);
    return Promise.resolve();
  }
  out(text: string): void {
    this.stdout.push(text);
  }
  err(text: string): void {
    this.stderr.push(text);
  }
  /** Takes what was written since the last take. */
  take(): { out: string; err: string } {
    const r = { out: this.stdout.join("\n"), err: this.stderr.join("\n") };
    this.stdout = [];
    this.stderr = [];
    return r;
  }
}

/** A shell-mode session on `socket` with captured output. */
export function shellSession(socket: string, stdin?: () => Promise<string>, host?: Host) {
  const io = new Captured();
  const ctx: Runtime = createContext({ mode: "shell", socket, io, helpWidth: 80, stdin, host });
  return {
    io,
    ctx,
    /** Runs a line; returns its status and what it printed. */
    async run(line: string): Promise<{ code: number; out: string; err: string }> {
      const code = await runLine(line, ctx, buildShellTree);
      return { code, ...io.take() };
    },
    close: () => ctx.close(),
  };
}

/** A machine that runs nothing: it records each argv and answers as told. */
export class FakeHost implements Host {
  readonly runs: string[][] = [];
  /** What each program prints and its status, by argv[0]. */
  answers = new Map<string, { out?: string | Uint8Array; err?: string; status?: number }>();
  files = new Map<string, string>();
  readonly paths: HostPaths = {
    release: "/fake/fullnat-release",
    osRelease: "/fake/os-release",
    uptime: "/fake/uptime",
    codeVersion: "/fake/VERSION",
    codeDir: "/fake/code/",
  };
  /** Resolves a run that waits for its signal (a follow): set to make runs wait. */
  waitForAbort = false;

  async run(argv: readonly string[], sink: ByteSink, signal?: AbortSignal): Promise<number> {
    this.runs.push([...argv]);
    const a = this.answers.get(argv[0]) ?? {};
    const enc = new TextEncoder();
    if (a.out !== undefined) {
      await sink(typeof a.out === "string" ? enc.encode(a.out) : a.out, "out");
    }
    if (a.err !== undefined) await sink(enc.encode(a.err), "err");
    if (this.waitForAbort && signal) {
      await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
      return 130;
    }
    return a.status ?? 0;
  }

  output(argv: readonly string[]): Promise<{ code: number; stdout: string }> {
    this.runs.push([...argv]);
    const a = this.answers.get(argv[0]);
    return Promise.resolve({ code: a?.status ?? 127, stdout: String(a?.out ?? "") });
  }

  readText(path: string): Promise<string | undefined> {
    return Promise.resolve(this.files.get(path));
  }

  /** Real files: capture tests read what the daemon wrote. */
  async openRead(path: string): Promise<ReadableStream<Uint8Array>> {
    return (await Deno.open(path)).readable;
  }

  terminal = false;
  stdoutIsTerminal(): boolean {
    return this.terminal;
  }
}
