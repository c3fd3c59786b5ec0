/**
 * `tunable show|set`: the IPVS sysctls the engine honours (`src/fullnat/tunables.ts`), such as
 * `expire_quiescent_template`, named as the shell writes options (`expire-quiescent-template`).
 *
 * @module
 */
import { Argument, type Command } from "commander";
import { TUNABLE_KEYS, type Tunables } from "../../fullnat/types.ts";
import { action, jsonOption, leaf, printJson } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { parseOnOff } from "../values.ts";
import { tunableName, tunablesTable } from "../views.ts";

/** Adds `tunable`. */
export function addTunableCommands(ctx: CommandContext, root: Command): void {
  const tunable = root.command("tunable").description(
    "IPVS sysctls the balancer honours (expire_quiescent_template)",
  );
  jsonOption(leaf(ctx, tunable, "show", "show every tunable")).action(
    action(ctx, async ({ opts, control }) => {
      const t = await (await control()).getTunables();
      if (opts.json) printJson(ctx, t);
      else ctx.io.out(tunablesTable(t));
    }),
  );
  const names = TUNABLE_KEYS.map(tunableName);
  leaf(ctx, tunable, "set", "switch one tunable on or off")
    .addArgument(new Argument("<name>", "the tunable").choices(names))
    .addArgument(new Argument("<value>", "on or off").choices(["on", "off"]).argParser(parseOnOff))
    .addHelpText(
      "after",
      "\nExample:\n  tunable set expire-quiescent-template on\n\n" +
        "expire-quiescent-template: a persistent client whose real server has weight 0 is\n" +
        "scheduled again on its next connection (off: it stays on the quiesced server).",
    )
    .action(action(ctx, async ({ args, control }) => {
      const key = TUNABLE_KEYS[names.indexOf(args[0] as string)];
      const change: Partial<Tunables> = { [key]: args[1] as boolean };
      await (await control()).setTunables(change);
      ctx.changed();
    }));
}
