/**
 * `service list|show|add|edit|delete`: virtual services, their scheduler, persistence and the
 * FULLNAT TCP tweaks (TOA, timestamp stripping, MSS clamping).
 *
 * @module
 */
import { type Command, Option } from "commander";
import { compareAddresses, DEFAULT_SCHEDULER } from "../../vocab/mod.ts";
import type { ServiceKey, ServiceOptions, ServiceView, Timeouts } from "../../fullnat/types.ts";
import {
  action,
  jsonOption,
  leaf,
  mhTableSizeOption,
  optionalServiceKey,
  printJson,
  requiredServiceKey,
  schedulerFlagsOption,
  schedulerOption,
  serviceArguments,
} from "../command_kit.ts";
import type { CommandContext, ShellControl } from "../context.ts";
import { UsageError } from "../errors.ts";
import { serviceDetail, servicesTable, TIMEOUT_NAMES } from "../views.ts";
import { formatServiceKey, parsePersistenceMask, parseSeconds, parseTimeout } from "../values.ts";
import { quorumFrom, quorumOptions } from "./health.ts";
import { sourceGuardFrom, sourceGuardOptions } from "./source_guard.ts";

/** Services sorted as ipvsadm lists them: protocol, address, port. */
export function sortServices(services: ServiceView[]): ServiceView[] {
  return services.sort((a, b) =>
    a.protocol.localeCompare(b.protocol) || compareAddresses(a.address, b.address) ||
    a.port - b.port
  );
}

/** The daemon's services, sorted. */
export async function fetchServices(control: ShellControl): Promise<ServiceView[]> {
  return sortServices(await control.listServices());
}

/**
 * The services a `list`/`show` command is about: the one its optional service arguments name
 * (a usage error if there is none such), or all.
 */
export async function selectedServices(
  args: readonly unknown[],
  control: ShellControl,
): Promise<ServiceView[]> {
  const key = optionalServiceKey(args);
  const all = await fetchServices(control);
  return key === undefined ? all : [findService(all, key)];
}

/** One JSON row per item of each service (its real servers, say), tagged with the service. */
export function perServiceRows<T extends object>(
  services: readonly ServiceView[],
  items: (s: ServiceView) => readonly T[],
): unknown[] {
  return services.flatMap((s) =>
    items(s).map((item) => ({
      service: { protocol: s.protocol, address: s.address, port: s.port },
      ...item,
    }))
  );
}

/** The listed service with this key, or a usage error naming the existing ones. */
export function findService(services: readonly ServiceView[], key: ServiceKey): ServiceView {
  const found = services.find((s) =>
    s.protocol === key.protocol && s.address === key.address && s.port === key.port
  );
  if (found !== undefined) return found;
  const known = services.map(formatServiceKey);
  const hint = known.length === 0
    ? "there are no services yet (add one with: service add)"
    : `existing services: ${known.join(", ")}`;
  throw new UsageError(`no service ${formatServiceKey(key)}; ${hint}`);
}

/** Adds the tweak switches: each as `--x` and `--no-x`, left undefined unless given. */
function tweakOptions(cmd: Command): Command {
  const tweaks: [string, string][] = [
    ["toa", "insert the client address as a TOA option toward real servers"],
    ["strip-timestamps", "remove the TCP timestamp option from client SYNs"],
    ["clamp-mss", "lower the MSS of real-server SYN-ACKs to leave room for TOA"],
  ];
  for (const [name, what] of tweaks) {
    cmd.addOption(new Option(`--${name}`, `${what} (default on)`));
    cmd.addOption(new Option(`--no-${name}`, "turn the above off"));
  }
  return cmd;
}

function tweaksFrom(opts: Record<string, unknown>): Partial<ServiceOptions> {
  const out: Partial<ServiceOptions> = {};
  if (typeof opts.toa === "boolean") out.toa = opts.toa;
  if (typeof opts.stripTimestamps === "boolean") out.stripTimestamps = opts.stripTimestamps;
  if (typeof opts.clampMss === "boolean") out.clampMss = opts.clampMss;
  return out;
}

/** The scheduler flags, mh table size and persistence mask given, and nothing else. */
function schedulingFrom(opts: Record<string, unknown>): Partial<ServiceOptions> {
  const out: Partial<ServiceOptions> = {};
  if (Array.isArray(opts.schedFlags)) out.schedulerFlags = opts.schedFlags;
  if (typeof opts.mhTableSize === "number") out.mhTableSize = opts.mhTableSize;
  if (typeof opts.persistenceMask === "number") out.persistenceMask = opts.persistenceMask;
  return out;
}

/** `--persistence-mask <mask>` (ipvsadm's `-M`). */
function persistenceMaskOption(cmd: Command, description: string): Command {
  return cmd.option("--persistence-mask <mask>", description, parsePersistenceMask);
}

/**
 * The service's own timeouts as options: `--timeout-established`, `--timeout-syn-sent`, ...,
 * `--timeout-udp` (the `timeout set` names without `tcp-`), with commander's attribute name.
 */
const SERVICE_TIMEOUTS = TIMEOUT_NAMES.map(([field, name]) => {
  const flag = `timeout-${name.replace(/^tcp-/, "")}`;
  return { field, flag, attr: flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) };
});

/** Adds the per-service timeouts and one-packet scheduling; in an edit 0 clears a timeout. */
function limitOptions(cmd: Command, edit: boolean): Command {
  for (const { flag } of SERVICE_TIMEOUTS) {
    cmd.option(
      `--${flag} <seconds>`,
      edit
        ? "this service's own timeout (0: back to the global one)"
        : "this service's own timeout",
      edit ? parseSeconds : parseTimeout,
    );
  }
  cmd.addOption(
    new Option("--one-packet", "UDP: schedule every datagram on its own (ipvsadm -o)"),
  );
  cmd.addOption(new Option("--no-one-packet", "turn the above off"));
  cmd.addOption(
    new Option(
      "--syn-proxy",
      "TCP: answer SYNs with cookies; only clients that complete the handshake reach a real " +
        "server (ipvsadm -j enable)",
    ),
  );
  cmd.addOption(new Option("--no-syn-proxy", "turn the above off"));
  return cmd;
}

/** The timeouts, one-packet and SYN proxy switches given, and nothing else. */
function limitsFrom(opts: Record<string, unknown>): Partial<ServiceOptions> {
  const out: Partial<ServiceOptions> = {};
  const timeouts: Partial<Timeouts> = {};
  for (const { field, attr } of SERVICE_TIMEOUTS) {
    if (typeof opts[attr] === "number") timeouts[field] = opts[attr] as number;
  }
  if (Object.keys(timeouts).length > 0) out.timeouts = timeouts;
  if (typeof opts.onePacket === "boolean") out.onePacket = opts.onePacket;
  if (typeof opts.synProxy === "boolean") out.synProxy = opts.synProxy;
  return out;
}

/** Adds `service` and its verbs. */
export function addServiceCommands(ctx: CommandContext, root: Command): void {
  const service = root.command("service").description(
    "virtual services: VIP:port, scheduler, persistence, TCP tweaks",
  );

  jsonOption(leaf(ctx, service, "list", "list the virtual services")).alias("ls").action(
    action(ctx, async ({ opts, control }) => {
      const services = await fetchServices(await control());
      ctx.io.out(opts.json ? JSON.stringify(services, null, 2) : servicesTable(services));
    }),
  );

  jsonOption(serviceArguments(leaf(ctx, service, "show", "show one service in detail")))
    .action(action(ctx, async ({ args, opts, control }) => {
      const one = findService(await fetchServices(await control()), requiredServiceKey(args));
      if (opts.json) printJson(ctx, one);
      else ctx.io.out(serviceDetail(one));
    }));

  sourceGuardOptions(quorumOptions(limitOptions(
    tweakOptions(
      persistenceMaskOption(
        serviceArguments(leaf(ctx, service, "add", "add a virtual service"))
          .addOption(schedulerOption("scheduler").default(DEFAULT_SCHEDULER))
          .addOption(schedulerFlagsOption("scheduler flags, comma-separated (of sh, mh)"))
          .addOption(mhTableSizeOption("positions of the mh lookup table (default 4093)"))
          .option(
            "-p, --persistence <seconds>",
            "keep a client on one real server (0 = off)",
            parseSeconds,
            0,
          ),
        "clients in one prefix share a real server: prefix length or netmask (default the " +
          "whole address)",
      ),
    ),
    false,
  ))).addHelpText(
    "after",
    "\nExamples:\n  service add tcp 192.0.2.10:80 -s rr --no-toa\n" +
      "  service add tcp 192.0.2.10:80 -s mh -b mh-fallback,mh-port --mh-table-size 65521\n" +
      "  service add tcp 192.0.2.10:443 -p 600 --persistence-mask 24\n" +
      "  service add tcp 192.0.2.10:22 --timeout-established 900\n" +
      "  service add udp 192.0.2.10:53 -s rr --one-packet\n" +
      "  service add tcp 192.0.2.10:80 --deny 203.0.113.0/24 --source-rate 20 " +
      "--source-sessions 100",
  )
    .action(action(ctx, async ({ args, opts, control }) => {
      const key = requiredServiceKey(args);
      const options: ServiceOptions = {
        scheduler: opts.scheduler as ServiceOptions["scheduler"],
        ...schedulingFrom(opts),
        persistence: opts.persistence as number,
        ...tweaksFrom(opts),
        ...limitsFrom(opts),
        ...quorumFrom(opts),
        ...sourceGuardFrom(opts),
      };
      await (await control()).addService(key, options);
      ctx.changed();
    }));

  sourceGuardOptions(quorumOptions(limitOptions(
    tweakOptions(
      persistenceMaskOption(
        serviceArguments(
          leaf(ctx, service, "edit", "change a virtual service (only what is given)"),
        )
          .addOption(schedulerOption("new scheduler"))
          .addOption(schedulerFlagsOption("new scheduler flags (none: no flags)"))
          .addOption(mhTableSizeOption("new mh table size"))
          .option("-p, --persistence <seconds>", "new persistence timeout (0 = off)", parseSeconds),
        "new persistence granularity (forgets the service's templates)",
      ),
    ),
    true,
  ))).addHelpText(
    "after",
    "\nExample:\n  service edit tcp 192.0.2.10:22 --timeout-established 900 (0: the global one again)",
  ).action(action(ctx, async ({ args, opts, control }) => {
    const key = requiredServiceKey(args);
    const changes: Partial<ServiceOptions> = {
      ...schedulingFrom(opts),
      ...tweaksFrom(opts),
      ...limitsFrom(opts),
      ...quorumFrom(opts),
      ...sourceGuardFrom(opts),
    };
    if (opts.scheduler !== undefined) {
      changes.scheduler = opts.scheduler as ServiceOptions["scheduler"];
    }
    if (opts.persistence !== undefined) changes.persistence = opts.persistence as number;
    if (Object.keys(changes).length === 0) {
      throw new UsageError(
        "nothing to change: give --scheduler, --sched-flags, --mh-table-size, --persistence, " +
          "--persistence-mask, --timeout-established (or another --timeout-*), " +
          "--[no-]one-packet, --[no-]syn-proxy, --quorum, --hysteresis, --sorry-server, --allow, --deny, " +
          "--source-rate, --source-sessions, or --[no-]toa, " +
          "--[no-]strip-timestamps, --[no-]clamp-mss",
      );
    }
    await (await control()).editService(key, changes);
    ctx.changed();
  }));

  serviceArguments(
    leaf(
      ctx,
      service,
      "delete",
      "delete a virtual service: it takes no new connections; established ones finish (drain)",
    ),
  ).alias("del").action(action(ctx, async ({ args, control }) => {
    await (await control()).deleteService(requiredServiceKey(args));
    ctx.changed();
  }));
}
