/**
 * The control operations on a running engine ({@linkcode ControlTarget}): every call validates
 * all of its input first and throws {@linkcode ControlError} before changing anything.
 *
 * @module
 */
import type { Engine } from "./engine.ts";
import { methodOfCode } from "./xmit_modes.ts";
import { type FullnatSettings, unusedSettingsProblem } from "./mode_settings.ts";
import {
  DEFAULT_TUNNEL_TYPE,
  isTunnelType,
  TUNNEL_TYPE_CHOICES,
  TUNNEL_TYPES,
  type TunnelOptions,
  tunnelOptionsProblem,
  tunnelTypeCode,
} from "../vocab/tunnel_type.ts";
import type { Service } from "./service.ts";
import { TCP_STATE_NAMES } from "./tcp_state.ts";
import {
  type ConnectionView,
  ControlError,
  type ControlTarget,
  DEFAULT_TCP_TWEAKS,
  DEFAULT_TIMEOUTS,
  type DiversionSpec,
  type Endpoint,
  isOffloadMode,
  OFFLOAD_MODES,
  type RealServerSpec,
  type ServiceKey,
  type ServiceOptions,
  type ServiceView,
  type SwitchKey,
  type Timeouts,
  TUNABLE_KEYS,
  type Tunables,
} from "./types.ts";
import {
  DEFAULT_MH_TABLE_SIZE,
  DEFAULT_WEIGHT,
  ENGINE_MAX_SECONDS,
  formatEndpoint as formatEndpointText,
  formatIpv4,
  formatIpv6,
  FORWARD_METHOD_TABLE,
  type ForwardMethod,
  fullPersistenceMask,
  isForwardMethod,
  isMhTableSize,
  isPersistenceMask,
  isPort,
  isProtocol,
  isSchedulerName,
  isThreshold,
  isUnicast,
  isWeight,
  mhTableSizeProblem,
  normalizeSchedulerFlags,
  orList,
  parseAddress as parseAddressText,
  persistenceMaskProblem,
  PORT_MAX,
  PORT_MIN,
  PROTOCOL_CHOICES,
  protocolNumber,
  protocolOfNumber,
  SCHEDULER_CHOICES,
  type SchedulerFlag,
  schedulerFlagProblem,
  type SchedulerName,
  THRESHOLD_MAX,
  WEIGHT_MAX,
  WEIGHT_MIN,
} from "../vocab/mod.ts";
import { rebuildSchedule, schedFlagBits, schedFlagNames } from "./scheduler_hashed.ts";
import { applyHealth } from "./health_state.ts";
import { type CheckSpec, checkSpecProblems } from "../health/spec.ts";
import { newServiceRefusals, type RealServer } from "./service.ts";
import {
  DEFAULT_QUORUM,
  MAX_CHECKS_PER_SERVER,
  QUORUM_MAX,
  type SorryServerSpec,
} from "./service_spec.ts";
import type { HealthUpdate, SorryServerView } from "./views.ts";
import { A6, SessionFlag, V6 } from "./session_table.ts";
import { zeroStats } from "./stats.ts";
import { clearTemplates } from "./persistence.ts";
import { blankTemplateRow, TEMPLATE_CURSOR, templateRows } from "./template_rows.ts";
import { setThresholds } from "./thresholds.ts";
import { applySourceGuard, checkSourceGuard, currentGuard, NO_GUARD } from "./source_guard.ts";

/** How refusals name the implemented methods: `fullnat (-b) or nat (-m)`. */
const METHOD_OPTIONS = orList(
  FORWARD_METHOD_TABLE.filter((m) => m.supported).map((m) => `${m.name} (-${m.ipvsadm.short})`),
);
/** Largest timeout accepted, in seconds (keeps milliseconds exact). */
const MAX_TIMEOUT = ENGINE_MAX_SECONDS;

function invalid(message: string): never {
  throw new ControlError("invalid-argument", message);
}

/** A parsed address: IPv4 as a number, or IPv6 as four words; `text` is canonical. */
interface Addr {
  v4: number;
  v6: Uint32Array | undefined;
  text: string;
}

/** Parses an IPv4 or IPv6 address the engine can serve, or says why it cannot. */
function parseAddr(text: unknown, what: string): Addr {
  if (typeof text !== "string") invalid(`${what} must be an IPv4 or IPv6 address`);
  const parsed = parseAddressText(text);
  if (parsed?.family === 6) {
    if (!isUnicast(parsed)) invalid(`${what} ${text} is not a unicast address`);
    return { v4: parsed.v6[3], v6: parsed.v6, text: parsed.address };
  }
  if (parsed === undefined && text.includes(":")) {
    invalid(`${what} ${JSON.stringify(text)} is not an IPv6 address`);
  }
  const v4 = parseAddress(text, what);
  return { v4, v6: undefined, text: formatIpv4(v4) };
}

/** Parses an IPv4 address the engine can serve, or refuses it with a message saying why. */
export function parseAddress(text: unknown, what: string): number {
  if (typeof text !== "string") invalid(`${what} must be an IPv4 address`);
  const parsed = parseAddressText(text);
  if (parsed?.family !== 4) invalid(`${what} ${JSON.stringify(text)} is not an IPv4 address`);
  if (!isUnicast(parsed)) invalid(`${what} ${text} is not a unicast address`);
  return parsed.v4;
}

/** Refuses an address of the other family than the service's. */
function sameFamily(svc: Service, a: Addr, what: string): void {
  const svc6 = svc.vaddr6 !== undefined;
  if (svc6 !== (a.v6 !== undefined)) {
    invalid(
      `${what} ${a.text} is ${a.v6 ? "IPv6" : "IPv4"} but the service is ${
        svc6 ? "IPv6" : "IPv4"
      }: a service and its real servers and local addresses share one family`,
    );
  }
}

function checkPort(port: unknown, what: string): number {
  if (!isPort(port)) {
    invalid(
      `${what} port must be an integer from ${PORT_MIN} to ${PORT_MAX} (got ${String(port)})`,
    );
  }
  return port;
}

function checkWeight(w: unknown): number {
  if (!isWeight(w)) {
    invalid(`Weight must be an integer from ${WEIGHT_MIN} to ${WEIGHT_MAX} (got ${String(w)})`);
  }
  return w;
}

function checkScheduler(s: unknown): SchedulerName {
  if (!isSchedulerName(s)) {
    throw new ControlError(
      "unsupported",
      `Scheduler ${String(s)} is not supported: use ${SCHEDULER_CHOICES}`,
    );
  }
  return s;
}

function checkPersistence(p: unknown): number {
  if (typeof p !== "number" || !Number.isInteger(p) || p < 0 || p > MAX_TIMEOUT) {
    invalid(
      `Persistence timeout must be whole seconds from 0 to ${MAX_TIMEOUT} (got ${String(p)})`,
    );
  }
  return p;
}

/** The flag bits of `flags` for `scheduler`, or a refusal naming the flag that does not fit. */
function checkSchedulerFlags(flags: unknown, scheduler: SchedulerName): number {
  if (!Array.isArray(flags)) {
    invalid(`Scheduler flags must be a list of flag names (got ${String(flags)})`);
  }
  const problem = schedulerFlagProblem(scheduler, flags);
  if (problem !== undefined) invalid(problem[0].toUpperCase() + problem.slice(1));
  return schedFlagBits(normalizeSchedulerFlags(flags as SchedulerFlag[]));
}

/** A table size of mh; refused for another scheduler, which has no table to size. */
function checkMhTableSize(size: unknown, scheduler: SchedulerName): number {
  if (!isMhTableSize(size)) {
    const p = mhTableSizeProblem(size);
    invalid(p[0].toUpperCase() + p.slice(1));
  }
  if (scheduler !== "mh") {
    invalid(`An mh table size applies to the mh scheduler only (the scheduler is ${scheduler})`);
  }
  return size;
}

/** A persistence granularity (prefix length) for a service of that family. */
function checkPersistenceMask(mask: unknown, v6: boolean): number {
  if (!isPersistenceMask(mask, v6)) {
    const p = persistenceMaskProblem(mask, v6);
    invalid(p[0].toUpperCase() + p.slice(1));
  }
  return mask;
}

function checkFlag(v: unknown, what: string): boolean {
  if (typeof v !== "boolean") invalid(`${what} must be true or false (got ${String(v)})`);
  return v;
}

type Tweaks = Pick<Service, "toa" | "stripTimestamps" | "clampMss">;

/** The FULLNAT-only switches `options` turns on by name. */
function switchedOn(options: Partial<ServiceOptions> | undefined): FullnatSettings["switchedOn"] {
  return (["toa", "stripTimestamps", "clampMss"] as const).filter((k) => options?.[k] === true);
}

/** The methods of `svc`'s servers and sorry server, `rs` left out. */
function methodsWithout(svc: Service, rs?: RealServer): ForwardMethod[] {
  return svc.servers.filter((r) => r !== rs).map((r) => r.method);
}

/** Copies the TCP tweaks given in `options` onto `svc` (all validated before any is set). */
function applyTweaks(svc: Tweaks, options: Partial<ServiceOptions>): void {
  const toa = options.toa === undefined ? svc.toa : checkFlag(options.toa, "toa");
  const strip = options.stripTimestamps === undefined
    ? svc.stripTimestamps
    : checkFlag(options.stripTimestamps, "stripTimestamps");
  const clamp = options.clampMss === undefined
    ? svc.clampMss
    : checkFlag(options.clampMss, "clampMss");
  svc.toa = toa;
  svc.stripTimestamps = strip;
  svc.clampMss = clamp;
}

/** A timeout in whole seconds the engine keeps exact, or a refusal naming it. */
function checkTimeout(k: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_TIMEOUT) {
    invalid(`Timeout ${k} must be whole seconds from 1 to ${MAX_TIMEOUT} (got ${String(v)})`);
  }
  return v;
}

/**
 * A service's own timeouts: known keys, whole seconds, and of the service's protocol (a TCP
 * state timeout means nothing to a UDP service, nor `udp` to a TCP one). 0 clears a key (the
 * engine's timeout applies again) and is kept in what is returned, for the caller to apply.
 */
function checkServiceTimeouts(v: unknown, protocol: string): Partial<Timeouts> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    invalid(`A service's timeouts are an object of seconds per state (got ${String(v)})`);
  }
  const out: Partial<Timeouts> = {};
  for (const [k, value] of Object.entries(v as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (!(k in DEFAULT_TIMEOUTS)) invalid(`Unknown timeout ${k}`);
    if (value === 0) {
      out[k as keyof Timeouts] = 0;
      continue;
    }
    const udp = k === "udp";
    if (udp !== (protocol === "udp")) {
      invalid(
        `Timeout ${k} applies to ${udp ? "UDP" : "TCP"} services only; this service is ` +
          `${protocol.toUpperCase()}` + (udp ? " (set tcpEstablished and the like)" : " (set udp)"),
      );
    }
    out[k as keyof Timeouts] = checkTimeout(k, value);
  }
  return out;
}

/** `base` with `changes` applied: a value set, 0 taking the key out. */
function withTimeouts(base: Partial<Timeouts>, changes: Partial<Timeouts>): Partial<Timeouts> {
  const out = { ...base };
  for (const [k, v] of Object.entries(changes) as [keyof Timeouts, number][]) {
    if (v === 0) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** One-packet scheduling, which IPVS applies to UDP only: refused on TCP rather than ignored. */
/** The SYN proxy switch (ipvsadm `-j`), for TCP services only. */
function checkSynProxy(v: unknown, protocol: string): boolean {
  const on = checkFlag(v, "synProxy");
  if (on && protocol !== "tcp") {
    invalid("The SYN proxy (-j, synProxy) is for TCP services only: it answers TCP SYNs");
  }
  return on;
}

function checkOnePacket(v: unknown, protocol: string): boolean {
  const on = checkFlag(v, "onePacket");
  if (on && protocol !== "udp") {
    invalid(
      "One-packet scheduling (-o, onePacket) is for UDP services only: a TCP connection " +
        "cannot be scheduled datagram by datagram",
    );
  }
  return on;
}

/** A connection threshold: ipvsadm's 0..INT_MAX (0 is none). */
function checkThreshold(v: unknown, what: string): number {
  if (!isThreshold(v)) {
    invalid(`${what} threshold must be an integer from 0 to ${THRESHOLD_MAX} (got ${String(v)})`);
  }
  return v;
}

/** Refuses a lower threshold above the upper one, as IPVS does (-ERANGE). */
function checkThresholdOrder(upper: number, lower: number): void {
  if (lower > upper) {
    invalid(
      `Lower threshold ${lower} is higher than upper threshold ${upper}` +
        (upper === 0 ? " (0: none; a lower threshold needs an upper one)" : ""),
    );
  }
}

/**
 * Refuses a port translation the method cannot do: DR and TUNNEL leave the packet as it is
 * (TUNNEL wraps it whole), so their real server listens on the virtual port (ipvsadm sets it
 * so for `-g` and `-i`).
 */
function checkMethodPort(method: ForwardMethod, port: number, vport: number, what: string): void {
  if ((method === "dr" || method === "tunnel") && port !== vport) {
    const mode = method === "dr" ? "direct routing (dr)" : "tunnelling (tunnel)";
    invalid(
      `${what} port ${port} cannot be used with ${mode}: the packet keeps its ` +
        `destination, so the real server must listen on the virtual port ${vport}`,
    );
  }
}

/**
 * A real server's tunnel options as the engine keeps them, checked against its `method`
 * (`tunnel_type.ts`); `base` holds the server's current ones for an edit that gives none.
 */
function checkTunnelOptions(
  method: ForwardMethod,
  given: Partial<RealServerSpec>,
  base: TunnelOptions = {},
): { type: number; port: number; csum: boolean; options: TunnelOptions } {
  const givenOptions: TunnelOptions = {
    ...(given.tunnelType !== undefined && { tunnelType: given.tunnelType }),
    ...(given.tunnelPort !== undefined && { tunnelPort: checkPort(given.tunnelPort, "Tunnel") }),
    ...(given.tunnelChecksum !== undefined && {
      tunnelChecksum: checkFlag(given.tunnelChecksum, "tunnelChecksum"),
    }),
  };
  // An edit keeps the server's other tunnel options, unless it leaves tunnelling or changes
  // the type (a gue port means nothing to gre).
  const sameType = given.tunnelType === undefined ||
    given.tunnelType === (base.tunnelType ?? DEFAULT_TUNNEL_TYPE);
  const options: TunnelOptions = method === "tunnel" && sameType
    ? { ...base, ...givenOptions }
    : givenOptions;
  if (options.tunnelType !== undefined && !isTunnelType(options.tunnelType)) {
    invalid(`Tunnel type ${String(options.tunnelType)} is not ${TUNNEL_TYPE_CHOICES}`);
  }
  const problem = tunnelOptionsProblem(method, options);
  if (problem !== undefined) invalid(problem[0].toUpperCase() + problem.slice(1));
  return {
    type: tunnelTypeCode(options.tunnelType ?? DEFAULT_TUNNEL_TYPE),
    port: options.tunnelPort ?? 0,
    csum: options.tunnelChecksum ?? false,
    options,
  };
}

/** The tunnel options of `rs` as given to the control (none at their default). */
function tunnelOptionsOf(rs: RealServer): TunnelOptions {
  if (rs.method !== "tunnel") return {};
  return {
    ...(rs.tunType !== 0 && { tunnelType: TUNNEL_TYPES[rs.tunType] }),
    ...(rs.tunPort !== 0 && { tunnelPort: rs.tunPort }),
    ...(rs.tunCsum && { tunnelChecksum: true }),
  };
}

/** Sets the tunnel options `t` on `rs`. */
function setTunnel(rs: RealServer, t: { type: number; port: number; csum: boolean }): void {
  rs.tunType = t.type;
  rs.tunPort = t.port;
  rs.tunCsum = t.csum;
}

function checkMethod(m: unknown): ForwardMethod {
  if (!isForwardMethod(m)) {
    throw new ControlError(
      "unsupported",
      `Forwarding method ${String(m)} is not supported: use ${METHOD_OPTIONS}`,
    );
  }
  return m;
}

/** The health checks of a real server at `rsAddress`, each checked and with its defaults. */
function checkHealthChecks(v: unknown, rsAddress: string): CheckSpec[] {
  if (!Array.isArray(v)) invalid(`Health checks must be a list of checks (got ${String(v)})`);
  if (v.length > MAX_CHECKS_PER_SERVER) {
    invalid(
      `A real server takes at most ${MAX_CHECKS_PER_SERVER} health checks (got ${v.length})`,
    );
  }
  const out: CheckSpec[] = [];
  const problems: string[] = [];
  v.forEach((c, i) => {
    const r = checkSpecProblems(c, `checks[${i}]`, { rsAddress });
    if (r.spec !== undefined) out.push(r.spec);
    else problems.push(...r.problems);
  });
  if (problems.length > 0) invalid(`Invalid health check: ${problems.join("; ")}`);
  return out;
}

/** keepalived's quorum (at least 1) or hysteresis (at least 0). */
function checkQuorumCount(v: unknown, what: "Quorum" | "Hysteresis"): number {
  const min = what === "Quorum" ? 1 : 0;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > QUORUM_MAX) {
    invalid(`${what} must be an integer from ${min} to ${QUORUM_MAX} (got ${String(v)})`);
  }
  return v;
}

/** A sorry server checked for a service of the given family (v6 or not). */
interface SorryChoice {
  addr: Addr;
  port: number;
  method: ForwardMethod;
}

function checkSorryServer(v: SorryServerSpec, v6: boolean, vport: number): SorryChoice {
  if (v === null || typeof v !== "object") {
    invalid("A sorry server is given as address, port and method");
  }
  const addr = parseAddr(v.address, "Sorry server address");
  if (v6 !== (addr.v6 !== undefined)) {
    invalid(
      `Sorry server ${addr.text} is ${addr.v6 ? "IPv6" : "IPv4"} but the service is ${
        v6 ? "IPv6" : "IPv4"
      }`,
    );
  }
  const port = checkPort(v.port, "Sorry server");
  const method = checkMethod(v.method ?? "fullnat");
  checkMethodPort(method, port, vport, "Sorry server");
  return { addr, port, method };
}

/** The weight a sorry server serves with (keepalived's). */
const SORRY_WEIGHT = 1;

/** How a sorry server is listed. */
function sorryView(rs: RealServer): SorryServerView {
  return {
    address: rs.address,
    port: rs.port,
    method: rs.method,
    active: rs.listed,
    currentWeight: rs.weight,
    activeConns: rs.activeConns,
    inactiveConns: rs.inactiveConns,
    stats: { ...rs.stats },
  };
}

/** One page of {@linkcode EngineControl.listConnectionsPage}. */
export interface ConnectionPage {
  rows: ConnectionView[];
  /** Where the next page starts; null after the last. */
  next: number | null;
}

/** {@linkcode ControlTarget} over an {@linkcode Engine}. */
export class EngineControl implements ControlTarget {
  constructor(readonly engine: Engine) {}

  /** Validates a service key; returns its protocol number, address and port. */
  #parseKey(key: ServiceKey): { proto: number; addr: Addr; port: number } {
    if (key === null || typeof key !== "object") {
      invalid("A service is given as protocol, address and port");
    }
    if (!isProtocol(key.protocol)) {
      invalid(`Protocol must be ${PROTOCOL_CHOICES} (got ${String(key.protocol)})`);
    }
    const addr = parseAddr(key.address, "Virtual address");
    const port = checkPort(key.port, "Virtual");
    return { proto: protocolNumber(key.protocol), addr, port };
  }

  #find(proto: number, addr: Addr, port: number): Service | undefined {
    const reg = this.engine.registry;
    return addr.v6 ? reg.find6(proto, addr.v6, 0, port) : reg.find(proto, addr.v4, port);
  }

  #service(key: ServiceKey): Service {
    const { proto, addr, port } = this.#parseKey(key);
    const svc = this.#find(proto, addr, port);
    if (svc === undefined) throw new ControlError("no-service", "No such service");
    return svc;
  }

  /** The real server (not the sorry server) of `svc` at `address`:`port`. */
  #server(svc: Service, address: string, port: number): RealServer | undefined {
    return svc.servers.find((r) => !r.sorry && r.address === address && r.port === port);
  }

  /** Refuses a sorry server on the endpoint of one of the service's real servers. */
  #sorryClash(svc: Service | undefined, sorry: SorryChoice): void {
    if (svc !== undefined && this.#server(svc, sorry.addr.text, sorry.port) !== undefined) {
      invalid(
        `Sorry server ${formatEndpointText(sorry.addr.text, sorry.port)} is one of the ` +
          `service's real servers: it must be another server`,
      );
    }
  }

  /**
   * Refuses a change that would leave `svc` (undefined: one being added), whose servers would
   * then have `methods`, with a FULLNAT-only setting none of them uses (`mode_settings.ts`):
   * its local addresses (or, with `localAddresses`, the ones it would have), or a switch the
   * change turns on.
   */
  #checkModeSettings(
    svc: Service | undefined,
    methods: readonly ForwardMethod[],
    switchedOn: FullnatSettings["switchedOn"] = [],
    localAddresses = (svc?.localAddresses.length ?? 0) > 0,
  ): void {
    const problem = unusedSettingsProblem(methods, { localAddresses, switchedOn });
    if (problem !== undefined) {
      const name = svc === undefined
        ? "The service"
        : `Service ${svc.key.protocol.toUpperCase()} ${
          formatEndpointText(svc.key.address, svc.key.port)
        }`;
      invalid(`${name}: ${problem}`);
    }
  }

  /** Makes `choice` the sorry server of `svc` (none for null), draining the one it replaces. */
  #setSorry(svc: Service, choice: SorryChoice | null): void {
    const old = svc.sorryServer;
    if (
      old !== undefined && choice !== null && old.address === choice.addr.text &&
      old.port === choice.port
    ) {
      old.method = choice.method;
      return;
    }
    if (old !== undefined) {
      svc.sorryServer = undefined;
      this.engine.registry.retireServer(old);
    }
    if (choice === null) return;
    const rs = this.engine.registry.addServer(
      svc,
      choice.addr.v4,
      choice.addr.text,
      choice.port,
      SORRY_WEIGHT,
      choice.method,
      choice.addr.v6,
    );
    rs.sorry = true;
    svc.sorryServer = rs;
  }

  addService(key: ServiceKey, options: ServiceOptions): void {
    const { proto, addr, port } = this.#parseKey(key);
    const scheduler = checkScheduler(options?.scheduler);
    const flags = checkSchedulerFlags(options?.schedulerFlags ?? [], scheduler);
    const mhTableSize = options?.mhTableSize === undefined
      ? DEFAULT_MH_TABLE_SIZE
      : checkMhTableSize(options.mhTableSize, scheduler);
    const persistence = checkPersistence(options?.persistence ?? 0);
    const mask = options?.persistenceMask === undefined
      ? fullPersistenceMask(addr.v6 !== undefined)
      : checkPersistenceMask(options.persistenceMask, addr.v6 !== undefined);
    const timeouts = options?.timeouts === undefined
      ? {}
      : checkServiceTimeouts(options.timeouts, key.protocol);
    const onePacket = options?.onePacket === undefined
      ? false
      : checkOnePacket(options.onePacket, key.protocol);
    const synProxy = options.synProxy === undefined
      ? false
      : checkSynProxy(options.synProxy, key.protocol);
    const quorum = checkQuorumCount(options?.quorum ?? DEFAULT_QUORUM, "Quorum");
    const hysteresis = checkQuorumCount(options?.hysteresis ?? 0, "Hysteresis");
    const sorry = options?.sorryServer == null
      ? null
      : checkSorryServer(options.sorryServer, addr.v6 !== undefined, port);
    const guard = checkSourceGuard(options, addr.v6 !== undefined, NO_GUARD);
    const reg = this.engine.registry;
    if (this.#find(proto, addr, port)) {
      throw new ControlError("service-exists", "Service already exists");
    }
    // Validate the tweaks on a scratch copy first so a bad flag adds nothing.
    const tweaks: Tweaks = { ...DEFAULT_TCP_TWEAKS };
    applyTweaks(tweaks, options);
    this.#checkModeSettings(undefined, sorry === null ? [] : [sorry.method], switchedOn(options));
    const svc = reg.addService(
      { protocol: key.protocol, address: addr.text, port },
      addr.v4,
      scheduler,
      persistence,
      addr.v6,
    );
    applyTweaks(svc, tweaks);
    svc.setPersistenceMask(mask);
    svc.schedFlags = flags;
    svc.mhTableSize = mhTableSize;
    svc.onePacket = onePacket;
    svc.synProxy = synProxy;
    svc.timeoutOverrides = withTimeouts({}, timeouts);
    svc.applyTimeouts(this.engine.timeouts);
    svc.quorum = quorum;
    svc.hysteresis = hysteresis;
    applySourceGuard(svc, guard, this.engine.thresholdShares);
    this.#setSorry(svc, sorry);
    applyHealth(svc);
  }

  editService(key: ServiceKey, options: Partial<ServiceOptions>): void {
    const svc = this.#service(key);
    const scheduler = options.scheduler === undefined
      ? svc.scheduler
      : checkScheduler(options.scheduler);
    const changed = scheduler !== svc.scheduler;
    // Flags and table size belong to a scheduler: a new scheduler starts without them.
    const flags = options.schedulerFlags !== undefined
      ? checkSchedulerFlags(options.schedulerFlags, scheduler)
      : changed
      ? 0
      : svc.schedFlags;
    const mhTableSize = options.mhTableSize !== undefined
      ? checkMhTableSize(options.mhTableSize, scheduler)
      : changed
      ? DEFAULT_MH_TABLE_SIZE
      : svc.mhTableSize;
    const persistence = options.persistence === undefined
      ? svc.persistence
      : checkPersistence(options.persistence);
    const mask = options.persistenceMask === undefined
      ? svc.persistenceMask
      : checkPersistenceMask(options.persistenceMask, svc.vaddr6 !== undefined);
    const timeouts = options.timeouts === undefined
      ? undefined
      : checkServiceTimeouts(options.timeouts, svc.key.protocol);
    const onePacket = options.onePacket === undefined
      ? svc.onePacket
      : checkOnePacket(options.onePacket, svc.key.protocol);
    const synProxy = options.synProxy === undefined
      ? svc.synProxy
      : checkSynProxy(options.synProxy, svc.key.protocol);
    const tweaks: Tweaks = {
      toa: svc.toa,
      stripTimestamps: svc.stripTimestamps,
      clampMss: svc.clampMss,
    };
    applyTweaks(tweaks, options);
    const quorum = options.quorum === undefined
      ? svc.quorum
      : checkQuorumCount(options.quorum, "Quorum");
    const hysteresis = options.hysteresis === undefined
      ? svc.hysteresis
      : checkQuorumCount(options.hysteresis, "Hysteresis");
    const sorry = options.sorryServer === undefined
      ? undefined
      : options.sorryServer === null
      ? null
      : checkSorryServer(options.sorryServer, svc.vaddr6 !== undefined, svc.key.port);
    if (sorry) this.#sorryClash(svc, sorry);
    const sorryMethods = sorry === undefined
      ? (svc.sorryServer === undefined ? [] : [svc.sorryServer.method])
      : sorry === null
      ? []
      : [sorry.method];
    this.#checkModeSettings(
      svc,
      [...svc.servers.filter((r) => !r.sorry).map((r) => r.method), ...sorryMethods],
      switchedOn(options),
    );
    const guard = checkSourceGuard(options, svc.vaddr6 !== undefined, currentGuard(svc));
    if (changed) {
      svc.schedIndex = -1;
      svc.schedWeight = 0;
    }
    svc.scheduler = scheduler;
    if (changed || flags !== svc.schedFlags || mhTableSize !== svc.mhTableSize) {
      svc.schedFlags = flags;
      svc.mhTableSize = mhTableSize;
      rebuildSchedule(svc);
    }
    // Templates keyed by another granularity, or of a service no longer persistent, go.
    if (persistence === 0 || mask !== svc.persistenceMask) clearTemplates(this.engine, svc);
    svc.persistence = persistence;
    svc.setPersistenceMask(mask);
    applyTweaks(svc, tweaks);
    // Sessions already open keep their way; new datagrams follow the new setting.
    svc.onePacket = onePacket;
    // Sessions already open keep their translation; new connections follow the switch.
    svc.synProxy = synProxy;
    if (timeouts !== undefined) {
      svc.timeoutOverrides = withTimeouts(svc.timeoutOverrides, timeouts);
      svc.applyTimeouts(this.engine.timeouts);
    }
    svc.quorum = quorum;
    svc.hysteresis = hysteresis;
    // Lists and limits apply to new connections; sessions already open go on.
    applySourceGuard(svc, guard, this.engine.thresholdShares);
    if (sorry !== undefined) {
      this.#setSorry(svc, sorry);
      applyHealth(svc);
    }
  }

  deleteService(key: ServiceKey): void {
    this.engine.registry.removeService(this.#service(key));
  }

  addRealServer(key: ServiceKey, server: RealServerSpec): void {
    const svc = this.#service(key);
    const addr = parseAddr(server?.address, "Real server address");
    sameFamily(svc, addr, "Real server");
    const port = checkPort(server.port, "Real server");
    const weight = checkWeight(server.weight ?? DEFAULT_WEIGHT);
    const method = checkMethod(server.method);
    checkMethodPort(method, port, svc.key.port, "Real server");
    const tunnel = checkTunnelOptions(method, server);
    const upper = checkThreshold(server.upperThreshold ?? 0, "Upper");
    const lower = checkThreshold(server.lowerThreshold ?? 0, "Lower");
    checkThresholdOrder(upper, lower);
    const checks = server.checks === undefined ? [] : checkHealthChecks(server.checks, addr.text);
    const inhibit = server.inhibitOnFailure === undefined
      ? false
      : checkFlag(server.inhibitOnFailure, "inhibitOnFailure");
    const sorry = svc.sorryServer;
    if (sorry !== undefined && sorry.address === addr.text && sorry.port === port) {
      invalid(
        `Real server ${formatEndpointText(addr.text, port)} is the service's sorry server: ` +
          `it cannot be a real server too`,
      );
    }
    if (this.#server(svc, addr.text, port) !== undefined) {
      throw new ControlError("dest-exists", "Destination already exists");
    }
    this.#checkModeSettings(svc, [...methodsWithout(svc), method]);
    const rs = this.engine.registry.addServer(
      svc,
      addr.v4,
      addr.text,
      port,
      weight,
      method,
      addr.v6,
    );
    setThresholds(rs, upper, lower, this.engine.thresholdShares);
    setTunnel(rs, tunnel);
    rs.checks = checks;
    rs.inhibitOnFailure = inhibit;
    applyHealth(svc);
  }

  editRealServer(key: ServiceKey, server: Partial<RealServerSpec> & Endpoint): void {
    const svc = this.#service(key);
    const addr = parseAddr(server?.address, "Real server address").text;
    const port = checkPort(server.port, "Real server");
    const rs = this.#server(svc, addr, port);
    if (rs === undefined) throw new ControlError("no-dest", "No such destination");
    const weight = server.weight === undefined ? rs.configWeight : checkWeight(server.weight);
    const method = server.method === undefined ? rs.method : checkMethod(server.method);
    checkMethodPort(method, port, svc.key.port, "Real server");
    const tunnel = checkTunnelOptions(method, server, tunnelOptionsOf(rs));
    const upper = server.upperThreshold === undefined
      ? rs.upperThreshold
      : checkThreshold(server.upperThreshold, "Upper");
    const lower = server.lowerThreshold === undefined
      ? rs.lowerThreshold
      : checkThreshold(server.lowerThreshold, "Lower");
    checkThresholdOrder(upper, lower);
    const checks = server.checks === undefined
      ? rs.checks
      : checkHealthChecks(server.checks, rs.address);
    const inhibit = server.inhibitOnFailure === undefined
      ? rs.inhibitOnFailure
      : checkFlag(server.inhibitOnFailure, "inhibitOnFailure");
    this.#checkModeSettings(svc, [...methodsWithout(svc, rs), method]);
    setThresholds(rs, upper, lower, this.engine.thresholdShares);
    rs.configWeight = weight;
    rs.method = method;
    setTunnel(rs, tunnel);
    rs.checks = checks;
    rs.inhibitOnFailure = inhibit;
    applyHealth(svc);
  }

  deleteRealServer(key: ServiceKey, server: Endpoint): void {
    const svc = this.#service(key);
    const addr = parseAddr(server?.address, "Real server address").text;
    const port = checkPort(server.port, "Real server");
    const rs = this.#server(svc, addr, port);
    if (rs === undefined) throw new ControlError("no-dest", "No such destination");
    this.#checkModeSettings(svc, methodsWithout(svc, rs));
    this.engine.registry.retireServer(rs);
  }

  /**
   * Applies what the daemon's health checks found for one service: each listed real server's
   * health (and a dynamic weight, null to drop it) and whether the quorum holds. Every entry is
   * checked before anything changes. Not a configuration change: nothing of it is exported.
   */
  setHealth(key: ServiceKey, update: HealthUpdate): void {
    const svc = this.#service(key);
    if (update === null || typeof update !== "object") {
      invalid("A health update is given as { servers?, quorumUp? }");
    }
    const quorumUp = update.quorumUp === undefined
      ? svc.quorumUp
      : checkFlag(update.quorumUp, "quorumUp");
    const servers = update.servers ?? [];
    if (!Array.isArray(servers)) invalid("A health update's servers must be a list");
    const found = servers.map((s) => {
      if (s === null || typeof s !== "object") {
        invalid("A server's health is { address, port, up }");
      }
      const addr = parseAddr(s.address, "Real server address").text;
      const port = checkPort(s.port, "Real server");
      const rs = this.#server(svc, addr, port);
      if (rs === undefined) throw new ControlError("no-dest", "No such destination");
      const up = checkFlag(s.up, "up");
      const weight = s.weight == null ? undefined : checkWeight(s.weight);
      return { rs, up, weight };
    });
    for (const { rs, up, weight } of found) {
      rs.healthy = up;
      rs.healthWeight = weight;
    }
    svc.quorumUp = quorumUp;
    applyHealth(svc);
  }

  addLocalAddress(key: ServiceKey, address: string): void {
    const svc = this.#service(key);
    const addr = parseAddr(address, "Local address");
    sameFamily(svc, addr, "Local address");
    if (svc.localAddresses.some((la) => la.address === addr.text)) {
      throw new ControlError("laddr-exists", "Local address already exists");
    }
    this.#checkModeSettings(svc, methodsWithout(svc), [], true);
    const [lo, hi] = this.engine.localPortRange;
    this.engine.registry.addLocal(svc, addr.v4, addr.text, lo, hi, addr.v6);
  }

  deleteLocalAddress(key: ServiceKey, address: string): void {
    const svc = this.#service(key);
    const addr = parseAddr(address, "Local address").text;
    const la = svc.localAddresses.find((l) => l.address === addr);
    if (la === undefined) throw new ControlError("no-laddr", "No such local address");
    this.engine.registry.retireLocal(la);
  }

  clear(): void {
    for (const svc of this.engine.registry.liveServices()) this.engine.registry.removeService(svc);
  }

  zeroStats(key?: ServiceKey): void {
    const list = key === undefined ? this.engine.registry.liveServices() : [this.#service(key)];
    for (const svc of list) {
      zeroStats(svc.stats);
      Object.assign(svc.refused, newServiceRefusals());
      for (const rs of svc.servers) zeroStats(rs.stats);
    }
  }

  listServices(): ServiceView[] {
    return this.engine.registry.liveServices().map((svc) => ({
      ...svc.key,
      scheduler: svc.scheduler,
      schedulerFlags: schedFlagNames(svc.scheduler, svc.schedFlags),
      mhTableSize: svc.mhTableSize,
      persistence: svc.persistence,
      persistenceMask: svc.persistenceMask,
      toa: svc.toa,
      stripTimestamps: svc.stripTimestamps,
      clampMss: svc.clampMss,
      synProxy: svc.synProxy,
      timeouts: { ...svc.timeoutOverrides },
      onePacket: svc.onePacket,
      quorum: svc.quorum,
      hysteresis: svc.hysteresis,
      quorumUp: svc.quorumUp,
      allow: [...svc.allow],
      deny: [...svc.deny],
      sourceRate: svc.sourceRate,
      sourceSessions: svc.sourceSessions,
      refused: { ...svc.refused },
      ...(svc.sorryServer !== undefined && { sorryServer: sorryView(svc.sorryServer) }),
      stats: { ...svc.stats },
      realServers: svc.servers.filter((rs) => !rs.sorry).map((rs) => ({
        address: rs.address,
        port: rs.port,
        weight: rs.configWeight,
        method: rs.method,
        upperThreshold: rs.upperThreshold,
        lowerThreshold: rs.lowerThreshold,
        overloaded: rs.overloaded,
        checks: rs.checks.map((c) => structuredClone(c)),
        inhibitOnFailure: rs.inhibitOnFailure,
        ...tunnelOptionsOf(rs),
        up: rs.healthy,
        ...(rs.healthWeight !== undefined && { healthWeight: rs.healthWeight }),
        currentWeight: rs.weight,
        listed: rs.listed,
        activeConns: rs.activeConns,
        inactiveConns: rs.inactiveConns,
        persistConns: rs.persistConns,
        stats: { ...rs.stats },
      })),
      localAddresses: svc.localAddresses.map((la) => ({
        address: la.address,
        conns: la.conns,
        portConflicts: la.portConflicts,
      })),
    }));
  }

  listConnections(): ConnectionView[] {
    return this.listConnectionsPage(0, Infinity).rows;
  }

  /**
   * At most `max` live sessions from slot `cursor` on, then the persistence templates
   * (`template_rows.ts`), and the cursor to continue from (null when there are no more).
   * Sessions made or ended between pages may or may not be seen, as with any walk of a live
   * table; no session is listed twice (a template table that grows between pages may list a
   * template twice or not at all).
   *
   * With `visit`, each row is handed to it instead, in one object reused from row to row
   * (valid only during the call), and `rows` comes back empty: a caller that encodes rows as
   * they come then allocates nothing per session but its address texts.
   */
  listConnectionsPage(
    cursor: number,
    max: number,
    visit?: (row: ConnectionView) => void,
  ): ConnectionPage {
    if (!Number.isInteger(cursor) || cursor < 0) invalid("cursor must be a slot number");
    if (!(max >= 1)) invalid("a page holds at least one connection");
    const e = this.engine;
    const t = e.table;
    const now = e.now();
    const blank = (): ConnectionView => ({
      protocol: "tcp",
      method: "fullnat",
      state: "",
      expiresInMs: 0,
      client: { address: "", port: 0 },
      virtual: { address: "", port: 0 },
      local: { address: "", port: 0 },
      real: { address: "", port: 0 },
    });
    const set = (
      ep: Endpoint,
      id: number,
      v6: boolean,
      v4: Uint32Array,
      off: number,
      port: number,
    ) => {
      ep.address = v6 ? formatIpv6(t.addr6, (id << 4) + off) : formatIpv4(v4[id]);
      ep.port = port;
    };
    const reused = visit === undefined ? undefined : blank();
    const out: ConnectionView[] = [];
    let count = 0;
    let id = cursor;
    for (; id < t.highWater && id < TEMPLATE_CURSOR && count < max; id++) {
      if (!t.live(id)) continue;
      const v6 = (t.proto[id] & V6) !== 0;
      const protocol = protocolOfNumber(t.proto[id] & ~V6) ?? "udp";
      const row = reused ?? blank();
      row.protocol = protocol;
      row.method = methodOfCode(t.method[id]);
      row.state = protocol === "tcp" ? TCP_STATE_NAMES[t.state[id]] : "UDP";
      row.expiresInMs = Math.max(0, Math.round(t.expires[id] - now));
      if ((t.flags[id] & SessionFlag.OFFLOADED) !== 0) {
        row.offloaded = true;
        row.expiresInMs = Math.round(e.timeoutMs(id));
      } else if (row.offloaded) delete row.offloaded;
      set(row.client, id, v6, t.caddr, A6.C, t.cport[id]);
      set(row.virtual, id, v6, t.vaddr, A6.V, t.vport[id]);
      set(row.local, id, v6, t.laddr, A6.L, t.lport[id]);
      set(row.real, id, v6, t.daddr, A6.D, t.dport[id]);
      if (visit === undefined) out.push(row);
      else visit(row);
      count++;
    }
    if (id < t.highWater && id < TEMPLATE_CURSOR) return { rows: out, next: id };
    // Then the persistence templates, as IPVS lists them among its connections.
    const templates = templateRows(
      e,
      Math.max(id, TEMPLATE_CURSOR),
      max - count,
      visit ?? ((row) => out.push(row)),
      visit === undefined ? undefined : blankTemplateRow(),
    );
    return { rows: out, next: templates.next };
  }

  getTimeouts(): Timeouts {
    return this.engine.timeouts;
  }

  setTimeouts(timeouts: Partial<Timeouts>): void {
    const next = this.engine.timeouts;
    for (const [k, v] of Object.entries(timeouts ?? {})) {
      if (!(k in next)) invalid(`Unknown timeout ${k}`);
      if (v === undefined) continue;
      next[k as keyof Timeouts] = checkTimeout(k, v);
    }
    this.engine.timeouts = next;
  }

  getTunables(): Tunables {
    return { ...this.engine.tunables };
  }

  setTunables(tunables: Partial<Tunables>): void {
    if (tunables === null || typeof tunables !== "object") {
      invalid("Tunables are given as an object of names and true or false");
    }
    const next = this.getTunables();
    for (const [k, v] of Object.entries(tunables)) {
      if (k === "offload" && v !== undefined) {
        if (!isOffloadMode(v)) invalid(`Offload must be ${OFFLOAD_MODES.join(" or ")}`);
        next.offload = v;
        continue;
      }
      if (!(TUNABLE_KEYS as readonly string[]).includes(k)) {
        invalid(`Unknown tunable ${k} (known: ${[...TUNABLE_KEYS, "offload"].join(", ")})`);
      }
      if (v === undefined) continue;
      next[k as SwitchKey] = checkFlag(v, k);
    }
    this.engine.tunables = next;
  }

  /**
   * Ends every session of one real server of a service now, the server listed or already
   * deleted (a drain's deadline: `Engine.endServerSessions`). Returns how many sessions ended
   * and how many TCP ones were reset at both ends.
   */
  endServerSessions(key: ServiceKey, server: Endpoint): { ended: number; reset: number } {
    const { proto, addr: vaddr, port: vport } = this.#parseKey(key);
    const addr = parseAddr(server?.address, "Real server address").text;
    const port = checkPort(server?.port, "Real server");
    let ended = 0;
    let reset = 0;
    for (const rs of this.engine.registry.servers) {
      const svc = rs?.service;
      if (
        rs === undefined || rs.address !== addr || rs.port !== port || svc === undefined ||
        svc.proto !== proto || svc.key.port !== vport || svc.key.address !== vaddr.text
      ) continue;
      const r = this.engine.endServerSessions(rs);
      ended += r.ended;
      reset += r.reset;
    }
    return { ended, reset };
  }

  diversion(): DiversionSpec {
    const spec = this.engine.registry.diversion();
    if (this.engine.offload !== "off") spec.offload = true;
    return spec;
  }
}
