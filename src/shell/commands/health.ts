/**
 * Health checks in the admin commands: `rs health` (and `show health`), the state the daemon's
 * checks found for every real server, and `rs check list|add|delete`, which change a real
 * server's configured checks. A check is validated here, with the option names in the message,
 * before anything is sent; the daemon validates it again, and a refused change changes nothing.
 *
 * @module
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import type { HealthReport } from "../../daemon/health_monitor.ts";
import type { Endpoint, ServiceOptions, ServiceView } from "../../fullnat/types.ts";
import { CHECK_FIELDS, CHECK_TYPES, type CheckSpec, checkSpecProblems } from "../../health/spec.ts";
import { describeCheck } from "../../persist/plan.ts";
import {
  action,
  type ActionInput,
  endpointArgument,
  jsonOption,
  leaf,
  optionalServiceKey,
  printJson,
  requiredServiceKey,
  serviceArguments,
} from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { callOptional, UsageError } from "../errors.ts";
import { checksTable, healthTable } from "../health_views.ts";
import {
  formatServiceKey,
  parseAddress,
  parseCheckSeconds,
  parseCount,
  parseQuorum,
  parseSorryServer,
  parseStatusCodes,
} from "../values.ts";
import { fetchServices, findService, perServiceRows, selectedServices } from "./service.ts";
import { formatEndpoint, PORT_MAX } from "../../vocab/mod.ts";

/** The report of the daemon's `healthStatus` op, of one service or all. */
async function fetchHealth(input: ActionInput): Promise<HealthReport> {
  const c = await input.control();
  const report = await callOptional(c.call.bind(c), "health checks", "healthStatus") as
    | HealthReport
    | null;
  if (report === null || !Array.isArray(report?.services)) {
    throw new Error("the daemon's healthStatus answer has no services");
  }
  const key = optionalServiceKey(input.args);
  if (key === undefined) return report;
  const one = report.services.filter((s) =>
    s.protocol === key.protocol && s.address === key.address && s.port === key.port
  );
  if (one.length === 0) {
    // Named the usual way (with the list of services) when there is no such service.
    findService(await fetchServices(c), key);
  }
  return { ...report, services: one };
}

/** `rs health` / `show health`: prints the health report. */
export async function showHealth(ctx: CommandContext, input: ActionInput): Promise<void> {
  const report = await fetchHealth(input);
  if (input.opts.json) printJson(ctx, report);
  else ctx.io.out(healthTable(report, Date.now()));
}

/** Adds a command that prints the health report under `parent`. */
export function addHealthCommand(
  ctx: CommandContext,
  parent: Command,
  name: string,
  description: string,
  withService: boolean,
): Command {
  const cmd = jsonOption(leaf(ctx, parent, name, description));
  if (withService) serviceArguments(cmd, true);
  return cmd.action(action(ctx, (input) => showHealth(ctx, input)));
}

/** Option name of each check field, for messages that name what to fix. */
const OPTION_OF: Record<string, string> = {
  type: "--type",
  delayLoop: "--delay-loop",
  connectTimeout: "--connect-timeout",
  retry: "--retry",
  delayBeforeRetry: "--delay-before-retry",
  rise: "--rise",
  fall: "--fall",
  connectIp: "--connect-ip",
  connectPort: "--connect-port",
  bindTo: "--bind-to",
  bindPort: "--bind-port",
  urls: "--url",
  virtualHost: "--virtual-host",
  command: "--command",
  timeout: "--timeout",
  dynamic: "--dynamic",
};

/** The check the options describe, as a document would spell it (unset fields left out). */
export function checkFromOptions(opts: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { type: opts.type };
  // Every scalar field of a check has an option of the same name; urls and dynamic are built.
  const copy = CHECK_FIELDS.filter((k) => k !== "type" && k !== "urls" && k !== "dynamic");
  for (const k of copy) if (opts[k] !== undefined) out[k] = opts[k];
  if (opts.dynamic === true) out.dynamic = true;
  const paths = opts.url as string[] | undefined;
  if (paths !== undefined) {
    out.urls = paths.map((path) => ({
      path,
      ...(opts.status !== undefined && { statusCodes: opts.status }),
      ...(opts.digest !== undefined && { digest: opts.digest }),
    }));
  } else if (opts.status !== undefined || opts.digest !== undefined) {
    throw new UsageError("--status and --digest apply to a --url: give the path with --url");
  }
  return out;
}

/** Checks a check built from options; a refusal names the options to fix. */
export function checkOptions(raw: Record<string, unknown>, rsAddress: string): CheckSpec {
  const { spec, problems } = checkSpecProblems(raw, "check", { rsAddress });
  if (spec !== undefined) return spec;
  const named = problems.map((p) =>
    p.replace(/^check\.([A-Za-z]+)(\[\d+\])?(\.[A-Za-z]+)?:/, (all, field, _i, sub) => {
      if (field === "urls" && sub === ".statusCodes") return "--status:";
      if (field === "urls" && sub === ".digest") return "--digest:";
      return OPTION_OF[field] ? `${OPTION_OF[field]}:` : all;
    })
  );
  throw new UsageError(`the check is not valid:\n  ${named.join("\n  ")}`);
}

const collect = (v: string, previous: string[] = []) => [...previous, v];

function portOption(flags: string, description: string): Option {
  return new Option(flags, description).argParser((v) => {
    const n = parseCount(v);
    if (n < 1 || n > PORT_MAX) {
      throw new InvalidArgumentError(`'${v}' is not a port: give a port from 1 to ${PORT_MAX}`);
    }
    return n;
  });
}

/** The real server (and its service) the arguments name, from the daemon's listing. */
async function targetServer(
  args: readonly unknown[],
  input: ActionInput,
): Promise<{ service: ServiceView; server: ServiceView["realServers"][number] }> {
  const key = requiredServiceKey(args);
  const ep = args[2] as Endpoint;
  const service = findService(await fetchServices(await input.control()), key);
  const server = service.realServers.find((r) => r.address === ep.address && r.port === ep.port);
  if (server === undefined) {
    const known = service.realServers.map((r) => formatEndpoint(r.address, r.port));
    throw new UsageError(
      `no real server ${formatEndpoint(ep.address, ep.port)} in ${formatServiceKey(key)}; ` +
        (known.length ? `its real servers: ${known.join(", ")}` : "it has no real servers"),
    );
  }
  return { service, server };
}

/** Adds `rs health` and `rs check list|add|delete` under `rs`. */
export function addRealServerHealthCommands(ctx: CommandContext, rs: Command): void {
  addHealthCommand(
    ctx,
    rs,
    "health",
    "health of real servers as the checks found it (of one service, or all)",
    true,
  );

  const check = rs.command("check").description(
    "health checks of a real server (keepalived's TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK)",
  );

  jsonOption(
    serviceArguments(
      leaf(ctx, check, "list", "list configured checks (of one service, or all)"),
      true,
    ),
  ).alias("ls").action(action(ctx, async ({ args, opts, control }) => {
    const services = await selectedServices(args, await control());
    if (opts.json) {
      printJson(
        ctx,
        perServiceRows(
          services,
          (s) =>
            s.realServers.map((r) => ({
              address: r.address,
              port: r.port,
              checks: r.checks ?? [],
            })),
        ),
      );
    } else ctx.io.out(checksTable(services));
  }));

  endpointArgument(
    serviceArguments(leaf(ctx, check, "add", "add a health check to a real server")),
    "rs:port",
    "real server address and port",
    true,
  ).addOption(
    new Option("-t, --type <type>", "tcp connect, http/https GET, or misc command")
      .choices(CHECK_TYPES).makeOptionMandatory(),
  )
    .option("--delay-loop <s>", "seconds between rounds (default 60)", parseCheckSeconds)
    .option("--connect-timeout <s>", "seconds one attempt may take (default 5)", parseCheckSeconds)
    .option("--retry <n>", "extra attempts in a round before it fails (default 1)", parseCount)
    .option("--delay-before-retry <s>", "seconds between attempts (default 1)", parseCheckSeconds)
    .option("--rise <n>", "good rounds in a row that bring it up (default 1)", parseCount)
    .option("--fall <n>", "failed rounds in a row that take it down (default 1)", parseCount)
    .option("--connect-ip <ip>", "address to check (default the real server's)", parseAddress)
    .addOption(portOption("--connect-port <port>", "port to check (default the real server's)"))
    .option("--bind-to <ip>", "source address of the checks (a local address)", parseAddress)
    .addOption(portOption("--bind-port <port>", "source port of the checks"))
    .option("--url <path>", "http/https: a path to GET (repeat for several)", collect)
    .option(
      "--status <codes>",
      "http/https: accepted codes, e.g. 200,301 (default 2xx)",
      parseStatusCodes,
    )
    .option("--digest <md5>", "http/https: MD5 of the expected body (as genhash prints it)")
    .option("--virtual-host <host>", "http/https: Host header")
    .option("--command <cmd>", "misc: command run with /bin/sh -c; exit 0 up, 1 down")
    .option("--timeout <s>", "misc: seconds before the command is killed", parseCheckSeconds)
    .option("--dynamic", "misc: exit 2-255 sets the weight to code - 2")
    .addHelpText(
      "after",
      "\nExamples:\n  rs check add tcp 192.0.2.10:80 10.0.1.11:80 --type tcp --delay-loop 5 --fall 2\n" +
        "  rs check add tcp 192.0.2.10:80 10.0.1.11:80 --type http --url /health --status 200\n" +
        "\n--status and --digest apply to every --url given; per-URL lists go in the" +
        " configuration file (config export / config apply).",
    )
    .action(action(ctx, async (input) => {
      const { args, opts, control } = input;
      const { service, server } = await targetServer(args, input);
      const spec = checkOptions(checkFromOptions(opts), server.address);
      const checks = [...(server.checks ?? []), spec];
      await (await control()).editRealServer(requiredServiceKey(args), {
        address: server.address,
        port: server.port,
        checks,
      });
      ctx.io.out(
        `added check ${checks.length} (${describeCheck(spec)}) to ${
          formatEndpoint(server.address, server.port)
        } in ${formatServiceKey(service)}`,
      );
      ctx.changed();
    }));

  endpointArgument(
    serviceArguments(leaf(ctx, check, "delete", "remove a health check from a real server")),
    "rs:port",
    "real server address and port",
    true,
  ).argument("[number]", "the check's number in 'rs check list' (omit with --all)", parseCount)
    .option("--all", "remove every check of the server")
    .alias("del").action(action(ctx, async (input) => {
      const { args, opts, control } = input;
      const { service, server } = await targetServer(args, input);
      const checks = server.checks ?? [];
      const n = args[3] as number | undefined;
      if (checks.length === 0) {
        throw new UsageError(
          `${formatEndpoint(server.address, server.port)} in ${
            formatServiceKey(service)
          } has no health checks`,
        );
      }
      let keep: CheckSpec[];
      if (opts.all) {
        if (n !== undefined) throw new UsageError("give a check number or --all, not both");
        keep = [];
      } else {
        if (n === undefined || n < 1 || n > checks.length) {
          throw new UsageError(
            `give the number of the check to remove, 1 to ${checks.length} ` +
              `(see: rs check list ${formatServiceKey(service)}), or --all`,
          );
        }
        keep = checks.filter((_, i) => i !== n - 1);
      }
      await (await control()).editRealServer(requiredServiceKey(args), {
        address: server.address,
        port: server.port,
        checks: keep,
      });
      ctx.io.out(
        `removed ${checks.length - keep.length} check(s) from ${
          formatEndpoint(server.address, server.port)
        } in ${formatServiceKey(service)}; ${keep.length} left`,
      );
      ctx.changed();
    }));
}

/** `--inhibit-on-failure on|off`, for `rs add` and `rs edit`. */
export function inhibitOption(description: string): Option {
  return new Option("--inhibit-on-failure <on|off>", description).choices(["on", "off"]);
}

/** `--quorum`, `--hysteresis`, `--sorry-server`, `--sorry-method` for `service add|edit`. */
export function quorumOptions(cmd: Command): Command {
  return cmd
    .option(
      "--quorum <n>",
      "sum of live real servers' weights the service needs; below it the sorry server serves",
      parseQuorum,
    )
    .option(
      "--hysteresis <n>",
      "margin around the quorum against flapping (default 0)",
      parseQuorum,
    )
    .option(
      "--sorry-server <ip:port|none>",
      "serves alone while the quorum is lost (none removes it)",
      parseSorryServer,
    )
    .addOption(
      new Option("--sorry-method <method>", "forwarding to the sorry server (default fullnat)")
        .choices(["fullnat", "nat"]),
    );
}

/** The quorum settings the options give (none when none were given). */
export function quorumFrom(opts: Record<string, unknown>): Partial<ServiceOptions> {
  const out: Partial<ServiceOptions> = {};
  if (opts.quorum !== undefined) {
    if ((opts.quorum as number) < 1) throw new UsageError("--quorum must be 1 or more");
    out.quorum = opts.quorum as number;
  }
  if (opts.hysteresis !== undefined) out.hysteresis = opts.hysteresis as number;
  if (opts.sorryServer !== undefined) {
    const given = opts.sorryServer as Endpoint | "none";
    const ep = given === "none" ? null : given;
    if (ep === null && opts.sorryMethod !== undefined) {
      throw new UsageError("--sorry-method needs a --sorry-server, not none");
    }
    const method = (opts.sorryMethod as "fullnat" | "nat" | undefined) ?? "fullnat";
    out.sorryServer = ep === null ? null : { ...ep, method };
  } else if (opts.sorryMethod !== undefined) {
    throw new UsageError("--sorry-method needs --sorry-server ADDRESS:PORT");
  }
  return out;
}
