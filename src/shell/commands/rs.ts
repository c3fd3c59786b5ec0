/**
 * `rs list|add|edit|delete`: the real servers of a service, their weight and forwarding
 * method.
 *
 * @module
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import { TUNNEL_TYPES, type TunnelType } from "../../vocab/tunnel_type.ts";
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
import { parseThreshold, parseTunnelPort, parseWaitSeconds, parseWeight } from "../values.ts";
import { MAX_SECONDS } from "../values.ts";
import { callOptional } from "../errors.ts";
import { type DrainView } from "../../daemon/drains.ts";
import { drainLine } from "../../daemon/status_text.ts";
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

/** Adds `-x, --upper-threshold` and `-y, --lower-threshold` (ipvsadm's words). */
function thresholdOptions(cmd: Command, what: string): Command {
  return cmd.option(
    "-x, --upper-threshold <n>",
    `${what}connections at which the server takes no new ones (0 = none)`,
    parseThreshold,
  ).option(
    "-y, --lower-threshold <n>",
    `${what}connections under which it takes them again (0 = 3/4 of upper)`,
    parseThreshold,
  );
}

/** Adds `--tunnel-type`, `--tunnel-port` and `--tunnel-checksum` (ipvsadm's `--tun-*`). */
function tunnelOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        "--tunnel-type <type>",
        "a tunnel server's encapsulation (default ipip; gue needs --tunnel-port)",
      ).choices(TUNNEL_TYPES),
    )
    .option("--tunnel-port <port>", "the UDP port a gue tunnel server listens on", parseTunnelPort)
    .addOption(
      new Option("--tunnel-checksum <on|off>", "a checksum in the gue or gre header (default off)")
        .choices(["on", "off"]),
    );
}

/** The tunnel options given, and nothing else. */
function tunnelFrom(opts: Record<string, unknown>): Partial<RealServerSpec> {
  return {
    ...(opts.tunnelType !== undefined && { tunnelType: opts.tunnelType as TunnelType }),
    ...(opts.tunnelPort !== undefined && { tunnelPort: opts.tunnelPort as number }),
    ...(opts.tunnelChecksum !== undefined && { tunnelChecksum: opts.tunnelChecksum === "on" }),
  };
}

/** The thresholds given, and nothing else. */
function thresholdsFrom(opts: Record<string, unknown>): Partial<RealServerSpec> {
  const out: Partial<RealServerSpec> = {};
  if (typeof opts.upperThreshold === "number") out.upperThreshold = opts.upperThreshold;
  if (typeof opts.lowerThreshold === "number") out.lowerThreshold = opts.lowerThreshold;
  return out;
}

/** A drain's deadline: whole seconds 0..31 days. */
function parseWithin(text: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) > MAX_SECONDS) {
    throw new InvalidArgumentError(
      `'${text}' is not a number of seconds: give a whole number from 0 to ${MAX_SECONDS}`,
    );
  }
  return Number(text);
}

const asDrains = (v: unknown) => (Array.isArray(v) ? v : []) as DrainView[];

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

  tunnelOptions(thresholdOptions(
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
      ),
    "",
  ))
    .addHelpText(
      "after",
      "\nExamples:\n  rs add tcp 192.0.2.10:80 10.0.1.11:8080 -w 2 -x 1000\n" +
        "  rs add tcp 192.0.2.10:80 10.0.1.12:80 --method tunnel --tunnel-type gue " +
        "--tunnel-port 6080",
    )
    .action(action(ctx, async ({ args, opts, control }) => {
      const server = args[2] as Endpoint;
      const spec: RealServerSpec = {
        ...server,
        weight: opts.weight as number,
        method: opts.method as RealServerSpec["method"],
        ...tunnelFrom(opts),
        ...thresholdsFrom(opts),
        ...(opts.inhibitOnFailure !== undefined &&
          { inhibitOnFailure: opts.inhibitOnFailure === "on" }),
      };
      await (await control()).addRealServer(requiredServiceKey(args), spec);
      ctx.changed();
    }));

  tunnelOptions(thresholdOptions(
    endpointArgument(
      serviceArguments(leaf(ctx, rs, "edit", "change a real server (only what is given)")),
      "rs:port",
      "real server address and port",
      true,
    ).option("-w, --weight <n>", "new weight (0 = no new connections)", parseWeight)
      .addOption(methodOption("new forwarding method"))
      .addOption(inhibitOption("on: a failed server stays listed at weight 0; off: it is removed")),
    "new: ",
  ))
    .action(action(ctx, async ({ args, opts, control }) => {
      const server: Partial<RealServerSpec> & Endpoint = {
        ...(args[2] as Endpoint),
        ...tunnelFrom(opts),
        ...thresholdsFrom(opts),
      };
      if (opts.weight !== undefined) server.weight = opts.weight as number;
      if (opts.method !== undefined) server.method = opts.method as RealServerSpec["method"];
      if (opts.inhibitOnFailure !== undefined) {
        server.inhibitOnFailure = opts.inhibitOnFailure === "on";
      }
      if (Object.keys(server).length === 2) {
        throw new UsageError(
          `nothing to change: give --weight N, --method ${FORWARD_METHODS.join("|")}, ` +
            "--upper-threshold N, --lower-threshold N, --tunnel-type/--tunnel-port/" +
            "--tunnel-checksum and/or --inhibit-on-failure on|off " +
            "(checks: rs check add|delete)",
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

  jsonOption(endpointArgument(
    serviceArguments(
      leaf(
        ctx,
        rs,
        "drain",
        "weight 0 now; remove the server when its sessions are gone or at the deadline, " +
          "resetting what is left",
      ),
    ),
    "rs:port",
    "real server address and port",
    true,
  )).option(
    "--within <seconds>",
    "deadline: then the remaining TCP sessions are reset at both ends and UDP ones ended",
    parseWithin,
    300,
  ).option(
    "--wait [seconds]",
    "wait for the drain to end (at most this long; default its deadline)",
    parseWaitSeconds,
  ).addHelpText(
    "after",
    "\nThe daemon runs the drain: this command returns at once unless --wait is given; " +
      "'rs drains' and 'status' show its progress.\nExample:\n" +
      "  rs drain tcp 192.0.2.10:80 10.0.1.11:8080 --within 300 --wait",
  ).action(action(ctx, async ({ args, opts, control }) => {
    const c = await control();
    const key = requiredServiceKey(args);
    const started = await callOptional(
      c.call.bind(c),
      "'rs drain'",
      "drainStart",
      key,
      args[2] as Endpoint,
      { within: opts.within as number },
    ) as DrainView;
    ctx.changed();
    let view = started;
    if (opts.wait !== undefined) {
      const limit = typeof opts.wait === "number" ? opts.wait : started.withinSeconds + 5;
      const until = Date.now() + limit * 1000;
      while (view.state === "draining" && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 200));
        view = asDrains(await c.call("drainList")).find((d) => d.id === started.id) ?? view;
      }
    }
    if (view.state === "failed") throw new Error(drainLine(view));
    if (opts.json) printJson(ctx, view);
    else ctx.io.out(drainLine(view));
  }));

  jsonOption(leaf(ctx, rs, "drains", "drains running and recently finished")).action(
    action(ctx, async ({ opts, control }) => {
      const c = await control();
      const list = asDrains(await callOptional(c.call.bind(c), "'rs drains'", "drainList"));
      if (opts.json) printJson(ctx, list);
      else ctx.io.out(list.length === 0 ? "no drains" : list.map((d) => drainLine(d)).join("\n"));
    }),
  );

  addRealServerHealthCommands(ctx, rs);
}
