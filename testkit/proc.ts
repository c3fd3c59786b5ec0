/**
 * Running commands, optionally inside a network namespace (through `ip netns exec`, which
 * also gives the command the namespace's own `/sys` view).
 *
 * @module
 */

/** What a finished command left behind. */
export interface ExecResult {
  /** Exit code; 128 + signal number when it died of a signal. */
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode run}. */
export interface RunOptions {
  /** Network namespace to run in; the caller's own namespace when absent. */
  netns?: string;
  /** Bytes or text written to the command's standard input (which is closed after). */
  stdin?: string | Uint8Array;
  /** Throw when the command exits non-zero (default false). */
  check?: boolean;
}

/** Options of {@linkcode spawnIn}; every stream defaults to `"null"` so nothing leaks. */
export interface SpawnOptions {
  stdin?: "piped" | "inherit" | "null";
  stdout?: "piped" | "inherit" | "null";
  stderr?: "piped" | "inherit" | "null";
  env?: Record<string, string>;
  cwd?: string;
}

/** The argv that runs `cmd` inside `netns` (or `cmd` itself when no namespace is given). */
export function inNetns(netns: string | undefined, cmd: readonly string[]): string[] {
  if (cmd.length === 0) throw new Error("empty command");
  return netns === undefined ? [...cmd] : ["ip", "netns", "exec", netns, ...cmd];
}

/** Runs a command to completion and returns its exit code and text output. */
export async function run(cmd: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  const argv = inNetns(opts.netns, cmd);
  const command = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = command.spawn();
  if (opts.stdin !== undefined) {
    const data = typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin;
    const writer = child.stdin.getWriter();
    try {
      await writer.write(data);
    } finally {
      // A command that exits without reading makes the write fail; closing still matters.
      await writer.close().catch(() => {});
    }
  }
  const out = await child.output();
  const result: ExecResult = {
    code: out.signal === null ? out.code : 128 + signalNumber(out.signal),
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (opts.check && result.code !== 0) {
    const where = opts.netns === undefined ? "" : ` (netns ${opts.netns})`;
    throw new Error(
      `command failed with ${result.code}${where}: ${argv.join(" ")}\n${result.stderr.trim()}`,
    );
  }
  return result;
}

/** Starts a long-running command, optionally inside a namespace; the caller must reap it. */
export function spawnIn(
  netns: string | undefined,
  cmd: readonly string[],
  opts: SpawnOptions = {},
): Deno.ChildProcess {
  const argv = inNetns(netns, cmd);
  return new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: opts.stdin ?? "null",
    stdout: opts.stdout ?? "null",
    stderr: opts.stderr ?? "null",
    env: opts.env,
    cwd: opts.cwd,
  }).spawn();
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

function signalNumber(signal: Deno.Signal): number {
  return SIGNALS[signal] ?? 0;
}
