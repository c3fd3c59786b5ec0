/**
 * `route list|add|delete`: the box's static routes as configured (the document's
 * `network.routes`), changed through the daemon (validated, applied all or nothing, saved);
 * `show routes` gives the kernel's live table.
 *
 * @module
 */
import type { Command } from "commander";
import { action, jsonOption, leaf, printJson } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { addRoute, deleteRoute, parseDestination } from "../network_edit.ts";
import { configuredRoutesTable, editNetwork, fetchNetwork } from "../network_views.ts";
import { parseAddress, parseCount } from "../values.ts";
import { parseInterfaceName } from "./interface.ts";

/** Adds `route`. */
export function addRouteCommands(ctx: CommandContext, root: Command): void {
  const route = root.command("route").description(
    "the box's static routes as configured; kept across reboots",
  );
  jsonOption(leaf(ctx, route, "list", "list the configured routes")).alias("ls").action(
    action(ctx, async ({ opts, control }) => {
      const section = await fetchNetwork(await control());
      if (opts.json) printJson(ctx, section.routes ?? []);
      else ctx.io.out(configuredRoutesTable(section));
    }),
  );
  leaf(ctx, route, "add", "add a static route")
    .argument("<to>", "destination network (10.0.0.0/8) or 'default'", parseDestination)
    .option("--via <gateway>", "gateway address", parseAddress)
    .option("--dev <interface>", "interface", parseInterfaceName)
    .option("--metric <n>", "route metric (lower wins)", parseCount)
    .addHelpText("after", "\nExample:\n  route add default --via 198.51.100.254")
    .action(action(ctx, ({ args, opts, control }) =>
      editNetwork(ctx, control, (s) =>
        addRoute(s, {
          to: args[0] as string,
          ...(opts.via !== undefined && { via: opts.via as string }),
          ...(opts.dev !== undefined && { dev: opts.dev as string }),
          ...(opts.metric !== undefined && { metric: opts.metric as number }),
        }))));
  leaf(ctx, route, "delete", "delete a static route")
    .alias("del")
    .argument("<to>", "destination network or 'default'", parseDestination)
    .option("--metric <n>", "which one, when routes to it differ by metric", parseCount)
    .action(action(ctx, ({ args, opts, control }) =>
      editNetwork(
        ctx,
        control,
        (s) => deleteRoute(s, args[0] as string, opts.metric as number | undefined),
      )));
}
