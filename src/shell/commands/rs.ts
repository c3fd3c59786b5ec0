/**
 * `rs list|add|edit|delete`: the real servers of a service, their weight and forwarding
 * method.
 *
 * @module
 */
import type { Command } from "commander";
import type { RealServerSpec } from "../../fullnat/types.ts";
import {
  action,
  endpointArgument,
  jsonOption,
  leaf,
  methodOption,
  printJson,
  requiredServiceKey,
  serviceArguments,
} from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { UsageError } from "../errors.ts";
import { parseWeight } from "../values.ts";
import {
  DEFAULT_FORWARD_METHOD,
  DEFAULT_WEIGHT,
  FORWARD_METHOD_TABLE,
  FORWARD_METHODS,
} from "../../vocab/mod.ts";
import type { Endpoint } from "../../fullnat/types.ts";
import { realServersTable } from "../views.ts";
import { perServiceRows, selectedServices } from "./service.ts";
import { addRealServerHealthCommands, inhibitOption } from "./health.ts";

/** What each implemented method rewrites: `fullnat rewrites both addresses; nat only ...`. */
const METHOD_EFFECTS = FORWARD_METHOD_TABLE.filter((m) => m.supported).map((m) => m.effect)
  .join("; ");

/** Adds `rs` and its verbs. */
export function addRealServerCommands(ctx: CommandContext, root: Command): void {
  const rs = root.command("rs").description(
    "real servers of a service: weight, method, health checks",
  );

  jsonOption(
    serviceArguments(leaf(ctx, rs, "list", "list real servers (of one service, or all)"), true),
  ).alias("ls").action(action(ctx, async ({ args, opts, control }) => {
    const services = await selectedServices(args, await control());
    if (opts.json) printJson(ctx, perServiceRows(services, (s) => s.realServers));
    else ctx.io.out(realServersTable(services));
  }));

  endpointArgument(
    serviceArguments(leaf(ctx, rs, "add", "add a real server to a service")),
    "rs:port",
    "real server address and port",
    false,
  ).option("-w, --weight <n>", "share of new connections (0 = none)", parseWeight, DEFAULT_WEIGHT)
    .addOption(methodOption(METHOD_EFFECTS).default(DEFAULT_FORWARD_METHOD))
    .addOption(
      inhibitOption(
        "when its checks fail: on keeps it listed at weight 0, off (default) removes it",
      ),
    )
    .addHelpText("after", "\nExample:\n  rs add tcp 192.0.2.10:80 10.0.1.11:8080 -w 2")
    .action(action(ctx, async ({ args, opts, control }) => {
      const server = args[2] as Endpoint;
      const spec: RealServerSpec = {
        ...server,
        weight: opts.weight as number,
        method: opts.method as RealServerSpec["method"],
        ...(opts.inhibitOnFailure !== undefined &&
          { inhibitOnFailure: opts.inhibitOnFailure === "on" }),
      };
      await (await control()).addRealServer(requiredServiceKey(args), spec);
      ctx.changed();
    }));

  endpointArgument(
    serviceArguments(leaf(ctx, rs, "edit", "change a real server (only what is given)")),
    "rs:port",
    "real server address and port",
    true,
  ).option("-w, --weight <n>", "new weight (0 = no new connections)", parseWeight)
    .addOption(methodOption("new forwarding method"))
    .addOption(inhibitOption("on: a failed server stays listed at weight 0; off: it is removed"))
    .action(action(ctx, async ({ args, opts, control }) => {
      const server: Partial<RealServerSpec> & Endpoint = { ...(args[2] as Endpoint) };
      if (opts.weight !== undefined) server.weight = opts.weight as number;
      if (opts.method !== undefined) server.method = opts.method as RealServerSpec["method"];
      if (opts.inhibitOnFailure !== undefined) {
        server.inhibitOnFailure = opts.inhibitOnFailure === "on";
      }
      if (
        server.weight === undefined && server.method === undefined &&
        server.inhibitOnFailure === undefined
      ) {
        throw new UsageError(
          `nothing to change: give --weight N, --method ${FORWARD_METHODS.join("|")} ` +
            "and/or --inhibit-on-failure on|off (checks: rs check add|delete)",
        );
      }
      await (await control()).editRealServer(requiredServiceKey(args), server);
      ctx.changed();
    }));

  endpointArgument(
    serviceArguments(
      leaf(ctx, rs, "delete", "remove a real server (its connections finish first)"),
    ),
    "rs:port",
    "real server address and port",
    true,
  ).alias("del").action(action(ctx, async ({ args, control }) => {
    await (await control()).deleteRealServer(requiredServiceKey(args), args[2] as Endpoint);
    ctx.changed();
  }));

  addRealServerHealthCommands(ctx, rs);
}
