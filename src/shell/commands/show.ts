/**
 * `show services|connections|stats|timeouts|health|version|log|firewall`: the read-only views under the names router and
 * appliance operators type first.
 *
 * @module
 */
import type { Command } from "commander";
import { action, jsonOption, leaf } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { servicesTable } from "../views.ts";
import { connectionFilterOptions, listConnections } from "./conn.ts";
import { fetchServices } from "./service.ts";
import { addHealthCommand } from "./health.ts";
import { showStats } from "./stats.ts";
import { showTimeouts } from "./timeout.ts";
import { addLogCommand } from "./log.ts";
import { addVersionCommand } from "./version.ts";

/** Adds `show`. */
export function addShowCommands(ctx: CommandContext, root: Command): void {
  const show = root.command("show").description(
    "read-only views: services, connections, stats, timeouts, health, version, log, firewall",
  );
  jsonOption(leaf(ctx, show, "services", "same as: service list")).action(
    action(ctx, async ({ opts, control }) => {
      const services = await fetchServices(await control());
      ctx.io.out(opts.json ? JSON.stringify(services, null, 2) : servicesTable(services));
    }),
  );
  connectionFilterOptions(leaf(ctx, show, "connections", "same as: conn list")).alias("conns")
    .action(action(ctx, ({ opts, control }) => listConnections(ctx, control, opts)));
  jsonOption(leaf(ctx, show, "stats", "same as: stats show"))
    .action(action(ctx, (input) => showStats(ctx, { ...input, args: [] })));
  jsonOption(leaf(ctx, show, "timeouts", "same as: timeout show"))
    .action(action(ctx, (input) => showTimeouts(ctx, input)));
  addHealthCommand(ctx, show, "health", "same as: rs health", false);
  addVersionCommand(ctx, show);
  addLogCommand(ctx, show);
  leaf(ctx, show, "firewall", "the host firewall's rules with packet and byte counters")
    .action(action(ctx, async ({ control }) => {
      ctx.io.out(String(await (await control()).call("hostFirewall")).trimEnd());
    }));
}
