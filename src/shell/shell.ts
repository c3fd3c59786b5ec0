/**
 * `fullnat shell`: the admin shell. Interactive on a terminal; `-c "COMMAND"` runs one
 * command line and exits with its status, which is how sshd runs `ssh admin@box COMMAND`
 * for a user whose login shell this is; with piped input it runs the lines as a script.
 *
 * @module
 */
import type { Command } from "commander";
import { defaultSocketPath } from "../ctl/socket_path.ts";
import type { CommandContext } from "./context.ts";
import { runLine } from "./dispatch.ts";
import { historyPath } from "./history.ts";
import { configuredIdleTimeout } from "./idle.ts";
import { runInteractive } from "./interactive.ts";
import { NameCache } from "./names.ts";
import { type Connector, createContext, type Runtime } from "./runtime.ts";
import { buildShellTree } from "./tree.ts";

/** Options of {@linkcode runShell}. */
export interface ShellOptions {
  socket?: string;
  /** The `-c` command line. */
  command?: string;
  /** Opens control connections (tests pass an in-process one). */
  connect?: Connector;
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "fullnat";
  }
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** Reads all of standard input as text (for `config apply -` in scripts). */
async function readStdin(): Promise<string> {
  return await new Response(Deno.stdin.readable).text();
}

function helpWidth(): number {
  try {
    if (Deno.stdout.isTerminal()) return Math.max(60, Math.min(Deno.consoleSize().columns, 120));
  } catch {
    // Not a terminal after all.
  }
  return 80;
}

/** Runs the shell; resolves with the exit status. */
export async function runShell(options: ShellOptions = {}): Promise<number> {
  const interactive = options.command === undefined;
  let names: NameCache | undefined;
  const ctx = createContext({
    mode: "shell",
    socket: options.socket ?? defaultSocketPath(),
    connect: options.connect,
    stdin: interactive && Deno.stdin.isTerminal() ? undefined : readStdin,
    helpWidth: helpWidth(),
    onChange: () => names?.invalidate(),
  });
  try {
    if (!interactive) return await runLine(options.command ?? "", ctx, buildShellTree);
    names = new NameCache(async () => await (await ctx.control()).listServices());
    const host = hostname();
    return await runInteractive({
      ctx,
      build: buildShellTree,
      names,
      prompt: `fullnat@${host}> `,
      historyFile: historyPath(env("HOME")),
      banner: `fullnat admin shell on ${host}. 'help' lists the commands, Tab completes, ` +
        `'exit' or Ctrl-D leaves.`,
      idleTimeoutS: configuredIdleTimeout(),
    });
  } finally {
    await ctx.close();
  }
}

/** Adds `fullnat shell [-c COMMAND]` to the one-shot program; its status lands on `ctx`. */
export function addShellCommand(root: Command, ctx: CommandContext): Command {
  root.command("shell")
    .description("interactive admin shell (history, Tab completion, help); the admin login shell")
    .option("-c <command>", "run one command line and exit with its status (what sshd runs)")
    .option(
      "--socket <path>",
      "daemon control socket (default $FULLNAT_SOCKET or /run/fullnat/control.sock)",
    )
    .action(async (opts: { c?: string; socket?: string }) => {
      ctx.exitCode = await runShell({ socket: opts.socket, command: opts.c });
    });
  return root;
}

/** The context of `fullnat <noun> <verb>`: the default socket, stdin readable for `config apply -`. */
export function oneShotRuntime(): Runtime {
  return createContext({
    mode: "oneshot",
    socket: defaultSocketPath(),
    stdin: Deno.stdin.isTerminal() ? undefined : readStdin,
  });
}
