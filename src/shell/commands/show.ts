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
import { liveInterfacesTable, liveNeighboursTable, liveRoutesTable } from "../network_views.ts";
import { printJson } from "../command_kit.ts";

/** Adds `show`. */
export function addShowCommands(ctx: CommandContext, root: Command): void {
  const show = root.command("show").description(
    "read-only views: services, connections, stats, timeouts, health, interfaces, routes, arp, " +
      "firewall, version, log",
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
  const live = [
    [
      "interfaces",
      "the interfaces and their addresses as the kernel has them now",
      liveInterfacesTable,
    ],
    ["routes", "the routing table as the kernel has it now (IPv4, then IPv6)", liveRoutesTable],
    ["arp", "the ARP and neighbour table", liveNeighboursTable],
  ] as const;
  for (const [kind, description, table] of live) {
    jsonOption(leaf(ctx, show, kind, description)).action(
      action(ctx, async ({ opts, control }) => {
        const rows = await (await control()).call("networkLive", kind) as Record<string, unknown>[];
        if (opts.json) printJson(ctx, rows);
        else ctx.io.out(table(rows));
      }),
    );
  }
  leaf(ctx, show, "firewall", "the host firewall's rules with packet and byte counters")
    .action(action(ctx, async ({ control }) => {
      ctx.io.out(String(await (await control()).call("hostFirewall")).trimEnd());
    }));
  addVersionCommand(ctx, show);
  addLogCommand(ctx, show);
}
