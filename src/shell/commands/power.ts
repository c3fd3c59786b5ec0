/**
 * `reboot` and `shutdown`: the box restarted or powered off with systemd (`systemctl reboot`,
 * `systemctl poweroff`). The admin is not root, so the daemon (root) runs systemctl when asked
 * through its `hostPower` op; without an answering daemon the command runs systemctl itself,
 * which works for root (a console login). At the interactive prompt the command asks first;
 * one-shot and scripted use must say `--yes`.
 *
 * @module
 */
import type { Command } from "commander";
import { action, leaf } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { callOptional, isConnectionFailure, UnsupportedOpError, UsageError } from "../errors.ts";
import { runProgram } from "../run_program.ts";

import { type PowerAction, powerArgv } from "../../daemon/host_power.ts";

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "this box";
  }
}

const WORDS: Record<PowerAction, { verb: string; doing: string; effect: string }> = {
  reboot: {
    verb: "reboot",
    doing: "rebooting",
    effect: "every connection through it ends and it is away until it has booted",
  },
  poweroff: {
    verb: "shut down",
    doing: "shutting down",
    effect: "every connection through it ends and it stays off until powered on again",
  },
};

/** Asks, or checks `--yes`; resolves when the action may go ahead. */
async function confirm(ctx: CommandContext, what: PowerAction, yes: boolean): Promise<boolean> {
  if (yes) return true;
  const w = WORDS[what];
  if (ctx.ask === undefined) {
    throw new UsageError(
      `${w.verb} asks for confirmation, and nobody can be asked here: add --yes ` +
        `(e.g. ssh admin@box '${what === "reboot" ? "reboot" : "shutdown"} --yes')`,
    );
  }
  const answer = await ctx.ask(`${w.verb} ${hostname()} now? ${w.effect} [y/N] `);
  return /^y(es)?$/i.test(answer.trim());
}

async function power(
  ctx: CommandContext,
  what: PowerAction,
  control: () => Promise<{ call(op: string, ...a: unknown[]): Promise<unknown> }>,
): Promise<void> {
  try {
    const c = await control();
    await callOptional(c.call.bind(c), `'${what}'`, "hostPower", what);
    ctx.io.out(`${WORDS[what].doing} ${hostname()} (the daemon ran systemctl ${what})`);
    return;
  } catch (e) {
    if (!isConnectionFailure(e) && !(e instanceof UnsupportedOpError)) throw e;
    ctx.resetControl();
  }
  // No daemon to ask: as root this works, as the admin systemd refuses and says so.
  ctx.io.out(`${WORDS[what].doing} ${hostname()} (no daemon answered: running systemctl ${what})`);
  await runProgram(ctx, powerArgv(what));
}

function addPower(ctx: CommandContext, root: Command, name: string, what: PowerAction): void {
  leaf(ctx, root, name, `${WORDS[what].verb} the box (asks first; --yes for scripts)`)
    .option("-y, --yes", "do not ask")
    .action(action(ctx, async ({ opts, control }) => {
      if (!await confirm(ctx, what, opts.yes === true)) {
        ctx.io.out("nothing done");
        return;
      }
      await power(ctx, what, control);
    }));
}

/** Adds `reboot` and `shutdown`. */
export function addPowerCommands(ctx: CommandContext, root: Command): void {
  addPower(ctx, root, "reboot", "reboot");
  addPower(ctx, root, "shutdown", "poweroff");
}
