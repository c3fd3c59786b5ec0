/**
 * The configuration document: the whole running configuration (timeouts, services, their real
 * servers and local addresses) as one declarative value, and its text form (pretty-printed JSON
 * with a fixed key order, so exporting the same configuration twice gives identical bytes).
 *
 * {@linkcode validateConfig} checks a parsed value and reports every problem with its path
 * (`services[1].realServers[0].port: must be an integer from 1 to 65535 (got 0)`), not only the
 * first. Fields a person may leave out get their defaults; unknown fields are problems, so a typo
 * is never silently ignored. The order of services, real servers and local addresses is kept as
 * written (it is the round-robin order); reordering alone changes nothing.
 *
 * @example
 * ```ts
 * import { formatConfig, parseConfig } from "./document.ts";
 * const doc = parseConfig(`{"version": 1, "services": [{"protocol": "tcp",
 *   "address": "198.51.100.10", "port": 80, "scheduler": "rr",
 *   "realServers": [{"address": "203.0.113.11", "port": 80}],
 *   "localAddresses": ["203.0.113.201"]}]}`);
 * console.log(formatConfig(doc)); // every field spelled out, defaults included
 * ```
 *
 * @module
 */
import {
  DEFAULT_TUNNEL_TYPE,
  TUNNEL_TYPES,
  type TunnelOptions,
  tunnelOptionsProblem,
} from "../vocab/tunnel_type.ts";
import {
  ControlError,
  DEFAULT_QUORUM,
  DEFAULT_TCP_TWEAKS,
  DEFAULT_TIMEOUTS,
  DEFAULT_TUNABLES,
  isOffloadMode,
  MAX_CHECKS_PER_SERVER,
  MAX_SOURCE_PREFIXES,
  OFFLOAD_MODES,
  QUORUM_MAX,
  SOURCE_LIMIT_MAX,
  type SourceGuardKey,
  TIMEOUT_KEYS,
  TUNABLE_KEYS,
} from "../fullnat/types.ts";
import type {
  RealServerSpec,
  ServiceKey,
  ServiceOptions,
  ServiceView,
  SorryServerSpec,
  Timeouts,
  Tunables,
} from "../fullnat/types.ts";
import { type CheckSpec, checkSpecProblems, formatCheck } from "../health/spec.ts";
import {
  DEFAULT_FORWARD_METHOD,
  DEFAULT_MH_TABLE_SIZE,
  DEFAULT_SCHEDULER,
  DEFAULT_WEIGHT,
  ENGINE_MAX_SECONDS,
  formatEndpoint,
  FORWARD_METHODS,
  fullPersistenceMask,
  isIpv6,
  isMhTableSize,
  isPersistenceMask,
  isUnicast,
  MH_TABLE_SIZES,
  normalizeSchedulerFlags,
  parseAddress,
  parseSourcePrefix,
  PORT_MAX,
  PORT_MIN,
  PROTOCOLS,
  SCHEDULER_FLAGS,
  type SchedulerFlag,
  schedulerFlagProblem,
  SCHEDULERS,
  THRESHOLD_MAX,
  WEIGHT_MAX,
  WEIGHT_MIN,
} from "../vocab/mod.ts";
import { isJsonObject, type JsonObject, showValue } from "../vocab/json_value.ts";
import type { SyncDaemonSpec } from "../sync/sync_config.ts";
import { checkSyncSection, orderedSync, sortSync, syncText } from "./sync_section.ts";
import type { NetworkConfig } from "../provision/types.ts";
import { checkNetworkSection, emptyNetwork, networkText } from "./network_section.ts";

/** The document version this code reads and writes. */
export const CONFIG_VERSION = 1;

/** Largest timeout or persistence the engine accepts, in seconds. */
export const MAX_SECONDS = ENGINE_MAX_SECONDS;

/**
 * One virtual service with everything configured on it. In the text form `schedulerFlags` is
 * left out when there are none, `mhTableSize` unless the scheduler is mh (it means nothing
 * to the others), `persistenceMask` when it is the whole address (32 or 128), `timeouts` when
 * the service has none of its own, `onePacket` and `synProxy` when off, `quorum` at 1, `hysteresis` at 0 and
 * `sorryServer` when there is none, `allow` and `deny` when empty and `sourceRate` and
 * `sourceSessions` at 0, so documents of services without them read as before they existed.
 * A validated document has all four; other code may leave them out (none).
 */
export interface ServiceConfig
  extends
    ServiceKey,
    Required<Omit<ServiceOptions, "sorryServer" | "quorum" | "hysteresis" | SourceGuardKey>>,
    Pick<ServiceOptions, "quorum" | "hysteresis" | SourceGuardKey> {
  /** Absent when the service has none. */
  sorryServer?: SorryServerSpec;
  /**
   * Real servers. A validated document gives every one its `checks` (left out of the text
   * when none) and `inhibitOnFailure` (left out when false); other code may leave them out.
   * `upperThreshold` / `lowerThreshold` of 0 (none), `tunnelType` ipip and `tunnelChecksum`
   * false are left out of the text, and the tunnel options of other methods are refused.
   */
  realServers: RealServerSpec[];
  /** Local addresses (FULLNAT source addresses), in round-robin order. */
  localAddresses: string[];
}

/**
 * The whole running configuration. In the text form `tunables` is left out while every one
 * is at its default.
 */
export interface ConfigDocument {
  version: typeof CONFIG_VERSION;
  timeouts: Timeouts;
  /** IPVS's sysctls (`tunables.ts`); left out of the text while all are off. */
  tunables: Tunables;
  /**
   * The sync daemons (`sync_section.ts`), master first; left out of the text when none runs.
   * A validated document always has it; other code may leave it out (none).
   */
  sync?: SyncDaemonSpec[];
  /**
   * The box's own network (`network_section.ts`): interfaces, addresses, routes, DNS, NTP,
   * explicit VIPs and local addresses; left out of the text when nothing is configured. A
   * validated document always has it; other code may leave it out (none).
   */
  network?: NetworkConfig;
  services: ServiceConfig[];
}

/** Outcome of {@linkcode validateConfig}: the complete document, or every problem found. */
export type ConfigCheck =
  | { ok: true; document: ConfigDocument }
  | { ok: false; problems: string[] };

/**
 * A document that failed validation. A {@linkcode ControlError} (`invalid-argument`) whose
 * message lists every problem, one per line; `problems` holds them separately.
 */
export class ConfigInvalidError extends ControlError {
  constructor(readonly problems: string[], what = "Configuration") {
    super(
      "invalid-argument",
      `${what} is invalid (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  ${p}`).join("\n"),
    );
    this.name = "ConfigInvalidError";
  }
}

/** An empty configuration: default timeouts, no services. */
export function emptyConfig(): ConfigDocument {
  return {
    version: CONFIG_VERSION,
    timeouts: { ...DEFAULT_TIMEOUTS },
    tunables: { ...DEFAULT_TUNABLES },
    sync: [],
    network: emptyNetwork(),
    services: [],
  };
}

const TOP_KEYS = ["version", "timeouts", "tunables", "sync", "network", "services"];
const SERVICE_KEYS = [
  "protocol",
  "address",
  "port",
  "scheduler",
  "schedulerFlags",
  "mhTableSize",
  "persistence",
  "persistenceMask",
  "toa",
  "stripTimestamps",
  "clampMss",
  "onePacket",
  "synProxy",
  "timeouts",
  "quorum",
  "hysteresis",
  "sorryServer",
  "allow",
  "deny",
  "sourceRate",
  "sourceSessions",
  "realServers",
  "localAddresses",
];
const RS_KEYS = [
  "address",
  "port",
  "weight",
  "method",
  "tunnelType",
  "tunnelPort",
  "tunnelChecksum",
  "upperThreshold",
  "lowerThreshold",
  "inhibitOnFailure",
  "checks",
];
const SORRY_KEYS = ["address", "port", "method"];

type Obj = JsonObject;
const isObject = isJsonObject;
const show = showValue;

/** Collects problems while the checker walks the value, each prefixed with its path. */
export class Checker {
  readonly problems: string[] = [];
  constructor(readonly root: string) {}

  at(path: string): string {
    if (this.root === "") return path;
    return path === "" ? this.root : `${this.root}${path.startsWith("[") ? "" : "."}${path}`;
  }

  problem(path: string, message: string): void {
    this.problems.push(`${this.at(path) || "(document)"}: ${message}`);
  }

  unknownKeys(o: Obj, allowed: readonly string[], path: string): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) {
        const where = path === "" ? k : `${path}.${k}`;
        this.problem(where, `unknown field (allowed: ${allowed.join(", ")})`);
      }
    }
  }

  integer(v: unknown, path: string, min: number, max: number): number | undefined {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      this.problem(path, `must be an integer from ${min} to ${max} (got ${show(v)})`);
      return undefined;
    }
    return v;
  }

  flag(v: unknown, path: string): boolean | undefined {
    if (typeof v !== "boolean") {
      this.problem(path, `must be true or false (got ${show(v)})`);
      return undefined;
    }
    return v;
  }

  oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T | undefined {
    if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
      this.problem(path, `must be one of ${allowed.join(", ")} (got ${show(v)})`);
      return undefined;
    }
    return v as T;
  }

  /**
   * A unicast IPv4 address in dotted-quad form, or a unicast IPv6 address, as the engine
   * serves them. IPv6 comes back in its canonical (RFC 5952) text, the form the running
   * configuration exports, so equal addresses compare equal.
   */
  address(v: unknown, path: string): string | undefined {
    if (typeof v !== "string") {
      this.problem(path, `must be an IPv4 or IPv6 address as a string (got ${show(v)})`);
      return undefined;
    }
    const parsed = parseAddress(v);
    if (parsed === undefined) {
      const like = isIpv6(v)
        ? "an IPv6 address like 2001:db8::1"
        : "an IPv4 address like 192.0.2.1";
      this.problem(path, `must be ${like} (got ${show(v)})`);
      return undefined;
    }
    if (!isUnicast(parsed)) {
      this.problem(path, `${v} is not a unicast address`);
      return undefined;
    }
    return parsed.address;
  }

  list(v: unknown, path: string): unknown[] | undefined {
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      this.problem(path, `must be a list (got ${show(v)})`);
      return undefined;
    }
    return v;
  }
}

function checkTimeouts(c: Checker, v: unknown): Timeouts | undefined {
  if (v === undefined) return { ...DEFAULT_TIMEOUTS };
  if (!isObject(v)) {
    c.problem("timeouts", `must be an object of seconds per state (got ${show(v)})`);
    return undefined;
  }
  c.unknownKeys(v, TIMEOUT_KEYS, "timeouts");
  const out = { ...DEFAULT_TIMEOUTS };
  let ok = true;
  for (const k of TIMEOUT_KEYS) {
    if (v[k] === undefined) continue;
    const n = c.integer(v[k], `timeouts.${k}`, 1, MAX_SECONDS);
    if (n === undefined) ok = false;
    else out[k] = n;
  }
  return ok ? out : undefined;
}

/** The top-level switches (all off if left out). */
function checkTunables(c: Checker, v: unknown): Tunables | undefined {
  if (v === undefined) return { ...DEFAULT_TUNABLES };
  if (!isObject(v)) {
    c.problem("tunables", `must be an object of switches (got ${show(v)})`);
    return undefined;
  }
  c.unknownKeys(v, [...TUNABLE_KEYS, "offload"], "tunables");
  const out: Tunables = { ...DEFAULT_TUNABLES };
  let ok = true;
  for (const k of TUNABLE_KEYS) {
    if (v[k] === undefined) continue;
    const f = c.flag(v[k], `tunables.${k}`);
    if (f === undefined) ok = false;
    else out[k] = f;
  }
  // The fast path's mode: kept only when on, as the text leaves `off` out.
  if (v.offload !== undefined) {
    if (!isOffloadMode(v.offload)) {
      c.problem(
        "tunables.offload",
        `must be ${OFFLOAD_MODES.join(" or ")} (got ${show(v.offload)})`,
      );
      ok = false;
    } else if (v.offload !== "off") out.offload = v.offload;
  }
  return ok ? out : undefined;
}

/** The persistence granularity (the whole address if left out), a prefix length of the family. */
function checkPersistenceMask(c: Checker, v: unknown, v6: boolean, path: string) {
  if (v === undefined) return fullPersistenceMask(v6);
  if (!isPersistenceMask(v, v6)) {
    c.problem(
      `${path}.persistenceMask`,
      `must be a prefix length from 0 to ${fullPersistenceMask(v6)} for an ${
        v6 ? "IPv6" : "IPv4"
      } service (got ${show(v)})`,
    );
    return undefined;
  }
  return v;
}

/** A service's own timeouts: known keys of its protocol, whole seconds (none if left out). */
function checkServiceTimeouts(
  c: Checker,
  v: unknown,
  protocol: string | undefined,
  path: string,
): Partial<Timeouts> | undefined {
  if (v === undefined) return {};
  const p = `${path}.timeouts`;
  if (!isObject(v)) {
    c.problem(p, `must be an object of seconds per state (got ${show(v)})`);
    return undefined;
  }
  c.unknownKeys(v, TIMEOUT_KEYS, p);
  const out: Partial<Timeouts> = {};
  let ok = true;
  for (const k of TIMEOUT_KEYS) {
    if (v[k] === undefined) continue;
    const n = c.integer(v[k], `${p}.${k}`, 1, MAX_SECONDS);
    if (n === undefined) ok = false;
    else if (protocol !== undefined && (k === "udp") !== (protocol === "udp")) {
      c.problem(
        `${p}.${k}`,
        `applies to ${k === "udp" ? "UDP" : "TCP"} services only (this one is ${protocol})`,
      );
      ok = false;
    } else out[k] = n;
  }
  return ok ? out : undefined;
}

/** The health checks of a real server at `address` (none if left out). */
function checkChecks(
  c: Checker,
  v: unknown,
  address: string | undefined,
  path: string,
): CheckSpec[] | undefined {
  const list = c.list(v, `${path}.checks`);
  if (list === undefined) return undefined;
  if (list.length > MAX_CHECKS_PER_SERVER) {
    c.problem(
      `${path}.checks`,
      `a real server takes at most ${MAX_CHECKS_PER_SERVER} checks (got ${list.length})`,
    );
    return undefined;
  }
  const out: CheckSpec[] = [];
  let ok = true;
  list.forEach((item, i) => {
    const r = checkSpecProblems(
      item,
      c.at(`${path}.checks[${i}]`),
      address === undefined ? {} : { rsAddress: address },
    );
    if (r.spec === undefined) {
      c.problems.push(...r.problems);
      ok = false;
    } else out.push(r.spec);
  });
  return ok ? out : undefined;
}

function checkRealServer(c: Checker, v: unknown, path: string): RealServerSpec | undefined {
  if (!isObject(v)) {
    c.problem(path, `must be an object with address and port (got ${show(v)})`);
    return undefined;
  }
  c.unknownKeys(v, RS_KEYS, path);
  const address = c.address(v.address, `${path}.address`);
  const port = c.integer(v.port, `${path}.port`, PORT_MIN, PORT_MAX);
  const weight = v.weight === undefined
    ? DEFAULT_WEIGHT
    : c.integer(v.weight, `${path}.weight`, WEIGHT_MIN, WEIGHT_MAX);
  const method = v.method === undefined
    ? DEFAULT_FORWARD_METHOD
    : c.oneOf(v.method, `${path}.method`, FORWARD_METHODS);
  const threshold = (k: "upperThreshold" | "lowerThreshold") =>
    v[k] === undefined ? 0 : c.integer(v[k], `${path}.${k}`, 0, THRESHOLD_MAX);
  const upperThreshold = threshold("upperThreshold");
  const lowerThreshold = threshold("lowerThreshold");
  const inhibitOnFailure = v.inhibitOnFailure === undefined
    ? false
    : c.flag(v.inhibitOnFailure, `${path}.inhibitOnFailure`);
  const checks = checkChecks(c, v.checks, address, path);
  const tunnel = checkTunnel(c, v, method, path);
  if (address === undefined || port === undefined || weight === undefined) return undefined;
  if (tunnel === undefined) return undefined;
  if (method === undefined || upperThreshold === undefined || lowerThreshold === undefined) {
    return undefined;
  }
  if (inhibitOnFailure === undefined || checks === undefined) return undefined;
  if (lowerThreshold > upperThreshold) {
    c.problem(
      `${path}.lowerThreshold`,
      `must not be higher than upperThreshold (${lowerThreshold} > ${upperThreshold})`,
    );
    return undefined;
  }
  return {
    address,
    port,
    weight,
    method,
    ...tunnel,
    upperThreshold,
    lowerThreshold,
    inhibitOnFailure,
    checks,
  };
}

/**
 * A real server's tunnel options (only those given), checked against its method as ipvsadm
 * does (`tunnel_type.ts`); undefined after a problem.
 */
function checkTunnel(
  c: Checker,
  v: Obj,
  method: string | undefined,
  path: string,
): TunnelOptions | undefined {
  const out: TunnelOptions = {};
  let ok = true;
  if (v.tunnelType !== undefined) {
    const t = c.oneOf(v.tunnelType, `${path}.tunnelType`, TUNNEL_TYPES);
    if (t === undefined) ok = false;
    else out.tunnelType = t;
  }
  if (v.tunnelPort !== undefined) {
    const p = c.integer(v.tunnelPort, `${path}.tunnelPort`, 1, PORT_MAX);
    if (p === undefined) ok = false;
    else out.tunnelPort = p;
  }
  if (v.tunnelChecksum !== undefined) {
    const f = c.flag(v.tunnelChecksum, `${path}.tunnelChecksum`);
    if (f === undefined) ok = false;
    else out.tunnelChecksum = f;
  }
  if (!ok || method === undefined) return undefined;
  const problem = tunnelOptionsProblem(method, out);
  if (problem !== undefined) {
    c.problem(path, problem);
    return undefined;
  }
  return out;
}

/** keepalived's quorum (default 1) or hysteresis (default 0) of a service. */
function checkQuorum(
  c: Checker,
  v: unknown,
  path: string,
  field: "quorum" | "hysteresis",
): number | undefined {
  if (v === undefined) return field === "quorum" ? DEFAULT_QUORUM : 0;
  return c.integer(v, `${path}.${field}`, field === "quorum" ? 1 : 0, QUORUM_MAX);
}

/** An allow or deny list of a service (empty if left out): prefixes of the service's family. */
function checkSourcePrefixes(
  c: Checker,
  v: unknown,
  serviceAddress: string | undefined,
  path: string,
  field: "allow" | "deny",
): string[] | undefined {
  if (v === undefined) return [];
  const list = c.list(v, `${path}.${field}`);
  if (list === undefined) return undefined;
  if (list.length > MAX_SOURCE_PREFIXES) {
    c.problem(`${path}.${field}`, `holds ${list.length} prefixes: at most ${MAX_SOURCE_PREFIXES}`);
    return undefined;
  }
  const family = serviceAddress !== undefined && isIpv6(serviceAddress) ? 6 : 4;
  const out: string[] = [];
  const seen = new Map<string, number>();
  let ok = true;
  list.forEach((item, i) => {
    const at = `${path}.${field}[${i}]`;
    const r = parseSourcePrefix(item, family);
    if (!r.ok) {
      c.problem(at, r.message);
      return void (ok = false);
    }
    const first = seen.get(r.prefix.text);
    if (first !== undefined) {
      c.problem(at, `${r.prefix.text} is already listed at ${field}[${first}]`);
      return void (ok = false);
    }
    seen.set(r.prefix.text, i);
    out.push(r.prefix.text);
  });
  return ok ? out : undefined;
}

/** A per-source limit of a service (0, none, if left out). */
function checkSourceLimit(
  c: Checker,
  v: unknown,
  path: string,
  field: "sourceRate" | "sourceSessions",
): number | undefined {
  if (v === undefined) return 0;
  return c.integer(v, `${path}.${field}`, 0, SOURCE_LIMIT_MAX);
}

/** A service's sorry server (null when left out): of the service's family. */
function checkSorryServer(
  c: Checker,
  v: unknown,
  serviceAddress: string | undefined,
  path: string,
): SorryServerSpec | null | undefined {
  if (v === undefined) return null;
  const at = `${path}.sorryServer`;
  if (!isObject(v)) {
    c.problem(at, `must be an object with address, port and method (got ${show(v)})`);
    return undefined;
  }
  c.unknownKeys(v, SORRY_KEYS, at);
  const address = c.address(v.address, `${at}.address`);
  const port = c.integer(v.port, `${at}.port`, PORT_MIN, PORT_MAX);
  const method = v.method === undefined
    ? DEFAULT_FORWARD_METHOD
    : c.oneOf(v.method, `${at}.method`, FORWARD_METHODS);
  if (address === undefined || port === undefined || method === undefined) return undefined;
  if (serviceAddress !== undefined && isIpv6(serviceAddress) !== isIpv6(address)) {
    c.problem(
      `${at}.address`,
      `${address} is IPv${isIpv6(address) ? 6 : 4} but the service is IPv${
        isIpv6(serviceAddress) ? 6 : 4
      }`,
    );
    return undefined;
  }
  return { address, port, method };
}

/** The flags of a service (none if left out), each known and belonging to its scheduler. */
function checkSchedulerFlags(
  c: Checker,
  v: unknown,
  scheduler: string | undefined,
  path: string,
): SchedulerFlag[] | undefined {
  const list = c.list(v, `${path}.schedulerFlags`);
  if (list === undefined) return undefined;
  let ok = true;
  list.forEach((f, i) => {
    if (c.oneOf(f, `${path}.schedulerFlags[${i}]`, SCHEDULER_FLAGS) === undefined) ok = false;
  });
  if (!ok) return undefined;
  if (scheduler === undefined) return [];
  const problem = schedulerFlagProblem(scheduler, list);
  if (problem !== undefined) {
    c.problem(`${path}.schedulerFlags`, problem);
    return undefined;
  }
  return normalizeSchedulerFlags(list as SchedulerFlag[]);
}

/** The mh table size (IPVS's default if left out); only an mh service may give one. */
function checkMhTableSize(
  c: Checker,
  v: unknown,
  scheduler: string | undefined,
  path: string,
): number | undefined {
  if (v === undefined) return DEFAULT_MH_TABLE_SIZE;
  if (!isMhTableSize(v)) {
    c.problem(
      `${path}.mhTableSize`,
      `must be one of ${MH_TABLE_SIZES.join(", ")} (got ${show(v)})`,
    );
    return undefined;
  }
  if (scheduler !== undefined && scheduler !== "mh") {
    c.problem(
      `${path}.mhTableSize`,
      `applies to the mh scheduler only (the scheduler is ${scheduler})`,
    );
    return undefined;
  }
  return v;
}

function checkService(c: Checker, v: unknown, path: string): ServiceConfig | undefined {
  if (!isObject(v)) {
    c.problem(path, `must be an object with protocol, address and port (got ${show(v)})`);
    return undefined;
  }
  c.unknownKeys(v, SERVICE_KEYS, path);
  const protocol = c.oneOf(v.protocol, `${path}.protocol`, PROTOCOLS);
  const address = c.address(v.address, `${path}.address`);
  const port = c.integer(v.port, `${path}.port`, PORT_MIN, PORT_MAX);
  const scheduler = v.scheduler === undefined
    ? DEFAULT_SCHEDULER
    : c.oneOf(v.scheduler, `${path}.scheduler`, SCHEDULERS);
  const schedulerFlags = checkSchedulerFlags(c, v.schedulerFlags, scheduler, path);
  const mhTableSize = checkMhTableSize(c, v.mhTableSize, scheduler, path);
  const persistence = v.persistence === undefined
    ? 0
    : c.integer(v.persistence, `${path}.persistence`, 0, MAX_SECONDS);
  const persistenceMask = checkPersistenceMask(
    c,
    v.persistenceMask,
    typeof v.address === "string" && isIpv6(v.address),
    path,
  );
  const tweak = (k: keyof typeof DEFAULT_TCP_TWEAKS) =>
    v[k] === undefined ? DEFAULT_TCP_TWEAKS[k] : c.flag(v[k], `${path}.${k}`);
  const toa = tweak("toa");
  const stripTimestamps = tweak("stripTimestamps");
  const clampMss = tweak("clampMss");
  const timeouts = checkServiceTimeouts(c, v.timeouts, protocol, path);
  let onePacket = v.onePacket === undefined ? false : c.flag(v.onePacket, `${path}.onePacket`);
  if (onePacket === true && protocol === "tcp") {
    c.problem(`${path}.onePacket`, "one-packet scheduling is for UDP services only");
    onePacket = undefined;
  }
  let synProxy = v.synProxy === undefined ? false : c.flag(v.synProxy, `${path}.synProxy`);
  if (synProxy === true && protocol !== "tcp") {
    c.problem(`${path}.synProxy`, "the SYN proxy is for TCP services only");
    synProxy = undefined;
  }
  const quorum = checkQuorum(c, v.quorum, path, "quorum");
  const hysteresis = checkQuorum(c, v.hysteresis, path, "hysteresis");
  const sorryServer = checkSorryServer(c, v.sorryServer, address, path);
  const allow = checkSourcePrefixes(c, v.allow, address, path, "allow");
  const deny = checkSourcePrefixes(c, v.deny, address, path, "deny");
  const sourceRate = checkSourceLimit(c, v.sourceRate, path, "sourceRate");
  const sourceSessions = checkSourceLimit(c, v.sourceSessions, path, "sourceSessions");

  let ok = true;
  const realServers: RealServerSpec[] = [];
  const rsList = c.list(v.realServers, `${path}.realServers`);
  const seenRs = new Map<string, number>();
  (rsList ?? []).forEach((item, i) => {
    const p = `${path}.realServers[${i}]`;
    const rs = checkRealServer(c, item, p);
    if (rs === undefined) return void (ok = false);
    const key = formatEndpoint(rs.address, rs.port);
    const first = seenRs.get(key);
    if (first !== undefined) {
      c.problem(p, `real server ${key} is already listed at realServers[${first}]`);
      ok = false;
    } else seenRs.set(key, i);
    realServers.push(rs);
  });
  if (sorryServer) {
    const key = formatEndpoint(sorryServer.address, sorryServer.port);
    const at = seenRs.get(key);
    if (at !== undefined) {
      c.problem(
        `${path}.sorryServer`,
        `${key} is also realServers[${at}]: the sorry server must be another server`,
      );
      ok = false;
    }
  }

  const localAddresses: string[] = [];
  const laList = c.list(v.localAddresses, `${path}.localAddresses`);
  const seenLa = new Map<string, number>();
  (laList ?? []).forEach((item, i) => {
    const p = `${path}.localAddresses[${i}]`;
    const la = c.address(item, p);
    if (la === undefined) return void (ok = false);
    const first = seenLa.get(la);
    if (first !== undefined) {
      c.problem(p, `local address ${la} is already listed at localAddresses[${first}]`);
      ok = false;
    } else seenLa.set(la, i);
    localAddresses.push(la);
  });

  if (
    !ok || rsList === undefined || laList === undefined || protocol === undefined ||
    address === undefined || port === undefined || scheduler === undefined ||
    schedulerFlags === undefined || mhTableSize === undefined ||
    persistence === undefined || persistenceMask === undefined || toa === undefined ||
    stripTimestamps === undefined || clampMss === undefined || timeouts === undefined ||
    onePacket === undefined || synProxy === undefined || quorum === undefined ||
    hysteresis === undefined ||
    sorryServer === undefined || allow === undefined || deny === undefined ||
    sourceRate === undefined || sourceSessions === undefined
  ) return undefined;
  return {
    protocol,
    address,
    port,
    scheduler,
    schedulerFlags,
    mhTableSize,
    persistence,
    persistenceMask,
    toa,
    stripTimestamps,
    clampMss,
    onePacket,
    synProxy,
    timeouts,
    quorum,
    hysteresis,
    ...(sorryServer !== null && { sorryServer }),
    allow,
    deny,
    sourceRate,
    sourceSessions,
    realServers,
    localAddresses,
  };
}

/** Options of {@linkcode validateConfig}. */
export interface ValidateOptions {
  /**
   * Path of the document inside a larger file, prefixed to every problem (a provisioning file
   * that holds the document under `config` passes `"config"`).
   */
  at?: string;
}

/**
 * Checks a parsed value against the document schema and fills in defaults. Reports every
 * problem, each with its path; never throws.
 */
export function validateConfig(value: unknown, options: ValidateOptions = {}): ConfigCheck {
  const c = new Checker(options.at ?? "");
  if (!isObject(value)) {
    c.problem("", `must be an object with version, timeouts and services (got ${show(value)})`);
    return { ok: false, problems: c.problems };
  }
  c.unknownKeys(value, TOP_KEYS, "");
  if (value.version !== CONFIG_VERSION) {
    c.problem(
      "version",
      `must be ${CONFIG_VERSION}, the document version this fullnat reads (got ${
        show(value.version)
      })`,
    );
  }
  const timeouts = checkTimeouts(c, value.timeouts);
  const tunables = checkTunables(c, value.tunables);
  const sync = checkSyncSection(c, value.sync);
  const network = checkNetworkSection(c, value.network);
  const services: ServiceConfig[] = [];
  const list = c.list(value.services, "services");
  const seen = new Map<string, number>();
  (list ?? []).forEach((item, i) => {
    const svc = checkService(c, item, `services[${i}]`);
    if (svc === undefined) return;
    const key = serviceName(svc);
    const first = seen.get(key);
    if (first !== undefined) {
      c.problem(`services[${i}]`, `service ${key} is already listed at services[${first}]`);
    } else seen.set(key, i);
    services.push(svc);
  });
  if (
    c.problems.length > 0 || timeouts === undefined || tunables === undefined ||
    sync === undefined || network === undefined
  ) {
    return { ok: false, problems: c.problems };
  }
  return {
    ok: true,
    document: { version: CONFIG_VERSION, timeouts, tunables, sync, network, services },
  };
}

/**
 * Parses document text (JSON) and validates it.
 * @throws {ConfigInvalidError} listing every problem (a JSON syntax error is one problem).
 */
export function parseConfig(text: string, options: ValidateOptions = {}): ConfigDocument {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw new ConfigInvalidError([`${options.at || "(document)"}: not valid JSON: ${detail}`]);
  }
  const checked = validateConfig(value, options);
  if (!checked.ok) throw new ConfigInvalidError(checked.problems);
  return checked.document;
}

/** Copies a service into the fixed key order of the text form. */
function orderedService(s: ServiceConfig): ServiceConfig {
  return {
    protocol: s.protocol,
    address: s.address,
    port: s.port,
    scheduler: s.scheduler,
    schedulerFlags: [...s.schedulerFlags],
    mhTableSize: s.mhTableSize,
    persistence: s.persistence,
    persistenceMask: s.persistenceMask,
    toa: s.toa,
    stripTimestamps: s.stripTimestamps,
    clampMss: s.clampMss,
    onePacket: s.onePacket,
    synProxy: s.synProxy,
    timeouts: orderedTimeouts(s.timeouts),
    quorum: s.quorum ?? DEFAULT_QUORUM,
    hysteresis: s.hysteresis ?? 0,
    ...(s.sorryServer !== undefined && {
      sorryServer: {
        address: s.sorryServer.address,
        port: s.sorryServer.port,
        method: s.sorryServer.method,
      },
    }),
    allow: [...(s.allow ?? [])],
    deny: [...(s.deny ?? [])],
    sourceRate: s.sourceRate ?? 0,
    sourceSessions: s.sourceSessions ?? 0,
    realServers: s.realServers.map((r) => ({
      address: r.address,
      port: r.port,
      weight: r.weight,
      method: r.method,
      ...(r.tunnelType !== undefined && { tunnelType: r.tunnelType }),
      ...(r.tunnelPort !== undefined && { tunnelPort: r.tunnelPort }),
      ...(r.tunnelChecksum !== undefined && { tunnelChecksum: r.tunnelChecksum }),
      upperThreshold: r.upperThreshold ?? 0,
      lowerThreshold: r.lowerThreshold ?? 0,
      inhibitOnFailure: r.inhibitOnFailure ?? false,
      checks: (r.checks ?? []).map((k) => structuredClone(k)),
    })),
    localAddresses: [...s.localAddresses],
  };
}

/** A service's own timeouts in the fixed key order. */
function orderedTimeouts(t: Partial<Timeouts>): Partial<Timeouts> {
  const out: Partial<Timeouts> = {};
  for (const k of TIMEOUT_KEYS) if (t[k] !== undefined) out[k] = t[k];
  return out;
}

/**
 * Leaves out the fields the text form omits (see {@linkcode ServiceConfig} and
 * {@linkcode ConfigDocument}; thresholds of 0, tunables at their defaults); checks are written
 * without their defaults.
 */
function textField(this: unknown, key: string, value: unknown): unknown {
  if (key === "schedulerFlags" && Array.isArray(value) && value.length === 0) return undefined;
  if (key === "mhTableSize" && (this as ServiceConfig).scheduler !== "mh") return undefined;
  if (
    key === "persistenceMask" &&
    value === fullPersistenceMask(isIpv6((this as ServiceConfig).address))
  ) return undefined;
  if ((key === "onePacket" || key === "synProxy") && value === false) return undefined;
  if ((key === "upperThreshold" || key === "lowerThreshold") && value === 0) return undefined;
  // A service's timeouts (the document's own are always written).
  if (key === "timeouts" && "protocol" in (this as object) && isEmpty(value)) return undefined;
  if (key === "quorum" && value === DEFAULT_QUORUM) return undefined;
  if (key === "hysteresis" && value === 0) return undefined;
  if ((key === "allow" || key === "deny") && Array.isArray(value) && value.length === 0) {
    return undefined;
  }
  if ((key === "sourceRate" || key === "sourceSessions") && value === 0) return undefined;
  if (key === "inhibitOnFailure" && value === false) return undefined;
  if (key === "tunnelType" && value === DEFAULT_TUNNEL_TYPE) return undefined;
  if (key === "tunnelChecksum" && value === false) return undefined;
  if (key === "checks" && Array.isArray(value)) {
    return value.length === 0 ? undefined : (value as CheckSpec[]).map(formatCheck);
  }
  if (
    key === "tunables" &&
    TUNABLE_KEYS.every((k) => (value as Tunables)[k] === DEFAULT_TUNABLES[k]) &&
    (value as Tunables).offload === undefined
  ) {
    return undefined;
  }
  return value;
}

/** `t` without an `offload` of `off`, which the document says by leaving it out. */
function withoutOffloadOff(t: Tunables): Tunables {
  if (t.offload === "off") delete t.offload;
  return t;
}

const isEmpty = (v: unknown) => isObject(v) && Object.keys(v).length === 0;

/** The text form: pretty-printed JSON, keys in a fixed order, ending with a newline. */
export function formatConfig(doc: ConfigDocument): string {
  const timeouts = {} as Timeouts;
  for (const k of TIMEOUT_KEYS) timeouts[k] = doc.timeouts[k];
  const tunables = {} as Tunables;
  for (const k of TUNABLE_KEYS) tunables[k] = doc.tunables?.[k] ?? DEFAULT_TUNABLES[k];
  if (doc.tunables?.offload !== undefined && doc.tunables.offload !== "off") {
    tunables.offload = doc.tunables.offload;
  }
  const sync = sortSync(doc.sync ?? []).map((d) => syncText(orderedSync(d)));
  const network = networkText(doc.network);
  const ordered = {
    version: doc.version,
    timeouts,
    tunables,
    ...(sync.length > 0 && { sync }),
    ...(network !== undefined && { network }),
    services: doc.services.map(orderedService),
  };
  return JSON.stringify(ordered, textField, 2) + "\n";
}

/**
 * The document describing what a running target lists (counters and sessions left out);
 * tunables default when the target has none to tell.
 */
export function configFromViews(
  services: ServiceView[],
  timeouts: Timeouts,
  tunables: Tunables = DEFAULT_TUNABLES,
  sync: readonly SyncDaemonSpec[] = [],
  network: NetworkConfig = emptyNetwork(),
): ConfigDocument {
  return {
    version: CONFIG_VERSION,
    timeouts: { ...timeouts },
    tunables: withoutOffloadOff({ ...DEFAULT_TUNABLES, ...tunables }),
    sync: sortSync(sync).map(orderedSync),
    network: structuredClone(network),
    services: services.map((s) =>
      orderedService({
        ...s,
        // A daemon from before scheduler flags lists neither; nor these, before them.
        schedulerFlags: s.schedulerFlags ?? [],
        mhTableSize: s.mhTableSize ?? DEFAULT_MH_TABLE_SIZE,
        persistenceMask: s.persistenceMask ?? fullPersistenceMask(isIpv6(s.address)),
        timeouts: s.timeouts ?? {},
        onePacket: s.onePacket ?? false,
        synProxy: s.synProxy ?? false,
        // A daemon from before health checks lists none of these.
        quorum: s.quorum ?? DEFAULT_QUORUM,
        hysteresis: s.hysteresis ?? 0,
        sorryServer: s.sorryServer,
        // A daemon from before source guards lists none.
        allow: s.allow ?? [],
        deny: s.deny ?? [],
        sourceRate: s.sourceRate ?? 0,
        sourceSessions: s.sourceSessions ?? 0,
        realServers: s.realServers.map((r) => ({
          ...r,
          checks: r.checks ?? [],
          inhibitOnFailure: r.inhibitOnFailure ?? false,
        })),
        localAddresses: s.localAddresses.map((l) => l.address),
      })
    ),
  };
}

/** How a service is named in messages and change lists: `tcp 198.51.100.10:80`. */
export function serviceName(key: ServiceKey): string {
  return `${key.protocol} ${formatEndpoint(key.address, key.port)}`;
}
