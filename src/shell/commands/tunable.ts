/**
 * `tunable show|set`: the engine-wide switches IPVS keeps as sysctls (`expire_nodest_conn`,
 * ...), by the names of `src/fullnat/tunables.ts`: `tunable set expire-nodest-conn on`.
 *
 * @module
 */
import { Argument, type Command } from "commander";
import { TUNABLE_TABLE, tunableEntry, type Tunables } from "../../fullnat/types.ts";
import { action, jsonOption, leaf, printJson } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { UsageError } from "../errors.ts";
import { renderTable } from "../table.ts";
import { parseOnOff } from "../values.ts";

const NAMES = TUNABLE_TABLE.map((t) => t.shell);

/** Every switch, on or off, with IPVS's sysctl name and what it does. */
function tunablesTable(t: Tunables): string {
  return renderTable(
    [{ title: "TUNABLE" }, { title: "VALUE" }, { title: "SYSCTL" }, { title: "WHAT" }],
    TUNABLE_TABLE.map((e) => [e.shell, t[e.key] ? "on" : "off", e.sysctl, e.summary]),
  );
}

/** Adds `tunable`. */
export function addTunableCommands(ctx: CommandContext, root: Command): void {
  const tunable = root.command("tunable").description(
    "engine-wide switches (IPVS sysctls: expire-nodest-conn, expire-quiescent-template)",
  );
  jsonOption(leaf(ctx, tunable, "show", "show every switch")).action(
    action(ctx, async ({ opts, control }) => {
      const t = await (await control()).getTunables();
      if (opts.json) printJson(ctx, t);
      else ctx.io.out(tunablesTable(t));
    }),
  );
  leaf(ctx, tunable, "set", "turn a switch on or off")
    .addArgument(new Argument("<name>", "the switch").choices(NAMES))
    .addArgument(new Argument("<value>", "on or off").choices(["on", "off"]).argParser(parseOnOff))
    .addHelpText(
      "after",
      "\nExamples:\n  tunable set expire-nodest-conn on\n  tunable set expire-quiescent-template on",
    )
    .action(action(ctx, async ({ args, control }) => {
      const [name, value] = args as [string, boolean];
      const entry = tunableEntry(name);
      if (entry === undefined) throw new UsageError(`no tunable ${name}: use ${NAMES.join(", ")}`);
      await (await control()).setTunables({ [entry.key]: value });
      ctx.changed();
    }));
}
