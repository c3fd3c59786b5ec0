/**
 * Validation of the `network` section: interfaces with their addresses, MTU and link state,
 * static routes, and the VIPs and local addresses the box must answer ARP/ND for.
 *
 * @module
 */

import {
  formatPrefix,
  isNetworkAddress,
  parseAddress,
  type ParsedAddress,
  parsePrefix,
} from "../vocab/mod.ts";
import type { Problems } from "./problems.ts";
import { bool, describe, isMapping, list, mapping, text, wholeNumber } from "./shape.ts";
import type {
  DnsConfig,
  HostAddress,
  InterfaceConfig,
  NetworkConfig,
  NtpConfig,
  RouteConfig,
} from "./types.ts";

const NETWORK_KEYS = [
  "management",
  "interfaces",
  "routes",
  "dns",
  "ntp",
  "vips",
  "localAddresses",
] as const;
const DNS_KEYS = ["servers", "search"] as const;
const NTP_KEYS = ["servers"] as const;
/** resolv.conf reads at most 3 name servers and 6 search domains; more are silently ignored. */
const MAX_DNS_SERVERS = 3;
const MAX_SEARCH_DOMAINS = 6;
const HOST_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** A DNS name (a search domain, an NTP server's name): dot-separated labels, 253 at most. */
function isDnsName(name: string): boolean {
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  return trimmed.length > 0 && trimmed.length <= 253 &&
    trimmed.split(".").every((l) => HOST_LABEL.test(l));
}
const INTERFACE_KEYS = ["addresses", "mtu", "up"] as const;
const ROUTE_KEYS = ["to", "via", "dev", "metric"] as const;

/** Linux interface names: 1-15 bytes, no '/', ':' or white space, not "." or "..". */
export function interfaceNameProblem(name: string): string | undefined {
  if (name === "" || name.length > 15) return "interface names are 1 to 15 characters long";
  if (/[\s/:]/.test(name)) return "interface names contain no spaces, '/' or ':'";
  if (name === "." || name === "..") return `${JSON.stringify(name)} is not an interface name`;
  return undefined;
}

function validateInterface(
  name: string,
  value: unknown,
  problems: Problems,
): InterfaceConfig | undefined {
  const nameProblem = interfaceNameProblem(name);
  if (nameProblem) problems.add([], nameProblem);
  // `eth1: {}` and `eth1:` (null) both mean "just bring it up".
  const m = mapping(value ?? {}, problems, INTERFACE_KEYS);
  if (m === undefined) return undefined;
  const out: InterfaceConfig = { name, addresses: [], up: true };
  if (m.addresses !== undefined) {
    const items = list(m.addresses, problems.at("addresses")) ?? [];
    const seen = new Set<string>();
    items.forEach((item, i) => {
      const p = problems.at("addresses", i);
      const t = text(item, p, "an address with prefix length such as 192.0.2.1/24");
      if (t === undefined) return;
      const parsed = parsePrefix(t);
      if (!parsed.ok) return p.add([], parsed.message);
      if (seen.has(parsed.prefix.address)) return p.add([], `${t} is listed twice`);
      seen.add(parsed.prefix.address);
      out.addresses.push(parsed.prefix);
    });
  }
  if (m.mtu !== undefined) {
    // 68 is IPv4's minimum; IPv6 needs 1280 on any link that carries it.
    const min = out.addresses.some((a) => a.family === 6) ? 1280 : 68;
    out.mtu = wholeNumber(m.mtu, problems.at("mtu"), min, 65535);
  }
  if (m.up !== undefined) out.up = bool(m.up, problems.at("up")) ?? true;
  return out;
}

function validateRoute(value: unknown, problems: Problems): RouteConfig | undefined {
  const m = mapping(value, problems, ROUTE_KEYS);
  if (m === undefined) return undefined;
  let route: RouteConfig | undefined;
  const to = m.to === undefined
    ? (problems.add(["to"], "missing; give the destination network or 'default'"), undefined)
    : text(m.to, problems.at("to"), "a network such as 10.0.0.0/8, or 'default'");
  let via: ParsedAddress | undefined;
  if (m.via !== undefined) {
    const t = text(m.via, problems.at("via"), "a gateway address");
    if (t !== undefined) {
      via = parseAddress(t);
      if (via === undefined) problems.add(["via"], `${JSON.stringify(t)} is not an IP address`);
    }
  }
  if (to === "default") {
    route = { to: "default", family: via?.family ?? 4 };
  } else if (to !== undefined) {
    const parsed = parsePrefix(to);
    if (!parsed.ok) problems.add(["to"], `${parsed.message} (or write 'default')`);
    else if (!isNetworkAddress(parsed.prefix)) {
      problems.add(
        ["to"],
        `${to} has host bits set; a route names a network (e.g. the address with the host part zero)`,
      );
    } else route = { to: formatPrefix(parsed.prefix), family: parsed.prefix.family };
  }
  if (route !== undefined && via !== undefined && via.family !== route.family) {
    problems.add(["via"], `gateway ${via.address} is not of the same IP version as ${to}`);
  }
  let dev: string | undefined;
  if (m.dev !== undefined) {
    dev = text(m.dev, problems.at("dev"), "an interface name");
    const why = dev === undefined ? undefined : interfaceNameProblem(dev);
    if (why) problems.add(["dev"], why);
  }
  if (m.via === undefined && m.dev === undefined) {
    problems.add([], "a route needs 'via' (a gateway), 'dev' (an interface), or both");
  }
  const metric = m.metric === undefined
    ? undefined
    : wholeNumber(m.metric, problems.at("metric"), 0, 0xffffffff);
  if (route === undefined) return undefined;
  return {
    ...route,
    ...(via ? { via: via.address } : {}),
    ...(dev ? { dev } : {}),
    ...(metric !== undefined ? { metric } : {}),
  };
}

/**
 * `vips` and `localAddresses` (here and in the `ha` section): interface name to a list of bare
 * addresses; `seen` holds the addresses listed before, each with where.
 */
export function validateHostAddresses(
  value: unknown,
  problems: Problems,
  what: string,
  seen: Map<string, string>,
): HostAddress[] {
  const out: HostAddress[] = [];
  if (value === undefined) return out;
  if (!isMapping(value)) {
    problems.add([], `must map interface names to lists of addresses, not ${describe(value)}`);
    return out;
  }
  for (const [iface, addresses] of Object.entries(value)) {
    const p = problems.at(iface);
    const nameProblem = interfaceNameProblem(iface);
    if (nameProblem) p.add([], nameProblem);
    const items = list(addresses, p) ?? [];
    items.forEach((item, i) => {
      const ip = p.at(i);
      const t = text(item, ip, `a ${what} address`);
      if (t === undefined) return;
      if (t.includes("/")) {
        return ip.add(
          [],
          `give the bare address (${
            t.split("/")[0]
          }); ${what} addresses are assigned as /32 (/128)`,
        );
      }
      const addr = parseAddress(t);
      if (addr === undefined) return ip.add([], `${JSON.stringify(t)} is not an IP address`);
      const earlier = seen.get(addr.address);
      if (earlier !== undefined) return ip.add([], `${addr.address} is already listed ${earlier}`);
      seen.set(addr.address, `under ${what === "VIP" ? "vips" : "localAddresses"}.${iface}`);
      out.push({ address: addr.address, family: addr.family, interface: iface });
    });
  }
  return out;
}

function validateDns(value: unknown, problems: Problems): DnsConfig | undefined {
  const m = mapping(value, problems, DNS_KEYS);
  if (m === undefined) return undefined;
  const out: DnsConfig = { servers: [], search: [] };
  const servers = m.servers === undefined ? [] : list(m.servers, problems.at("servers")) ?? [];
  if (servers.length > MAX_DNS_SERVERS) {
    problems.add(
      ["servers"],
      `at most ${MAX_DNS_SERVERS} name servers (the resolver asks no more), not ${servers.length}`,
    );
  }
  servers.forEach((item, i) => {
    const p = problems.at("servers", i);
    const t = text(item, p, "a name server address");
    if (t === undefined) return;
    const addr = parseAddress(t);
    if (addr === undefined) return p.add([], `${JSON.stringify(t)} is not an IP address`);
    if (out.servers.includes(addr.address)) return p.add([], `${t} is listed twice`);
    out.servers.push(addr.address);
  });
  const search = m.search === undefined ? [] : list(m.search, problems.at("search")) ?? [];
  if (search.length > MAX_SEARCH_DOMAINS) {
    problems.add(["search"], `at most ${MAX_SEARCH_DOMAINS} search domains, not ${search.length}`);
  }
  search.forEach((item, i) => {
    const p = problems.at("search", i);
    const t = text(item, p, "a domain name");
    if (t === undefined) return;
    if (!isDnsName(t)) {
      return p.add([], `${JSON.stringify(t)} is not a domain name (letters, digits, '-', dots)`);
    }
    out.search.push(t);
  });
  return out;
}

function validateNtp(value: unknown, problems: Problems): NtpConfig | undefined {
  const m = mapping(value, problems, NTP_KEYS);
  if (m === undefined) return undefined;
  const out: NtpConfig = { servers: [] };
  const servers = m.servers === undefined ? [] : list(m.servers, problems.at("servers")) ?? [];
  servers.forEach((item, i) => {
    const p = problems.at("servers", i);
    const t = text(item, p, "an NTP server's name or address");
    if (t === undefined) return;
    const addr = parseAddress(t);
    const name = addr?.address ?? t;
    if (addr === undefined && !isDnsName(t)) {
      return p.add([], `${JSON.stringify(t)} is neither an IP address nor a host name`);
    }
    if (out.servers.includes(name)) return p.add([], `${t} is listed twice`);
    out.servers.push(name);
  });
  return out;
}

/** Validates the `network` section; undefined when it has problems (recorded in `problems`). */
export function validateNetwork(value: unknown, problems: Problems): NetworkConfig | undefined {
  const before = problems.list.length;
  const m = mapping(value, problems, NETWORK_KEYS);
  if (m === undefined) return undefined;
  const out: NetworkConfig = { interfaces: [], routes: [], vips: [], localAddresses: [] };
  if (m.management !== undefined) {
    const p = problems.at("management");
    const name = text(m.management, p, "the management port's interface name");
    const why = name === undefined ? undefined : interfaceNameProblem(name);
    if (why) p.add([], why);
    else if (name !== undefined) out.management = name;
  }
  if (m.interfaces !== undefined) {
    const p = problems.at("interfaces");
    const ifaces = m.interfaces;
    if (!isMapping(ifaces)) {
      p.add([], `must map interface names to their settings, not ${describe(ifaces)}`);
    } else {
      for (const [name, settings] of Object.entries(ifaces)) {
        const cfg = validateInterface(name, settings, p.at(name));
        if (cfg) out.interfaces.push(cfg);
      }
    }
  }
  if (m.routes !== undefined) {
    const items = list(m.routes, problems.at("routes")) ?? [];
    items.forEach((item, i) => {
      const r = validateRoute(item, problems.at("routes", i));
      if (r) out.routes.push(r);
    });
  }
  if (out.management !== undefined && !out.interfaces.some((i) => i.name === out.management)) {
    problems.add(
      ["management"],
      `${out.management} is not under interfaces; configure the management port there ` +
        `(interfaces.${out.management}.addresses)`,
    );
  }
  if (m.dns !== undefined) out.dns = validateDns(m.dns, problems.at("dns"));
  if (m.ntp !== undefined) out.ntp = validateNtp(m.ntp, problems.at("ntp"));
  const seen = new Map<string, string>();
  for (const iface of out.interfaces) {
    for (const a of iface.addresses) seen.set(a.address, `under interfaces.${iface.name}`);
  }
  out.vips = validateHostAddresses(m.vips, problems.at("vips"), "VIP", seen);
  out.localAddresses = validateHostAddresses(
    m.localAddresses,
    problems.at("localAddresses"),
    "local",
    seen,
  );
  return problems.list.length === before ? out : undefined;
}
