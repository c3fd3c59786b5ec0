/**
 * The edits the shell's `interface`, `route`, `dns` and `ntp` commands make to the `network`
 * section of the configuration (its text form, as the daemon's `networkGet` gives it). Pure:
 * each takes the section and returns the changed copy, or throws a UsageError saying why the
 * edit makes no sense (an address that is not there, a route already there). The daemon then
 * validates and applies the section as a whole (`networkApply`).
 *
 * @module
 */
import { formatPrefix, isNetworkAddress, parsePrefix } from "../vocab/prefix.ts";
import { canonicalAddress } from "../vocab/address.ts";
import { UsageError } from "./errors.ts";

/** One interface in the text form. */
export interface InterfaceText {
  addresses?: string[];
  mtu?: number;
  up?: boolean;
}

/** One route in the text form. */
export interface RouteText {
  to: string;
  via?: string;
  dev?: string;
  metric?: number;
}

/** The `network` section's text form. */
export interface NetworkText {
  management?: string;
  interfaces?: Record<string, InterfaceText>;
  routes?: RouteText[];
  dns?: { servers: string[]; search?: string[] };
  ntp?: { servers: string[] };
  vips?: Record<string, string[]>;
  localAddresses?: Record<string, string[]>;
}

/** `ADDRESS/LEN` in canonical form, or a UsageError. */
export function parseCidr(text: string): string {
  const r = parsePrefix(text);
  if (!r.ok) throw new UsageError(r.message);
  return formatPrefix(r.prefix);
}

/** A route destination: `default` or a network in canonical form. */
export function parseDestination(text: string): string {
  if (text === "default") return text;
  const r = parsePrefix(text);
  if (!r.ok) throw new UsageError(`${r.message} (or write 'default')`);
  if (!isNetworkAddress(r.prefix)) {
    throw new UsageError(`${text} has host bits set; a route names a network, e.g. 10.0.0.0/8`);
  }
  return formatPrefix(r.prefix);
}

const copy = (s: NetworkText): NetworkText => structuredClone(s);

/** Adds `cidr` to interface `name` (configuring the interface if it was not). */
export function addAddress(section: NetworkText, name: string, cidr: string): NetworkText {
  const out = copy(section);
  const iface = (out.interfaces ??= {})[name] ??= {};
  const addresses = iface.addresses ?? [];
  const address = cidr.split("/")[0];
  if (addresses.some((a) => a.split("/")[0] === address)) {
    throw new UsageError(`${address} is already configured on ${name}`);
  }
  iface.addresses = [...addresses, cidr];
  return out;
}

/** Takes `cidr` (or its bare address) off interface `name`. */
export function deleteAddress(section: NetworkText, name: string, cidr: string): NetworkText {
  const out = copy(section);
  const iface = out.interfaces?.[name];
  const address = cidr.split("/")[0];
  const kept = (iface?.addresses ?? []).filter((a) => a.split("/")[0] !== address);
  if (iface === undefined || kept.length === (iface.addresses ?? []).length) {
    throw new UsageError(
      `${cidr} is not configured on ${name} (see: interface show ${name})`,
    );
  }
  if (kept.length > 0) iface.addresses = kept;
  else delete iface.addresses;
  return out;
}

/** Sets interface `name`'s MTU and/or link state (configuring it if it was not). */
export function setInterface(
  section: NetworkText,
  name: string,
  settings: { mtu?: number; up?: boolean },
): NetworkText {
  if (settings.mtu === undefined && settings.up === undefined) {
    throw new UsageError("nothing to change: give --mtu N, --up or --down");
  }
  const out = copy(section);
  const iface = (out.interfaces ??= {})[name] ??= {};
  if (settings.mtu !== undefined) iface.mtu = settings.mtu;
  if (settings.up === true) delete iface.up;
  if (settings.up === false) iface.up = false;
  return out;
}

const sameRoute = (a: RouteText, to: string, metric: number | undefined) =>
  a.to === to && (a.metric ?? 0) === (metric ?? 0);

/** Adds a route; one to the same destination with the same metric is refused. */
export function addRoute(section: NetworkText, route: RouteText): NetworkText {
  if (route.via === undefined && route.dev === undefined) {
    throw new UsageError("a route needs --via GATEWAY, --dev INTERFACE, or both");
  }
  const out = copy(section);
  const routes = out.routes ?? [];
  if (routes.some((r) => sameRoute(r, route.to, route.metric))) {
    throw new UsageError(
      `a route to ${route.to}${
        route.metric !== undefined ? ` with metric ${route.metric}` : ""
      } is already configured; delete it first (route delete ${route.to})`,
    );
  }
  out.routes = [...routes, route];
  return out;
}

/** Deletes the route to `to` (with `metric`, when several differ by it). */
export function deleteRoute(section: NetworkText, to: string, metric?: number): NetworkText {
  const out = copy(section);
  const routes = out.routes ?? [];
  const matches = routes.filter((r) =>
    r.to === to && (metric === undefined || (r.metric ?? 0) === metric)
  );
  if (matches.length === 0) throw new UsageError(`no configured route to ${to} (see: route list)`);
  if (matches.length > 1) {
    throw new UsageError(`${matches.length} routes to ${to} differ by metric; give --metric N`);
  }
  const kept = routes.filter((r) => r !== matches[0]);
  if (kept.length > 0) out.routes = kept;
  else delete out.routes;
  return out;
}

/** Sets the name servers and search domains; none of either clears `dns`. */
export function setDns(section: NetworkText, servers: string[], search: string[]): NetworkText {
  const out = copy(section);
  if (servers.length === 0 && search.length === 0) delete out.dns;
  else out.dns = { servers: servers.map(canonicalOrThrow), ...(search.length > 0 && { search }) };
  return out;
}

/** Sets the NTP servers; none clears `ntp`. */
export function setNtp(section: NetworkText, servers: string[]): NetworkText {
  const out = copy(section);
  if (servers.length === 0) delete out.ntp;
  else out.ntp = { servers };
  return out;
}

function canonicalOrThrow(text: string): string {
  const a = canonicalAddress(text);
  if (a === undefined) {
    throw new UsageError(`'${text}' is not an IP address (name servers are given by address)`);
  }
  return a;
}
