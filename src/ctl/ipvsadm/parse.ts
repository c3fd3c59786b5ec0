/**
 * Parses an ipvsadm command line (with Alibaba's FULLNAT extensions `-b`, `-P`, `-Q`, `-G`,
 * `-z`, and `-V` of its later release) into a typed {@linkcode IpvsadmCommand}, or into the message and exit status ipvsadm
 * itself would give. The checks run in ipvsadm's order: the first option must be a command;
 * values are checked as their options are read; then `--set`'s values, stray words, the
 * command/option table, zero ports, list conflicts; and last the refusals that are fullnat's
 * own (direct routing, tunnelling, schedulers it does not implement).
 *
 * @module
 */

import {
  type ServiceKey,
  type ServiceOptions,
  SOURCE_LIMIT_MAX,
  type Timeouts,
} from "../../fullnat/types.ts";
import {
  type AnyForwardMethod,
  COMMAND_MAX_SECONDS,
  DEFAULT_FORWARD_METHOD,
  DEFAULT_SCHEDULER,
  DEFAULT_WEIGHT,
  type ForwardMethod,
  forwardMethodOfIpvsadmOption,
  isForwardMethod,
  isIpv6,
  isSchedulerName,
  netmaskPrefixLength,
  orList,
  parseAddress,
  type ParsedEndpoint,
  parseEndpoint,
  type Protocol,
  protocolOfIpvsadmOption,
  SCHEDULER_FLAG_TABLE,
  SCHEDULER_FLAGS,
  schedulerEntry,
  type SchedulerFlag,
  type SchedulerName,
  SCHEDULERS,
  THRESHOLD_MAX,
  UNSUPPORTED_FORWARDING,
  WEIGHT_MAX,
  WEIGHT_MIN,
} from "../../vocab/mod.ts";
import {
  EXIT_REFUSED,
  EXIT_USAGE,
  type IpvsadmCommand,
  type ListFormat,
  type ParseResult,
} from "./command.ts";
import { displayName, type OptionSpec, tokenize } from "./getopt.ts";
import { checkOptions, checkRow, type CommandName, type OptionName } from "./rules.ts";
import {
  DEFAULT_TUNNEL_TYPE,
  isTunnelType,
  type TunnelOptions,
  type TunnelType,
} from "../../vocab/tunnel_type.ts";
import { tryHelpText } from "./usage.ts";
import { SYNC_DEFAULTS, type SyncRole } from "../../sync/sync_config.ts";

/** ipvsadm's upper bound for any timeout: 31 days. */
export const MAX_TIMEOUT = COMMAND_MAX_SECONDS;
/** Persistence timeout when `-p` is given without a value (IPVS_SVC_PERSISTENT_TIMEOUT). */
export const DEFAULT_PERSISTENCE = 300;
/** Used when `-A` has no `-s` (see src/vocab/scheduler.ts for why it is not ipvsadm's wlc). */
export { DEFAULT_SCHEDULER };
/** The refusal for `-g` and `-i`, naming the methods that work (src/vocab/forward_method.ts). */
export { UNSUPPORTED_FORWARDING };

/** How the scheduler refusal names the schedulers that work: `-s rr or -s wrr`. */
const SCHEDULER_OPTIONS = orList(SCHEDULERS.map((s) => `-s ${s}`));

const COMMANDS: Record<string, CommandName | "help" | "version"> = {
  "add-service": "add-service",
  "edit-service": "edit-service",
  "delete-service": "delete-service",
  "clear": "flush",
  "list": "list",
  "zero": "zero",
  "add-server": "add-server",
  "edit-server": "edit-server",
  "delete-server": "delete-server",
  "set": "set",
  "add-laddr": "add-laddr",
  "del-laddr": "del-laddr",
  "get-laddr": "get-laddr",
  "save": "save",
  "restore": "restore",
  "start-daemon": "start-daemon",
  "stop-daemon": "stop-daemon",
  "help": "help",
  "version": "version",
};

/** Everything read from the options, before it is checked as a whole. */
interface Collected {
  given: Set<OptionName>;
  protocol?: Protocol;
  service?: ParsedEndpoint;
  scheduler?: string;
  /** `-b` / `--sched-flags` of a service command, as given. */
  schedFlags?: string;
  persistence?: number;
  /** `-M` as given: read once the service's family is known (ipvsadm reads it by `-t`'s). */
  netmask?: string;
  server?: ParsedEndpoint;
  method?: AnyForwardMethod;
  weight?: number;
  laddr?: string;
  /** `-x`, `-y`: a real server's connection thresholds. */
  upperThreshold?: number;
  lowerThreshold?: number;
  /** `-o`: one-packet scheduling. */
  ops?: boolean;
  /** `-V`: the service's own ESTABLISHED timeout. */
  estTimeout?: number;
  /** `--tun-type`, `--tun-port`: a TUNNEL server's encapsulation. */
  tunnelType?: TunnelType;
  tunnelPort?: number;
  /** `--start-daemon` / `--stop-daemon`'s state. */
  syncRole?: SyncRole;
  mcastInterface?: string;
  syncid?: number;
  syncMaxlen?: number;
  mcastGroup?: string;
  mcastPort?: number;
  mcastTtl?: number;
  /** `--source-rate`, `--source-sessions`: the service's per-source limits (fullnat's own). */
  sourceRate?: number;
  sourceSessions?: number;
  /** `-j enable|disable`: the service's SYN proxy (Alibaba LVS's ipvsadm). */
  synProxy?: boolean;
  format: ListFormat;
}

/** Thrown inside the parser to stop at the first refusal; never escapes this module. */
class Refusal {
  constructor(readonly message: string, readonly exitCode: number) {}
}

const refuse = (message: string, exitCode = EXIT_USAGE): never => {
  throw new Refusal(message, exitCode);
};

/** ipvsadm's string_to_number: a whole decimal number within [min, max]. */
function stringToNumber(text: string, min: number, max: number): number | undefined {
  if (!/^\s*[+-]?[0-9]+$/.test(text)) return undefined;
  const n = Number(text.trim());
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
}

function parseTimeout(text: string, min: number): number {
  const n = stringToNumber(text, min, MAX_TIMEOUT);
  return n ?? refuse(`invalid timeout value \`${text}' specified`);
}

function unsupported(option: OptionSpec): never {
  return refuse(`option ${displayName(option)} is not supported by fullnat`);
}

/** Applies one option occurrence to the collected state, checking its value. */
function applyOption(c: Collected, option: OptionSpec, value: string | undefined): void {
  const set = (name: OptionName) => {
    if (c.given.has(name)) refuse(`multiple '${name}' options specified`);
    c.given.add(name);
  };
  const protocol = protocolOfIpvsadmOption(option.id);
  if (protocol !== undefined) {
    set("service-address");
    c.protocol = protocol;
    c.service = parseEndpoint(value ?? "") ??
      refuse("illegal virtual server address[:port] specified");
    return;
  }
  const method = forwardMethodOfIpvsadmOption(option.id);
  if (method !== undefined) {
    set("forwarding-method");
    c.method = method;
    return;
  }
  switch (option.id) {
    case "scheduler":
      set("scheduler");
      c.scheduler = value;
      return;
    case "sched-flags":
      set("sched-flags");
      c.schedFlags = value;
      return;
    case "persistent":
      set("persistent");
      c.persistence = value === undefined ? DEFAULT_PERSISTENCE : parseTimeout(value, 1);
      return;
    case "netmask":
      set("netmask");
      c.netmask = value;
      return;
    case "real-server":
      set("real-server");
      c.server = parseEndpoint(value ?? "") ??
        refuse("illegal real server address[:port] specified");
      return;
    case "weight":
      set("weight");
      c.weight = stringToNumber(value ?? "", WEIGHT_MIN, WEIGHT_MAX) ??
        refuse("illegal weight specified");
      return;
    case "laddr":
      set("local-address");
      c.laddr = parseEndpoint(value ?? "")?.address ?? refuse("illegal local address");
      return;
    case "u-threshold":
      set("u-threshold");
      c.upperThreshold = stringToNumber(value ?? "", 0, THRESHOLD_MAX) ??
        refuse("illegal u_threshold specified");
      return;
    case "l-threshold":
      set("l-threshold");
      c.lowerThreshold = stringToNumber(value ?? "", 0, THRESHOLD_MAX) ??
        refuse("illegal l_threshold specified");
      return;
    case "thresholds":
      set("thresholds");
      c.format.thresholds = true;
      return;
    case "ops":
      set("ops");
      c.ops = true;
      return;
    case "vsestablish-timeout":
      set("vsestablish-timeout");
      // Alibaba's ipvsadm refuses 0 with this message; a value that is no number gets
      // ipvsadm's usual timeout message.
      c.estTimeout = value?.trim() === "0"
        ? refuse("vsestablish-timeout should not be zero")
        : parseTimeout(value ?? "", 1);
      return;
    case "source-rate":
      set("source-rate");
      c.sourceRate = stringToNumber(value ?? "", 0, SOURCE_LIMIT_MAX) ??
        refuse(`illegal source-rate specified: give 0 (none) to ${SOURCE_LIMIT_MAX}`);
      return;
    case "source-sessions":
      set("source-sessions");
      c.sourceSessions = stringToNumber(value ?? "", 0, SOURCE_LIMIT_MAX) ??
        refuse(`illegal source-sessions specified: give 0 (none) to ${SOURCE_LIMIT_MAX}`);
      return;
    case "synproxy": {
      set("synproxy");
      const v = (value ?? "").trim().toLowerCase();
      if (v !== "enable" && v !== "disable") {
        refuse(`illegal synproxy specified: give enable or disable (got '${value ?? ""}')`);
      }
      c.synProxy = v === "enable";
      return;
    }
    case "numeric":
      set("numeric");
      c.format.numeric = true;
      return;
    case "connection":
      return set("connection");
    case "timeout":
      return set("timeout");
    case "stats":
      set("stats");
      c.format.stats = true;
      return;
    case "rate":
      set("rate");
      c.format.rate = true;
      return;
    case "persistent-conn":
      set("persistent-conn");
      c.format.persistentConn = true;
      return;
    case "exact":
      set("exact");
      c.format.exact = true;
      return;
    case "nosort":
      set("nosort");
      c.format.nosort = true;
      return;
    case "sort":
      // ipvsadm keeps --sort as a no-op for old scripts.
      return;
    case "tun-info":
      set("tun-info");
      c.format.tunInfo = true;
      return;
    case "tun-type":
      set("tun-type");
      c.tunnelType = isTunnelType(value) ? value : refuse("illegal tunnel type specified");
      return;
    case "tun-port":
      set("tun-port");
      c.tunnelPort = stringToNumber(value ?? "", 1, 65535) ??
        refuse("illegal tunnel port specified");
      return;
    case "tun-nocsum":
      return set("tun-nocsum");
    case "tun-csum":
      return set("tun-csum");
    case "tun-remcsum":
      return set("tun-remcsum");
    case "daemon":
      return set("daemon");
    case "mcast-interface":
      set("mcast-interface");
      c.mcastInterface = /^[^\s/]{1,15}$/.test(value ?? "")
        ? value
        : refuse("illegal mcast-interface specified");
      return;
    case "syncid":
      set("syncid");
      c.syncid = stringToNumber(value ?? "", 0, 255) ?? refuse("illegal syncid specified");
      return;
    case "sync-maxlen":
      set("sync-maxlen");
      c.syncMaxlen = stringToNumber(value ?? "", 1, 65535 - 28) ??
        refuse("illegal sync-maxlen specified");
      return;
    case "mcast-group":
      set("mcast-group");
      c.mcastGroup = parseAddress(value ?? "")?.address ?? refuse("illegal mcast-group specified");
      return;
    case "mcast-port":
      set("mcast-port");
      c.mcastPort = stringToNumber(value ?? "", 1, 65535) ?? refuse("illegal mcast-port specified");
      return;
    case "mcast-ttl":
      set("mcast-ttl");
      c.mcastTtl = stringToNumber(value ?? "", 1, 255) ?? refuse("illegal mcast-ttl specified");
      return;
  }
  unsupported(option);
}

function serviceKey(c: Collected): ServiceKey {
  const svc = c.service as ParsedEndpoint;
  return { protocol: c.protocol as Protocol, address: svc.address, port: svc.port ?? 0 };
}

/** `{ service }` when a service was named, else nothing (no `service: undefined` key). */
function optionalService(c: Collected): { service?: ServiceKey } {
  return c.service === undefined ? {} : { service: serviceKey(c) };
}

/** The tunnel options, as ipvsadm 1.31 names them in `tunnel_opt_check`'s messages. */
const TUNNEL_OPTIONS = ["tun-port", "tun-nocsum", "tun-csum", "tun-remcsum"] as const;
/** ipvsadm's `tunnel_types_v_options`: per type, per option of {@linkcode TUNNEL_OPTIONS}. */
const TUNNEL_RULES: Record<TunnelType, string> = { ipip: "xxxx", gue: "+111", gre: "x11x" };

/**
 * ipvsadm 1.31's checks of a real server's tunnel options, with its messages: only with
 * `-i`, then the type's table. Remote checksum offload is then refused as fullnat's own.
 */
function checkTunnelOptions(c: Collected): void {
  const any = c.given.has("tun-type") || TUNNEL_OPTIONS.some((o) => c.given.has(o));
  if (any && c.method !== "tunnel") refuse("Tunnel options conflict with forward method");
  if (c.method !== "tunnel") return;
  const type = c.tunnelType ?? DEFAULT_TUNNEL_TYPE;
  const problem = checkRow(TUNNEL_OPTIONS, TUNNEL_RULES[type], c.given, {
    missing: (name) => `You need to supply the '${name}' option for the '${type}' tunnel type`,
    illegal: (name) => `Illegal '${name}' option with the '${type}' tunnel type`,
    conflict: (name, first) =>
      `The option '${name}' conflicts with the '${first}' option in the '${type}' tunnel type`,
  });
  if (problem !== undefined) refuse(problem);
  if (c.given.has("tun-remcsum")) {
    refuse(
      "remote checksum offload (--tun-remcsum) is not supported by fullnat: the queue hands " +
        "it packets whose checksums are complete; use --tun-csum or --tun-nocsum",
    );
  }
}

/** `--tun-type`, `--tun-port` and the checksum switch of a real-server command, those given. */
function tunnelOptions(c: Collected): TunnelOptions {
  return {
    ...(c.tunnelType !== undefined && { tunnelType: c.tunnelType }),
    ...(c.tunnelPort !== undefined && { tunnelPort: c.tunnelPort }),
    ...(c.given.has("tun-csum") && { tunnelChecksum: true }),
    ...(c.given.has("tun-nocsum") && { tunnelChecksum: false }),
  };
}

/** fullnat's own refusals, checked after everything ipvsadm checks. */
function checkFullnatLimits(c: Collected): void {
  if (c.method !== undefined && !isForwardMethod(c.method)) refuse(UNSUPPORTED_FORWARDING);
  // IPVS ignores -o on a TCP service; said rather than ignored here.
  if (c.ops && c.protocol === "tcp") {
    refuse("one-packet scheduling (-o) is for UDP services (-u) only");
  }
  if (c.synProxy && c.protocol !== undefined && c.protocol !== "tcp") {
    refuse("the SYN proxy (-j) is for TCP services (-t) only");
  }
  if (c.scheduler !== undefined && !isSchedulerName(c.scheduler)) {
    // A scheduler IPVS knows is named as not supported here rather than as not found.
    if (schedulerEntry(c.scheduler) !== undefined) {
      refuse(`scheduler '${c.scheduler}' not supported by fullnat: use ${SCHEDULER_OPTIONS}`);
    }
    // What ipvsadm prints when the kernel has no such scheduler.
    refuse("Scheduler or persistence engine not found", EXIT_REFUSED);
  }
}

/**
 * The flags of `-b` / `--sched-flags`, checked as ipvsadm's `parse_sched_flags` checks them
 * (every name known, and of the scheduler given, or of the default when `-A` has none), with
 * its messages. `-E` without `-s` leaves the fit to the daemon, which knows the service's
 * scheduler. ipvsadm's generic flag-1..flag-3 are refused by name: no scheduler here reads
 * them.
 */
function parseSchedFlags(text: string, scheduler: string | undefined): SchedulerFlag[] {
  const flags: SchedulerFlag[] = [];
  for (const flag of text.split(",")) {
    if (/^flag-[123]$/.test(flag)) {
      refuse(
        `scheduler flag '${flag}' not supported by fullnat: use ${orList(SCHEDULER_FLAGS)}`,
      );
    }
    const entry = SCHEDULER_FLAG_TABLE.find((f) => f.name === flag) ??
      refuse(`invalid scheduler flag \`${flag}'`);
    if (scheduler !== undefined && entry.scheduler !== scheduler) {
      refuse(`incompatible scheduler flag \`${flag}'`);
    }
    flags.push(entry.name);
  }
  return flags;
}

/**
 * `-M` as a prefix length: for an IPv4 service a dotted netmask (ipvsadm's parse_netmask), for
 * an IPv6 one the length itself (ipvsadm's `atoi`, 1..128; 0 is taken too, so what `-S` prints
 * of any configured length reads back). A netmask whose one bits are not contiguous, which
 * IPVS would take, is refused: the granularity is kept as a prefix length.
 */
function parseNetmask(text: string, service: ParsedEndpoint): number {
  if (isIpv6(service.address)) {
    const n = stringToNumber(text, 0, 128);
    return n ?? refuse("illegal ipv6 netmask specified");
  }
  const length = netmaskPrefixLength(text);
  if (length !== undefined) return length;
  if (parseAddress(text)?.family === 4) {
    refuse(
      `persistent mask ${text} is not contiguous: fullnat keeps the granularity as a prefix ` +
        "length; give a netmask such as 255.255.255.0",
    );
  }
  return refuse("illegal virtual server persistent mask specified");
}

/**
 * `-o`, `-V`, `-j`, `--source-rate` and `--source-sessions` of a service command, as options: `-V` sets the service's own ESTABLISHED
 * timeout and leaves its others (an edit changes only the key given).
 */
function serviceExtras(c: Collected): Partial<ServiceOptions> {
  return {
    ...(c.ops && { onePacket: true }),
    ...(c.estTimeout !== undefined && { timeouts: { tcpEstablished: c.estTimeout } }),
    ...(c.sourceRate !== undefined && { sourceRate: c.sourceRate }),
    ...(c.sourceSessions !== undefined && { sourceSessions: c.sourceSessions }),
    ...(c.synProxy !== undefined && { synProxy: c.synProxy }),
  };
}

/** `-x` and `-y` of a real-server command, those given. */
function thresholds(c: Collected): { upperThreshold?: number; lowerThreshold?: number } {
  return {
    ...(c.upperThreshold !== undefined && { upperThreshold: c.upperThreshold }),
    ...(c.lowerThreshold !== undefined && { lowerThreshold: c.lowerThreshold }),
  };
}

function build(command: CommandName, c: Collected, timeouts: Partial<Timeouts>): IpvsadmCommand {
  const scheduler = c.scheduler as SchedulerName | undefined;
  const schedulerFlags = c.schedFlags === undefined ? undefined : parseSchedFlags(
    c.schedFlags,
    command === "add-service" ? scheduler ?? DEFAULT_SCHEDULER : scheduler,
  );
  const persistenceMask = c.netmask === undefined
    ? undefined
    : parseNetmask(c.netmask, c.service as ParsedEndpoint);
  switch (command) {
    case "add-service":
      return {
        kind: "add-service",
        service: serviceKey(c),
        options: {
          scheduler: scheduler ?? DEFAULT_SCHEDULER,
          ...(schedulerFlags !== undefined && { schedulerFlags }),
          persistence: c.persistence ?? 0,
          ...(persistenceMask !== undefined && { persistenceMask }),
          ...serviceExtras(c),
        },
      };
    case "edit-service":
      // As the FULLNAT ipvsadm: only the settings given change; -E without -p keeps persistence.
      return {
        kind: "edit-service",
        service: serviceKey(c),
        options: {
          ...(scheduler !== undefined && { scheduler }),
          ...(schedulerFlags !== undefined && { schedulerFlags }),
          ...(c.persistence !== undefined && { persistence: c.persistence }),
          ...(persistenceMask !== undefined && { persistenceMask }),
          ...serviceExtras(c),
        },
      };
    case "delete-service":
      return { kind: "delete-service", service: serviceKey(c) };
    case "flush":
      return { kind: "clear" };
    case "start-daemon":
      return {
        kind: "start-daemon",
        spec: {
          role: c.syncRole as SyncRole,
          mcastInterface: c.mcastInterface as string,
          syncid: c.syncid ?? SYNC_DEFAULTS.syncid,
          maxlen: c.syncMaxlen ?? SYNC_DEFAULTS.maxlen,
          group: c.mcastGroup ?? SYNC_DEFAULTS.group,
          port: c.mcastPort ?? SYNC_DEFAULTS.port,
          ttl: c.mcastTtl ?? SYNC_DEFAULTS.ttl,
        },
      };
    case "stop-daemon":
      return { kind: "stop-daemon", role: c.syncRole as SyncRole };
    case "list":
      if (c.given.has("daemon")) return { kind: "list-daemon" };
      if (c.given.has("connection")) return { kind: "list-connections", format: c.format };
      if (c.given.has("timeout")) return { kind: "list-timeouts" };
      return { kind: "list-services", ...optionalService(c), format: c.format };
    case "add-server":
    case "edit-server":
    case "delete-server": {
      const service = serviceKey(c);
      const rs = c.server as ParsedEndpoint;
      const method = c.method as ForwardMethod | undefined;
      // ipvsadm copies the service port when -r names none, and for -g and -i always: the
      // packet keeps its destination port, so the server's is the service's.
      const port = method === "dr" || method === "tunnel" ? service.port : rs.port ?? service.port;
      const endpoint = { address: rs.address, port };
      if (command === "delete-server") return { kind: "delete-server", service, server: endpoint };
      checkTunnelOptions(c);
      if (command === "add-server") {
        return {
          kind: "add-server",
          service,
          server: {
            ...endpoint,
            weight: c.weight ?? DEFAULT_WEIGHT,
            method: method ?? DEFAULT_FORWARD_METHOD,
            ...tunnelOptions(c),
            ...thresholds(c),
          },
        };
      }
      return {
        kind: "edit-server",
        service,
        server: {
          ...endpoint,
          ...(c.weight !== undefined && { weight: c.weight }),
          ...(method !== undefined && { method }),
          ...tunnelOptions(c),
          ...thresholds(c),
        },
      };
    }
    case "set":
      return { kind: "set-timeouts", timeouts };
    case "zero":
      return { kind: "zero", ...optionalService(c) };
    case "add-laddr":
      return { kind: "add-laddr", service: serviceKey(c), address: c.laddr as string };
    case "del-laddr":
      return { kind: "delete-laddr", service: serviceKey(c), address: c.laddr as string };
    case "get-laddr":
      return { kind: "get-laddr", ...optionalService(c) };
    case "save":
      return { kind: "save", format: c.format };
    case "restore":
      return { kind: "restore" };
  }
}

/** Reads `--set tcp tcpfin udp`; ipvsadm's 0 means "leave this one unchanged". */
function parseSetValues(positionals: string[]): Partial<Timeouts> {
  if (positionals.length < 3) refuse("--set option requires 3 timeout values");
  const [tcp, tcpfin, udp] = positionals.splice(0, 3).map((v) => parseTimeout(v, 0));
  return {
    ...(tcp !== 0 && { tcpEstablished: tcp }),
    ...(tcpfin !== 0 && { tcpFinWait: tcpfin }),
    ...(udp !== 0 && { udp }),
  };
}

function parseOrThrow(argv: readonly string[], program: string): IpvsadmCommand {
  const format: ListFormat = {
    numeric: false,
    stats: false,
    rate: false,
    exact: false,
    nosort: false,
    persistentConn: false,
  };
  // ipvsadm with no arguments lists the table.
  if (argv.length === 0) return { kind: "list-services", format };

  const { tokens, positionals } = tokenize(argv);
  const first = tokens[0];
  if (first === undefined || first.type === "error") refuse(tryHelpText(program), EXIT_REFUSED);
  if (first.type === "option" && first.spec.role === "unsupported") unsupported(first.spec);
  const command = first.type === "option" && first.spec.role === "command"
    ? COMMANDS[first.spec.id]
    : refuse(tryHelpText(program), EXIT_REFUSED);
  if (command === "help") return { kind: "help" };
  if (command === "version") return { kind: "version" };

  const c: Collected = { given: new Set(), format };
  if (command === "start-daemon" || command === "stop-daemon") {
    // ipvsadm's words, its underscore included.
    const state = first.type === "option" ? first.value : undefined;
    if (state !== "master" && state !== "backup") {
      refuse(
        `illegal ${
          command === "start-daemon" ? "start-daemon" : "stop_daemon"
        } parameter specified`,
      );
    }
    c.syncRole = state as SyncRole;
  }
  for (const token of tokens.slice(1)) {
    if (token.type === "error") refuse(`${token.text}: ${token.error}`, EXIT_REFUSED);
    else if (token.spec.role === "command") refuse("multiple commands specified");
    else applyOption(c, token.spec, token.value);
  }

  const timeouts = command === "set" ? parseSetValues(positionals) : {};
  if (positionals.length > 0) refuse(`unexpected argument ${positionals[0]}`);

  const illegal = checkOptions(command, c.given);
  if (illegal !== undefined) refuse(illegal);

  if (
    (command === "add-service" || command === "edit-service") &&
    (c.service?.port ?? 0) === 0 && c.persistence === undefined
  ) {
    refuse("Zero port specified for non-persistent service");
  }
  if (
    command === "list" && (
      (c.given.has("connection") || c.given.has("timeout")) &&
        (c.given.has("stats") || c.given.has("rate") || c.given.has("thresholds")) ||
      c.given.has("timeout") && c.given.has("persistent-conn")
    )
  ) {
    refuse("options conflicts in the list command");
  }

  checkFullnatLimits(c);
  return build(command, c, timeouts);
}

/**
 * Parses an ipvsadm argv (without the program name). `program` is the name used in the
 * "Try `ipvsadm -h'" hint, as ipvsadm uses its argv[0].
 */
export function parseIpvsadm(argv: readonly string[], program = "ipvsadm"): ParseResult {
  try {
    return { ok: true, command: parseOrThrow(argv, program) };
  } catch (e) {
    if (e instanceof Refusal) {
      // The try-help text already ends in a newline; other messages get theirs when printed.
      return { ok: false, error: { message: e.message.replace(/\n$/, ""), exitCode: e.exitCode } };
    }
    throw e;
  }
}
