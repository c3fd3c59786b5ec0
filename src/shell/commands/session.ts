/**
 * Commands that exist only inside the shell tree: `status` and `ipvsadm` (one-shot, main.ts
 * has its own), and `exit` / `quit`.
 *
 * @module
 */
import type { Command } from "commander";
import { formatStatus } from "../../daemon/status_text.ts";
import type { StatusReport } from "../../daemon/status.ts";
import { action, jsonOption, leaf } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { callOptional } from "../errors.ts";

/** Adds `status`, a placeholder `ipvsadm` for help and completion, `exit` and `quit`. */
export function addSessionCommands(ctx: CommandContext, root: Command): void {
  jsonOption(leaf(ctx, root, "status", "show every counter of the running daemon")).action(
    action(ctx, async ({ opts, control }) => {
      const c = await control();
      const report = await callOptional(c.call.bind(c), "'status'", "status");
      ctx.io.out(
        opts.json ? JSON.stringify(report, null, 2) : formatStatus(report as StatusReport),
      );
    }),
  );

  // The dispatcher hands `ipvsadm ...` to the ipvsadm parser before commander sees it; this
  // entry gives it a place in `help` and completion.
  root.command("ipvsadm")
    .description("ipvsadm syntax with the FULLNAT extensions; see 'ipvsadm -h'")
    .argument("[args...]", "ipvsadm arguments, e.g. -L -n")
    .helpOption(false);

  for (const name of ["exit", "quit"]) {
    root.command(name).description("leave the shell (Ctrl-D does too)").action(
      action(ctx, () => {
        ctx.exitRequested = true;
      }),
    );
  }
}
