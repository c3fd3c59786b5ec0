/**
 * Runs one command line of the admin shell: splits it (no shell syntax), refuses what is not
 * a fullnat command, hands `ipvsadm ...` to the ipvsadm front end verbatim, turns
 * `help a b` into `a b --help`, and lets commander run the rest.
 *
 * @module
 */
import { type Command, CommanderError } from "commander";
import {
  connectionPages,
  forwardControl,
  type PagedConnections,
  type RemoteControl,
} from "../ctl/remote.ts";
import type { CommandContext } from "./context.ts";
import { describeError, EXIT_USAGE } from "./errors.ts";
import { topLevelNames } from "./tree.ts";
import { splitWords } from "./words.ts";

/**
 * A {@linkcode RemoteControl} that connects only when a call is made (ipvsadm -h needs none),
 * and pages a connection listing as the daemon streams it.
 */
function lazyRemote(ctx: CommandContext): RemoteControl & PagedConnections {
  return {
    ...forwardControl(() => ctx.control()),
    async *connectionPages() {
      yield* connectionPages(await ctx.control());
    },
  };
}

async function ipvsadm(args: string[], ctx: CommandContext): Promise<number> {
  try {
    // Loaded on first use: the ipvsadm front end is a third of the shell's modules, and a
    // one-shot `ssh admin@box 'service list'` should not wait for it.
    const { runIpvsadm } = await import("../ctl/ipvsadm/run.ts");
    const { applyThroughDaemon } = await import("../ctl/ipvsadm/restore.ts");
    const result = await runIpvsadm(args, lazyRemote(ctx), {
      program: "ipvsadm",
      // A connection listing prints page by page as it streams in (pages are whole lines).
      write: (text) => Promise.resolve(ctx.io.out(text.replace(/\n$/, ""))),
      // `ssh admin@lb 'ipvsadm -R' < rules` restores; at the prompt there is no input to read.
      stdin: () => ctx.readInput("-"),
      applyDocument: async (doc) => await applyThroughDaemon(await ctx.control())(doc),
      call: async (op, ...a) => (await ctx.control()).call(op, ...a),
    });
    if (result.stdout) ctx.io.out(result.stdout.replace(/\n$/, ""));
    if (result.stderr) ctx.io.err(result.stderr.replace(/\n$/, ""));
    return result.exitCode;
  } catch (e) {
    const { message, exitCode } = describeError(e);
    ctx.io.err(`error: ${message}`);
    return exitCode;
  }
}

/**
 * Runs already split words with a fresh tree from `build` (commander keeps parse state in its
 * command objects, so each line gets its own). Returns the exit status, also left on `ctx`.
 */
export async function runWords(
  words: readonly string[],
  ctx: CommandContext,
  build: (ctx: CommandContext) => Command,
): Promise<number> {
  // Habit from one-shot use: `fullnat service list` typed inside the shell means the same.
  if (words[0] === "fullnat" && words.length > 1) words = words.slice(1);
  if (words.length === 0) return ctx.exitCode = 0;
  if (words[0] === "?" || words[0] === "-h" || words[0] === "--help") {
    words = ["help", ...words.slice(1)];
  }
  const [first, ...rest] = words;
  if (first === "ipvsadm") return ctx.exitCode = await ipvsadm(rest, ctx);
  const tree = build(ctx);
  if (!topLevelNames(tree).includes(first)) {
    ctx.io.err(
      `error: '${first}' is not a command of this shell (it runs only fullnat commands, no ` +
        `system programs); type 'help' for the list`,
    );
    return ctx.exitCode = EXIT_USAGE;
  }
  const argv = first === "help" && rest.length > 0 ? [...rest, "--help"] : [...words];
  ctx.exitCode = 0;
  try {
    await tree.parseAsync(argv, { from: "user" });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    // Help that was asked for succeeds; help shown because a command was incomplete does not.
    ctx.exitCode = e.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  return ctx.exitCode;
}

/** Splits and runs one line; a line that cannot be split is a usage error. */
export async function runLine(
  line: string,
  ctx: CommandContext,
  build: (ctx: CommandContext) => Command,
): Promise<number> {
  const split = splitWords(line);
  if (!split.ok) {
    ctx.io.err(`error: ${split.message}`);
    return ctx.exitCode = EXIT_USAGE;
  }
  return await runWords(split.words, ctx, build);
}
