/**
 * The configuration document's `network` section: the box's own interfaces, addresses, routes,
 * DNS and NTP servers, and the VIPs and local addresses it must answer ARP/ND for, in the same
 * shape as a provisioning file's `network` section (one validator, src/provision/
 * validate_network.ts, serves both, so a seed's section maps 1:1 onto the document's).
 *
 * The section is not engine state: the daemon's host network (src/hostnet/host_network.ts)
 * holds it, applies it with iproute2 and writes the boot-time files, reached through
 * {@linkcode NetworkOps} as the sync daemons are through their ops. In the text form the fields
 * at their defaults are left out (`management` eth0, `up` true, empty lists, absent `mtu`,
 * `dns`, `ntp`), and the whole section when nothing is configured.
 *
 * @module
 */
import { ControlError } from "../fullnat/types.ts";
import { formatPath, Problems } from "../provision/problems.ts";
import {
  DEFAULT_MANAGEMENT_INTERFACE,
  type HostAddress,
  type NetworkConfig,
  type RouteConfig,
} from "../provision/types.ts";
import { validateNetwork } from "../provision/validate_network.ts";
import { formatPrefix, prefixContains } from "../vocab/prefix.ts";
import { managementInterface } from "../provision/types.ts";
import type { Checker } from "./document.ts";

export type {
  Cidr,
  DnsConfig,
  HostAddress,
  InterfaceConfig,
  NetworkConfig,
  NtpConfig,
  RouteConfig,
} from "../provision/types.ts";
export {
  DEFAULT_MANAGEMENT_INTERFACE,
  managementAddresses,
  managementInterface,
} from "../provision/types.ts";

/** What the document needs of the box's host network. */
export interface NetworkOps {
  /** The section as configured now (what the daemon applied or holds). */
  current(): NetworkConfig;
  /**
   * Every problem applying `next` (with the services `services`) would meet, before anything
   * changes: interfaces this box lacks, VIPs and local addresses it could not own. `before`
   * is the running document's, so addresses already unowned are not held against a change.
   */
  check(next: Pick<DocumentLike, "network" | "services">, before: DocumentLike): Promise<string[]>;
  /** Makes the box run `next`, all or nothing (a failure puts the previous one back). */
  apply(next: NetworkConfig): Promise<void>;
  /**
   * Applies the stored section at start: the management port on its own and first, then the
   * rest; logs what fails and never throws (the section stays configured as stored).
   */
  restore(net: NetworkConfig): Promise<void>;
  /**
   * Refuses (a ControlError naming the address and what to do) an address a service is about
   * to use as its VIP or local address that the box could not own.
   */
  admit(address: string, what: string): Promise<void>;
}

/** The parts of a configuration document the network checks read. */
export interface DocumentLike {
  network?: NetworkConfig;
  services: readonly {
    protocol: string;
    address: string;
    port: number;
    localAddresses: readonly string[];
  }[];
}

/** No interface, route, name or time server, VIP or local address. */
export function emptyNetwork(): NetworkConfig {
  return { interfaces: [], routes: [], vips: [], localAddresses: [] };
}

/** Checks the `network` section (none when left out), each problem at its path. */
export function checkNetworkSection(c: Checker, v: unknown): NetworkConfig | undefined {
  if (v === undefined) return emptyNetwork();
  const problems = new Problems(["network"]);
  const net = validateNetwork(v, problems);
  for (const p of problems.list) c.problem(formatPath(p.path), p.message);
  return net;
}

function hostAddressesText(list: readonly HostAddress[]): Record<string, string[]> | undefined {
  if (list.length === 0) return undefined;
  const out: Record<string, string[]> = {};
  for (const a of list) (out[a.interface] ??= []).push(a.address);
  return out;
}

/** A route in the text form: the fields given, `family` left out (the addresses tell it). */
export function routeText(r: RouteConfig): Record<string, unknown> {
  return {
    to: r.to,
    ...(r.via !== undefined && { via: r.via }),
    ...(r.dev !== undefined && { dev: r.dev }),
    ...(r.metric !== undefined && { metric: r.metric }),
  };
}

/**
 * The section's text form (what `config export` writes under `network`), or undefined when
 * nothing is configured. Validating it gives `net` back.
 */
export function networkText(net: NetworkConfig | undefined): Record<string, unknown> | undefined {
  if (net === undefined || isEmptyNetwork(net)) return undefined;
  const interfaces: Record<string, unknown> = {};
  for (const i of net.interfaces) {
    interfaces[i.name] = {
      ...(i.addresses.length > 0 && { addresses: i.addresses.map(formatPrefix) }),
      ...(i.mtu !== undefined && { mtu: i.mtu }),
      ...(!i.up && { up: false }),
    };
  }
  const vips = hostAddressesText(net.vips);
  const localAddresses = hostAddressesText(net.localAddresses);
  return {
    ...(net.management !== undefined && net.management !== DEFAULT_MANAGEMENT_INTERFACE &&
      { management: net.management }),
    ...(net.interfaces.length > 0 && { interfaces }),
    ...(net.routes.length > 0 && { routes: net.routes.map(routeText) }),
    ...(net.dns !== undefined && {
      dns: {
        servers: [...net.dns.servers],
        ...(net.dns.search.length > 0 && { search: [...net.dns.search] }),
      },
    }),
    ...(net.ntp !== undefined && { ntp: { servers: [...net.ntp.servers] } }),
    ...(vips && { vips }),
    ...(localAddresses && { localAddresses }),
  };
}

/** True when the section configures nothing (it is left out of the text form). */
export function isEmptyNetwork(net: NetworkConfig): boolean {
  return (net.management === undefined || net.management === DEFAULT_MANAGEMENT_INTERFACE) &&
    net.interfaces.length === 0 && net.routes.length === 0 && net.dns === undefined &&
    net.ntp === undefined && net.vips.length === 0 && net.localAddresses.length === 0;
}

/** True when the two sections configure the same (order of entries aside). */
export function sameNetwork(a: NetworkConfig | undefined, b: NetworkConfig | undefined): boolean {
  return networkKey(a ?? emptyNetwork()) === networkKey(b ?? emptyNetwork());
}

/** A comparable text of a section, its entries in sorted order. */
function networkKey(net: NetworkConfig): string {
  const t = networkText(net) ?? {};
  const sortRecord = (r: unknown) =>
    r === undefined ? undefined : Object.fromEntries(
      Object.entries(r as Record<string, string[]>).sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, [...v].sort()]),
    );
  return JSON.stringify({
    ...t,
    ...(t.interfaces !== undefined && {
      interfaces: Object.fromEntries(
        Object.entries(t.interfaces as Record<string, { addresses?: string[] }>)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => [k, { ...v, addresses: [...(v.addresses ?? [])].sort() }]),
      ),
    }),
    ...(t.routes !== undefined && {
      routes: (t.routes as unknown[]).map((r) => JSON.stringify(r)).sort(),
    }),
    vips: sortRecord(t.vips),
    localAddresses: sortRecord(t.localAddresses),
  });
}

/** `default via 198.51.100.254 dev eth0 metric 10`. */
export function describeRoute(r: RouteConfig): string {
  return [
    r.to,
    ...(r.via !== undefined ? ["via", r.via] : []),
    ...(r.dev !== undefined ? ["dev", r.dev] : []),
    ...(r.metric !== undefined ? ["metric", String(r.metric)] : []),
  ].join(" ");
}

const routeKey = (r: RouteConfig) => `${r.family} ${r.to} ${r.metric ?? 0}`;

/**
 * The change lines from section `from` to `to` (`+ address 192.0.2.1/24 on eth1`,
 * `~ interface eth1 mtu 1500 -> 9000`, `- route 10.0.0.0/8 via 192.0.2.254`, ...); empty when
 * they configure the same.
 */
export function describeNetworkChanges(from: NetworkConfig, to: NetworkConfig): string[] {
  const out: string[] = [];
  const mgmt = (n: NetworkConfig) => n.management ?? DEFAULT_MANAGEMENT_INTERFACE;
  if (mgmt(from) !== mgmt(to)) out.push(`~ network management ${mgmt(from)} -> ${mgmt(to)}`);
  const before = new Map(from.interfaces.map((i) => [i.name, i]));
  const after = new Map(to.interfaces.map((i) => [i.name, i]));
  for (const i of from.interfaces) {
    if (!after.has(i.name)) out.push(`- interface ${i.name}`);
  }
  for (const i of to.interfaces) {
    const was = before.get(i.name);
    if (was === undefined) {
      const words = [
        ...(i.mtu !== undefined ? [`mtu ${i.mtu}`] : []),
        ...(i.up ? [] : ["down"]),
      ];
      out.push(`+ interface ${i.name}${words.length > 0 ? ` ${words.join(" ")}` : ""}`);
    } else {
      const words: string[] = [];
      if (was.mtu !== i.mtu) words.push(`mtu ${was.mtu ?? "unset"} -> ${i.mtu ?? "unset"}`);
      if (was.up !== i.up) words.push(`${was.up ? "up" : "down"} -> ${i.up ? "up" : "down"}`);
      if (words.length > 0) out.push(`~ interface ${i.name} ${words.join(", ")}`);
    }
    const had = new Set((was?.addresses ?? []).map(formatPrefix));
    const has = new Set(i.addresses.map(formatPrefix));
    for (const a of had) if (!has.has(a)) out.push(`- address ${a} on ${i.name}`);
    for (const a of has) if (!had.has(a)) out.push(`+ address ${a} on ${i.name}`);
  }
  for (const i of from.interfaces) {
    if (after.has(i.name)) continue;
    for (const a of i.addresses) out.push(`- address ${formatPrefix(a)} on ${i.name}`);
  }
  const oldRoutes = new Map(from.routes.map((r) => [routeKey(r), r]));
  const newRoutes = new Map(to.routes.map((r) => [routeKey(r), r]));
  for (const [k, r] of oldRoutes) if (!newRoutes.has(k)) out.push(`- route ${describeRoute(r)}`);
  for (const [k, r] of newRoutes) {
    const was = oldRoutes.get(k);
    if (was === undefined) out.push(`+ route ${describeRoute(r)}`);
    else if (describeRoute(was) !== describeRoute(r)) {
      out.push(`~ route ${describeRoute(was)} -> ${describeRoute(r)}`);
    }
  }
  const list = (v: readonly string[] | undefined) =>
    v === undefined ? "unset" : v.join(",") || "none";
  if (JSON.stringify(from.dns) !== JSON.stringify(to.dns)) {
    if (list(from.dns?.servers) !== list(to.dns?.servers)) {
      out.push(`~ dns servers ${list(from.dns?.servers)} -> ${list(to.dns?.servers)}`);
    }
    if (list(from.dns?.search) !== list(to.dns?.search)) {
      out.push(`~ dns search ${list(from.dns?.search)} -> ${list(to.dns?.search)}`);
    }
  }
  if (list(from.ntp?.servers) !== list(to.ntp?.servers)) {
    out.push(`~ ntp servers ${list(from.ntp?.servers)} -> ${list(to.ntp?.servers)}`);
  }
  for (
    const [kind, a, b] of [["vip", from.vips, to.vips], [
      "local address",
      from.localAddresses,
      to.localAddresses,
    ]] as const
  ) {
    const key = (h: HostAddress) => `${h.address} on ${h.interface}`;
    const had = new Set(a.map(key));
    const has = new Set(b.map(key));
    for (const k of had) if (!has.has(k)) out.push(`- ${kind} ${k}`);
    for (const k of has) if (!had.has(k)) out.push(`+ ${kind} ${k}`);
  }
  return out;
}

/**
 * The part of `net` the management port needs, applied on its own and first: the `management`
 * name, its interface, the routes through it (its `dev`, or a gateway on its subnets), DNS and
 * NTP. No VIPs or local addresses.
 */
export function managementSlice(net: NetworkConfig): NetworkConfig {
  const mgmt = managementInterface(net);
  const iface = net.interfaces.find((i) => i.name === mgmt);
  const subnets = iface?.addresses ?? [];
  return {
    ...(net.management !== undefined && { management: net.management }),
    interfaces: iface === undefined ? [] : [structuredClone(iface)],
    routes: net.routes.filter((r) =>
      r.dev === mgmt ||
      (r.dev === undefined && r.via !== undefined && subnets.some((a) => prefixContains(a, r.via!)))
    ).map((r) => ({ ...r })),
    ...(net.dns !== undefined && { dns: structuredClone(net.dns) }),
    ...(net.ntp !== undefined && { ntp: structuredClone(net.ntp) }),
    vips: [],
    localAddresses: [],
  };
}

/** The network ops, or the error of a target that has none (a bare engine, a remote client). */
export function needNetwork(network: NetworkOps | undefined): NetworkOps {
  if (network !== undefined) return network;
  throw new ControlError(
    "invalid-argument",
    "the box's network is configured by the fullnat daemon; this target has none",
  );
}
