/**
 * `tunable show|set|offload`: the engine-wide switches IPVS keeps as sysctls
 * (`expire_nodest_conn`, ...), by the names of `src/fullnat/tunables.ts`: `tunable set
 * expire-nodest-conn on`; and the kernel fast path's mode, `tunable offload established`
 * (the daemon's `--offload`, the document's `tunables.offload`).
 *
 * @module
 */
import { Argument, type Command } from "commander";
import {
  OFFLOAD_MODES,
  offloadMode,
  TUNABLE_TABLE,
  tunableEntry,
  type Tunables,
} from "../../fullnat/types.ts";
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
    [
      ...TUNABLE_TABLE.map((e) => [e.shell, t[e.key] ? "on" : "off", e.sysctl, e.summary]),
      ["offload", offloadMode(t), "-", OFFLOAD_SUMMARY],
    ],
  );
}

const OFFLOAD_SUMMARY = "hand established FULLNAT/NAT TCP sessions to the kernel's conntrack";

/** Adds `tunable`. */
export function addTunableCommands(ctx: CommandContext, root: Command): void {
  const tunable = root.command("tunable").description(
    "engine-wide switches (IPVS sysctls: expire-nodest-conn, expire-quiescent-template) " +
      "and the kernel fast path (offload)",
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
  leaf(ctx, tunable, "offload", "the kernel fast path: off, or established sessions")
    .addArgument(new Argument("<mode>", "off or established").choices(OFFLOAD_MODES))
    .addHelpText(
      "after",
      "\nestablished: once a FULLNAT or NAT TCP session is established and its real server has" +
        "\nsent data, the kernel's conntrack carries its packets (DNAT, SNAT, sequence" +
        "\nadjustment); the handshake and everything before stay in the engine. Default off." +
        "\n\nExamples:\n  tunable offload established\n  tunable offload off",
    )
    .action(action(ctx, async ({ args, control }) => {
      const [mode] = args as [Tunables["offload"]];
      await (await control()).setTunables({ offload: mode });
      ctx.changed();
    }));
}
