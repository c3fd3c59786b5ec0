/**
 * The minimal set of control operations that turns one configuration into another. Anything
 * present in both with the same settings is not touched, so its sessions, counters and
 * scheduler position survive; each step carries the line a person reads ("+ service tcp
 * 198.51.100.10:80 wrr", "~ rs 203.0.113.11:80 weight 1 -> 3 in tcp 198.51.100.10:80").
 *
 * @module
 */
import { DEFAULT_TUNNEL_TYPE } from "../vocab/tunnel_type.ts";
import type { RemoteControl } from "../ctl/remote.ts";
import {
  DEFAULT_QUORUM,
  type RealServerSpec,
  type ServiceKey,
  type ServiceOptions,
  type SorryServerSpec,
  type Timeouts,
  type Tunables,
} from "../fullnat/types.ts";
import { offloadMode, TUNABLE_KEYS } from "../fullnat/types.ts";
import { checkKey, type CheckSpec, formatCheck, isHttpCheck } from "../health/spec.ts";
import { formatEndpoint, fullPersistenceMask, isIpv6 } from "../vocab/mod.ts";
import { type ConfigDocument, type ServiceConfig, serviceName } from "./document.ts";
import { needSync, planSync, type SyncOps } from "./sync_section.ts";
import {
  describeNetworkChanges,
  emptyNetwork,
  needNetwork,
  type NetworkOps,
  sameNetwork,
} from "./network_section.ts";

/**
 * One step of a plan: what it does, in words, and the control call that does it. A step of
 * the `sync` section calls `sync`, and fails on a target without one.
 */
export interface Change {
  readonly text: string;
  /** Further lines of the same step (the network's changes are applied as one). */
  readonly more?: readonly string[];
  run(target: RemoteControl, sync?: SyncOps, network?: NetworkOps): Promise<unknown>;
}

const OPTION_KEYS = [
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
  "allow",
  "deny",
  "sourceRate",
  "sourceSessions",
] as const satisfies readonly (keyof ServiceOptions)[];

const onOff = (v: boolean) => (v ? "on" : "off");

function keyOf(s: ServiceKey): ServiceKey {
  return { protocol: s.protocol, address: s.address, port: s.port };
}

/** `wrr`, plus whatever differs from the defaults: `wrr persistence 300 toa off`. */
function describeOptions(s: ServiceConfig): string {
  const parts: string[] = [s.scheduler];
  if (s.schedulerFlags.length > 0) parts.push(`flags ${s.schedulerFlags.join(",")}`);
  if (s.scheduler === "mh") parts.push(`table ${s.mhTableSize}`);
  if (s.persistence !== 0) parts.push(`persistence ${s.persistence}`);
  if (s.persistenceMask !== fullPersistenceMask(isIpv6(s.address))) {
    parts.push(`mask /${s.persistenceMask}`);
  }
  for (const k of ["toa", "stripTimestamps", "clampMss"] as const) {
    if (!s[k]) parts.push(`${k} off`);
  }
  if (s.onePacket) parts.push("onePacket on");
  if (s.synProxy) parts.push("synProxy on");
  if (Object.keys(s.timeouts).length > 0) parts.push(`timeouts ${timeoutWords(s.timeouts)}`);
  if (quorumOf(s) !== DEFAULT_QUORUM) parts.push(`quorum ${quorumOf(s)}`);
  if (hysteresisOf(s) !== 0) parts.push(`hysteresis ${hysteresisOf(s)}`);
  if (s.sorryServer) parts.push(`sorryServer ${sorryName(s.sorryServer)}`);
  for (const k of ["allow", "deny"] as const) {
    const list = s[k] ?? [];
    if (list.length > 0) parts.push(`${k} ${list.join(",")}`);
  }
  for (const k of ["sourceRate", "sourceSessions"] as const) {
    if ((s[k] ?? 0) !== 0) parts.push(`${k} ${s[k]}`);
  }
  return parts.join(" ");
}

/** The edit from a service's timeouts `from` to `to`: changed keys, 0 for those taken out. */
function timeoutEdit(from: Partial<Timeouts>, to: Partial<Timeouts>): Partial<Timeouts> {
  const out: Partial<Timeouts> = {};
  for (const k of Object.keys(from) as (keyof Timeouts)[]) if (to[k] === undefined) out[k] = 0;
  for (const [k, v] of Object.entries(to) as [keyof Timeouts, number][]) {
    if (from[k] !== v) out[k] = v;
  }
  return out;
}

/** `tcpEstablished=900,udp=30`, or `none`. */
function timeoutWords(t: Partial<Timeouts>): string {
  return Object.entries(t).map(([k, v]) => `${k}=${v}`).join(",") || "none";
}

/** ` thresholds 100/75` when the server has any, else nothing. */
function thresholdWords(r: RealServerSpec): string {
  const [u, l] = [r.upperThreshold ?? 0, r.lowerThreshold ?? 0];
  return u === 0 && l === 0 ? "" : ` thresholds ${u}/${l}`;
}

/** The options that create service `s` as configured (the control call's form of them). */
export function serviceOptionsOf(s: ServiceConfig): ServiceOptions {
  return {
    scheduler: s.scheduler,
    schedulerFlags: [...s.schedulerFlags],
    ...(s.scheduler === "mh" && { mhTableSize: s.mhTableSize }),
    persistence: s.persistence,
    persistenceMask: s.persistenceMask,
    toa: s.toa,
    stripTimestamps: s.stripTimestamps,
    clampMss: s.clampMss,
    // Left out at their defaults, so a daemon from before them is asked nothing new.
    ...(s.onePacket && { onePacket: true }),
    ...(s.synProxy && { synProxy: true }),
    ...(Object.keys(s.timeouts).length > 0 && { timeouts: { ...s.timeouts } }),
    quorum: quorumOf(s),
    hysteresis: hysteresisOf(s),
    ...(s.sorryServer && { sorryServer: { ...s.sorryServer } }),
    ...((s.allow ?? []).length > 0 && { allow: [...(s.allow ?? [])] }),
    ...((s.deny ?? []).length > 0 && { deny: [...(s.deny ?? [])] }),
    ...((s.sourceRate ?? 0) !== 0 && { sourceRate: s.sourceRate }),
    ...((s.sourceSessions ?? 0) !== 0 && { sourceSessions: s.sourceSessions }),
  };
}

const rsName = (r: { address: string; port: number }) => formatEndpoint(r.address, r.port);

/**
 * The add call's spec: thresholds and health fields only when set, so a daemon from before them
 * reads it.
 */
function rsSpec(r: RealServerSpec): RealServerSpec {
  const { upperThreshold = 0, lowerThreshold = 0, checks = [], inhibitOnFailure = false, ...rest } =
    r;
  return {
    ...rest,
    ...(upperThreshold !== 0 && { upperThreshold }),
    ...(lowerThreshold !== 0 && { lowerThreshold }),
    ...(checks.length > 0 && { checks: checks.map((c) => structuredClone(c)) }),
    ...(inhibitOnFailure && { inhibitOnFailure }),
  };
}

/** `203.0.113.99:80` (`... nat` when not FULLNAT), or `none`. */
function sorryName(s: SorryServerSpec | undefined): string {
  if (s === undefined) return "none";
  return rsName(s) + (s.method === "fullnat" ? "" : ` ${s.method}`);
}

/**
 * A check in a few words: its type, what it fetches or runs, and the fields not at their
 * defaults (`http /health delayLoop 5 fall 3`).
 */
export function describeCheck(c: CheckSpec): string {
  const parts: string[] = [c.type];
  if (isHttpCheck(c.type)) {
    // `/health`, `/health (200,301)`, `/ (md5 6f5902ac...)`.
    parts.push(
      (c.urls ?? []).map((u) => {
        const what = [
          ...(u.statusCodes ? [u.statusCodes.join(",")] : []),
          ...(u.digest ? [`md5 ${u.digest}`] : []),
        ];
        return what.length > 0 ? `${u.path} (${what.join(" ")})` : u.path;
      }).join(", "),
    );
  }
  if (c.type === "misc") parts.push(JSON.stringify(c.command ?? ""));
  for (const [k, v] of Object.entries(formatCheck(c))) {
    if (k === "type" || k === "urls" || k === "command") continue;
    parts.push(`${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`);
  }
  return parts.join(" ");
}

/** Every check of a server in brackets: `[tcp; http /health]`, `[]` for none. */
function describeChecks(checks: readonly CheckSpec[]): string {
  return `[${checks.map(describeCheck).join("; ")}]`;
}

/** The added server's line: `+ rs 203.0.113.11:80 fullnat weight 1 [checks ...] in ...`. */
function addServerText(r: RealServerSpec, name: string): string {
  const checks = r.checks ?? [];
  const extra = (checks.length > 0 ? ` checks ${describeChecks(checks)}` : "") +
    (r.inhibitOnFailure ? " inhibitOnFailure" : "");
  const tunnel = r.method === "tunnel" && tunnelWords(r) !== DEFAULT_TUNNEL_TYPE
    ? ` ${tunnelWords(r)}`
    : "";
  return `+ rs ${rsName(r)} ${r.method}${tunnel} weight ${r.weight}${thresholdWords(r)}${extra} ` +
    `in ${name}`;
}

/** A TUNNEL server's encapsulation in a change line: `ipip`, `gue:6080`, `gre+csum`. */
function tunnelWords(r: RealServerSpec): string {
  return (r.tunnelType ?? DEFAULT_TUNNEL_TYPE) +
    (r.tunnelPort !== undefined ? `:${r.tunnelPort}` : "") + (r.tunnelChecksum ? "+csum" : "");
}

/** Option `k` of `s`, with the default of one a service may leave out. */
function optionOf(s: ServiceConfig, k: typeof OPTION_KEYS[number]): unknown {
  switch (k) {
    case "quorum":
      return quorumOf(s);
    case "hysteresis":
      return hysteresisOf(s);
    case "allow":
    case "deny":
      return s[k] ?? [];
    case "sourceRate":
    case "sourceSessions":
      return s[k] ?? 0;
  }
  return s[k];
}

const quorumOf = (s: ServiceConfig) => s.quorum ?? DEFAULT_QUORUM;
const hysteresisOf = (s: ServiceConfig) => s.hysteresis ?? 0;

const sameChecks = (a: readonly CheckSpec[], b: readonly CheckSpec[]) =>
  a.length === b.length && a.every((c, i) => checkKey(c) === checkKey(b[i]));

const sameSorry = (a: SorryServerSpec | undefined, b: SorryServerSpec | undefined) =>
  a === undefined || b === undefined
    ? a === b
    : a.address === b.address && a.port === b.port && a.method === b.method;

function timeoutChange(from: Timeouts, to: Timeouts): Change | undefined {
  const changed: Partial<Timeouts> = {};
  const words: string[] = [];
  for (const k of Object.keys(to) as (keyof Timeouts)[]) {
    if (from[k] !== to[k]) {
      changed[k] = to[k];
      words.push(`${k} ${from[k]} -> ${to[k]}`);
    }
  }
  if (words.length === 0) return undefined;
  return { text: `~ timeouts ${words.join(", ")}`, run: (t) => t.setTimeouts(changed) };
}

function tunableChange(from: Tunables, to: Tunables): Change | undefined {
  const changed: Partial<Tunables> = {};
  const words: string[] = [];
  for (const k of TUNABLE_KEYS) {
    if (from[k] !== to[k]) {
      changed[k] = to[k];
      words.push(`${k} ${onOff(from[k])} -> ${onOff(to[k])}`);
    }
  }
  const [was, now] = [offloadMode(from), offloadMode(to)];
  if (was !== now) {
    changed.offload = now;
    words.push(`offload ${was} -> ${now}`);
  }
  if (words.length === 0) return undefined;
  return { text: `~ tunables ${words.join(", ")}`, run: (t) => t.setTunables(changed) };
}

function addServiceChanges(s: ServiceConfig): Change[] {
  const key = keyOf(s);
  const name = serviceName(s);
  return [
    {
      text: `+ service ${name} ${describeOptions(s)}`,
      run: (t) => t.addService(key, serviceOptionsOf(s)),
    },
    ...s.realServers.map((r): Change => ({
      text: addServerText(r, name),
      run: (t) => t.addRealServer(key, rsSpec(r)),
    })),
    ...s.localAddresses.map((l): Change => ({
      text: `+ laddr ${l} in ${name}`,
      run: (t) => t.addLocalAddress(key, l),
    })),
  ];
}

/** Whether a FULLNAT server (or sorry server) of `s` uses its local addresses. */
function hasFullnat(s: ServiceConfig): boolean {
  return s.realServers.some((r) => r.method === "fullnat") || s.sorryServer?.method === "fullnat";
}

function editServiceChanges(from: ServiceConfig, to: ServiceConfig): Change[] {
  const key = keyOf(to);
  const name = serviceName(to);
  const out: Change[] = [];

  // New local addresses and servers go in before old ones leave, so the service never has
  // fewer of either in between than at both ends. Local addresses serve FULLNAT servers only,
  // and a service whose servers are all DR or TUNNEL may not hold any (mode_settings.ts): so
  // they leave first when no FULLNAT server stays, and come last when none was there.
  const oldLa = new Set(from.localAddresses);
  const newLa = new Set(to.localAddresses);
  const laddrsIn: Change[] = [];
  for (const l of to.localAddresses) {
    if (!oldLa.has(l)) {
      laddrsIn.push({ text: `+ laddr ${l} in ${name}`, run: (t) => t.addLocalAddress(key, l) });
    }
  }
  const laddrsOut: Change[] = [];
  for (const l of from.localAddresses) {
    if (!newLa.has(l)) {
      laddrsOut.push({
        text: `- laddr ${l} in ${name}`,
        run: (t) => t.deleteLocalAddress(key, l),
      });
    }
  }
  const early = hasFullnat(from);
  const kept = hasFullnat(to);
  if (!kept) out.push(...laddrsOut);

  const edits: Partial<ServiceOptions> = {};
  const words: string[] = [];
  for (const k of OPTION_KEYS) {
    const before = optionOf(from, k);
    const after = optionOf(to, k);
    if (JSON.stringify(before) === JSON.stringify(after)) continue;
    // Leaving mh resets the table size; only an mh service may be given one.
    if (k === "mhTableSize" && to.scheduler !== "mh") continue;
    (edits as Record<string, unknown>)[k] = k === "timeouts"
      ? timeoutEdit(from.timeouts, to.timeouts)
      : after;
    const show = (v: unknown) =>
      typeof v === "boolean"
        ? onOff(v)
        : Array.isArray(v)
        ? v.join(",") || "none"
        : typeof v === "object" && v !== null
        ? timeoutWords(v as Partial<Timeouts>)
        : String(v);
    words.push(`${k} ${show(before)} -> ${show(after)}`);
  }
  // A sorry server that takes the place of a real server leaving the service changes after
  // the server has left (the two may not share an endpoint); any other goes first, so a
  // former sorry server may come back as a real server.
  let lateSorry: Change | undefined;
  if (!sameSorry(from.sorryServer, to.sorryServer)) {
    const sorry = to.sorryServer === undefined ? null : { ...to.sorryServer };
    const text = `sorryServer ${sorryName(from.sorryServer)} -> ${sorryName(to.sorryServer)}`;
    if (sorry !== null && from.realServers.some((r) => rsName(r) === rsName(sorry))) {
      lateSorry = {
        text: `~ service ${name} ${text}`,
        run: (t) => t.editService(key, { sorryServer: sorry }),
      };
    } else {
      edits.sorryServer = sorry;
      words.push(text);
    }
  }
  if (words.length > 0) {
    out.push({
      text: `~ service ${name} ${words.join(", ")}`,
      run: (t) => t.editService(key, edits),
    });
  }
  if (early) out.push(...laddrsIn);

  const oldRs = new Map(from.realServers.map((r) => [rsName(r), r]));
  const newRs = new Set(to.realServers.map(rsName));
  for (const r of to.realServers) {
    const before = oldRs.get(rsName(r));
    if (before === undefined) {
      out.push({ text: addServerText(r, name), run: (t) => t.addRealServer(key, rsSpec(r)) });
      continue;
    }
    const edit: Partial<RealServerSpec> & { address: string; port: number } = {
      address: r.address,
      port: r.port,
    };
    const rsWords: string[] = [];
    if (before.weight !== r.weight) {
      edit.weight = r.weight;
      rsWords.push(`weight ${before.weight} -> ${r.weight}`);
    }
    if (before.method !== r.method) {
      edit.method = r.method;
      rsWords.push(`method ${before.method} -> ${r.method}`);
    }
    // The whole encapsulation is given: the engine keeps a server's other tunnel options
    // only while the type stays.
    if (r.method === "tunnel" && tunnelWords(before) !== tunnelWords(r)) {
      edit.tunnelType = r.tunnelType ?? DEFAULT_TUNNEL_TYPE;
      if (r.tunnelPort !== undefined) edit.tunnelPort = r.tunnelPort;
      edit.tunnelChecksum = r.tunnelChecksum ?? false;
      rsWords.push(`tunnel ${tunnelWords(before)} -> ${tunnelWords(r)}`);
    }
    for (const k of ["upperThreshold", "lowerThreshold"] as const) {
      const [was, is] = [before[k] ?? 0, r[k] ?? 0];
      if (was !== is) {
        edit[k] = is;
        rsWords.push(`${k} ${was} -> ${is}`);
      }
    }
    const [inhibitBefore, inhibit] = [
      before.inhibitOnFailure ?? false,
      r.inhibitOnFailure ?? false,
    ];
    if (inhibitBefore !== inhibit) {
      edit.inhibitOnFailure = inhibit;
      rsWords.push(`inhibitOnFailure ${onOff(inhibitBefore)} -> ${onOff(inhibit)}`);
    }
    const [checksBefore, checks] = [before.checks ?? [], r.checks ?? []];
    if (!sameChecks(checksBefore, checks)) {
      edit.checks = checks.map((c) => structuredClone(c));
      rsWords.push(`checks ${describeChecks(checksBefore)} -> ${describeChecks(checks)}`);
    }
    if (rsWords.length > 0) {
      out.push({
        text: `~ rs ${rsName(r)} ${rsWords.join(", ")} in ${name}`,
        run: (t) => t.editRealServer(key, edit),
      });
    }
  }
  for (const r of from.realServers) {
    if (!newRs.has(rsName(r))) {
      const ep = { address: r.address, port: r.port };
      out.push({ text: `- rs ${rsName(r)} in ${name}`, run: (t) => t.deleteRealServer(key, ep) });
    }
  }
  if (!early) out.push(...laddrsIn);
  if (kept) out.push(...laddrsOut);
  if (lateSorry) out.push(lateSorry);
  return out;
}

/**
 * The steps that turn configuration `from` into `to`, in the order they must run: the box's
 * network, timeouts,
 * tunables, removed services, then each wanted service (added whole, or edited in place), then
 * the sync daemons (so a backup finds its services in place). Both documents must be valid;
 * the order of entries is not compared.
 */
export function planChanges(from: ConfigDocument, to: ConfigDocument): Change[] {
  const out: Change[] = [];
  // The box's own network first, as one step (applied all or nothing by the host network):
  // the services' VIPs and local addresses are bound on its interfaces afterwards.
  if (!sameNetwork(from.network, to.network)) {
    const next = to.network ?? emptyNetwork();
    const lines = describeNetworkChanges(from.network ?? emptyNetwork(), next);
    const [text, ...more] = lines.length > 0 ? lines : ["~ network"];
    out.push({ text, more, run: (_t, _s, network) => needNetwork(network).apply(next) });
  }
  const t = timeoutChange(from.timeouts, to.timeouts);
  if (t) out.push(t);
  const tu = tunableChange(from.tunables, to.tunables);
  if (tu) out.push(tu);
  const before = new Map(from.services.map((s) => [serviceName(s), s]));
  const wanted = new Set(to.services.map(serviceName));
  for (const s of from.services) {
    if (!wanted.has(serviceName(s))) {
      const key = keyOf(s);
      out.push({ text: `- service ${serviceName(s)}`, run: (t) => t.deleteService(key) });
    }
  }
  for (const s of to.services) {
    const old = before.get(serviceName(s));
    out.push(...(old === undefined ? addServiceChanges(s) : editServiceChanges(old, s)));
  }
  for (const c of planSync(from.sync ?? [], to.sync ?? [])) {
    out.push({ text: c.text, run: (_t, sync) => c.run(needSync(sync)) });
  }
  return out;
}
