/**
 * `stats show|zero`: traffic counters per service and real server.
 *
 * @module
 */
import type { Command } from "commander";
import {
  action,
  type ActionInput,
  jsonOption,
  leaf,
  optionalServiceKey,
  serviceArguments,
} from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { statsTable } from "../views.ts";
import { selectedServices } from "./service.ts";

/** Prints the counters of one service or all (`stats show`, `show stats`). */
export async function showStats(ctx: CommandContext, input: ActionInput): Promise<void> {
  const services = await selectedServices(input.args, await input.control());
  if (input.opts.json) {
    ctx.io.out(JSON.stringify(
      services.map((s) => ({
        protocol: s.protocol,
        address: s.address,
        port: s.port,
        stats: s.stats,
        ...(s.refused !== undefined && { refused: s.refused }),
        realServers: s.realServers.map((r) => ({
          address: r.address,
          port: r.port,
          stats: r.stats,
        })),
      })),
      null,
      2,
    ));
  } else ctx.io.out(statsTable(services));
}

/** Adds `stats`. */
export function addStatsCommands(ctx: CommandContext, root: Command): void {
  const stats = root.command("stats").description("traffic counters");
  jsonOption(
    serviceArguments(leaf(ctx, stats, "show", "show counters (of one service, or all)"), true),
  ).action(action(ctx, (input) => showStats(ctx, input)));
  serviceArguments(leaf(ctx, stats, "zero", "reset counters (of one service, or all)"), true)
    .action(action(ctx, async ({ args, control }) => {
      const key = optionalServiceKey(args);
      const c = await control();
      // No argument at all (not undefined) means every service.
      await (key === undefined ? c.zeroStats() : c.zeroStats(key));
    }));
}
