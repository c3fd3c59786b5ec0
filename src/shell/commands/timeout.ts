/**
 * `timeout show|set`: session timeouts per TCP state and for UDP.
 *
 * @module
 */
import type { Command } from "commander";
import type { Timeouts } from "../../fullnat/types.ts";
import { action, type ActionInput, jsonOption, leaf } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { UsageError } from "../errors.ts";
import { parseTimeout } from "../values.ts";
import { TIMEOUT_NAMES, timeoutsTable } from "../views.ts";

/** Prints the timeouts (`timeout show`, `show timeouts`). */
export async function showTimeouts(ctx: CommandContext, input: ActionInput): Promise<void> {
  const t = await (await input.control()).getTimeouts();
  ctx.io.out(input.opts.json ? JSON.stringify(t, null, 2) : timeoutsTable(t));
}

/** Adds `timeout`. */
export function addTimeoutCommands(ctx: CommandContext, root: Command): void {
  const timeout = root.command("timeout").description("session timeouts");
  jsonOption(leaf(ctx, timeout, "show", "show every timeout in seconds"))
    .action(action(ctx, (input) => showTimeouts(ctx, input)));

  const set = leaf(ctx, timeout, "set", "change timeouts (only those given)");
  for (const [, name] of TIMEOUT_NAMES) {
    const what = name === "tcp-syn-ack"
      ? "tcp syn recv timeout once the real server answered (SYN-ACK), from the client's last SYN"
      : `${name.replaceAll("-", " ")} timeout`;
    set.option(`--${name} <seconds>`, what, parseTimeout);
  }
  set.addHelpText("after", "\nExample:\n  timeout set --tcp-established 900 --udp 60")
    .action(action(ctx, async ({ opts, control }) => {
      const changes: Partial<Timeouts> = {};
      for (const [field] of TIMEOUT_NAMES) {
        if (opts[field] !== undefined) changes[field] = opts[field] as number;
      }
      if (Object.keys(changes).length === 0) {
        const names = TIMEOUT_NAMES.map(([, n]) => `--${n}`).join(", ");
        throw new UsageError(`nothing to change: give one or more of ${names}`);
      }
      await (await control()).setTimeouts(changes);
    }));
}
