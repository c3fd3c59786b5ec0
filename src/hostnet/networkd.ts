/**
 * The boot-time files of the box's network, so it comes up configured at boot before (and
 * without) the daemon: one systemd-networkd `.network` file per interface that has anything
 * configured or bound (`network/10-fullnat-NAME.network`), and drop-ins for systemd-resolved
 * (`resolved.conf.d/fullnat.conf`: DNS, search domains) and systemd-timesyncd
 * (`timesyncd.conf.d/fullnat.conf`: NTP). Paths are relative to systemd's configuration
 * directory (`/etc/systemd`). Pure: the same configuration gives the same bytes (golden files
 * in tests/unit/hostnet/golden/).
 *
 * Every file keeps what is on the link at networkd's start (`KeepConfiguration=static`), so a
 * restart of networkd does not take away keepalived's floating addresses, and configures the
 * link without carrier (a VIP answers as soon as the cable is in).
 *
 * @module
 */
import type { HostAddress, NetworkConfig, RouteConfig } from "../provision/types.ts";
import { managementInterface } from "../provision/types.ts";
import { formatPrefix, prefixContains } from "../vocab/prefix.ts";

/** Prefix of the files this module writes; the writer removes stale ones by it. */
export const FILE_PREFIX = "10-fullnat-";

const HEADER = [
  "# Written by the fullnat daemon from its stored configuration (the network section);",
  "# edits here are overwritten. Change it from the fullnat shell (interface, route, dns, ntp)",
  "# or with config apply.",
];

/** The interface a route's file goes in: its `dev`, the subnet of its gateway, or management. */
export function routeInterface(net: NetworkConfig, r: RouteConfig): string | undefined {
  if (r.dev !== undefined) return r.dev;
  if (r.via !== undefined) {
    const via = r.via;
    const owner = net.interfaces.find((i) => i.addresses.some((a) => prefixContains(a, via)));
    if (owner !== undefined) return owner.name;
  }
  const mgmt = managementInterface(net);
  return net.interfaces.some((i) => i.name === mgmt) ? mgmt : net.interfaces[0]?.name;
}

function routeSection(r: RouteConfig): string[] {
  const lines = ["", "[Route]"];
  if (r.to !== "default") lines.push(`Destination=${r.to}`);
  else if (r.via === undefined) lines.push(`Destination=${r.family === 6 ? "::/0" : "0.0.0.0/0"}`);
  if (r.via !== undefined) lines.push(`Gateway=${r.via}`);
  else lines.push("Scope=link");
  if (r.metric !== undefined) lines.push(`Metric=${r.metric}`);
  return lines;
}

function hostAddressSection(h: HostAddress & { what?: string }): string[] {
  return [
    "",
    "[Address]",
    ...(h.what ? [`# ${h.what}`] : []),
    `Address=${h.address}/${h.family === 6 ? 128 : 32}`,
    // A VIP must answer at once; duplicate address detection would hold an IPv6 one back.
    ...(h.family === 6 ? ["DuplicateAddressDetection=none"] : []),
  ];
}

/**
 * Every file for `net` with the host addresses `bound` (the VIPs and local addresses the
 * daemon binds, binding.ts), by path relative to systemd's configuration directory, in a
 * stable order.
 */
export function networkdFiles(
  net: NetworkConfig,
  bound: readonly (HostAddress & { what?: string })[],
): Map<string, string> {
  const files = new Map<string, string>();
  const mgmt = managementInterface(net);
  const names = [
    ...net.interfaces.map((i) => i.name),
    ...bound.map((b) => b.interface),
    ...net.routes.map((r) => routeInterface(net, r)).filter((n): n is string => n !== undefined),
  ];
  for (const name of [...new Set(names)]) {
    const iface = net.interfaces.find((i) => i.name === name);
    const lines = [...HEADER, "", "[Match]", `Name=${name}`];
    if (iface !== undefined) {
      lines.push("", "[Link]");
      if (iface.mtu !== undefined) lines.push(`MTUBytes=${iface.mtu}`);
      lines.push(`ActivationPolicy=${iface.up ? "up" : "down"}`);
      // Boot does not wait for the data ports: only the management port must be online.
      if (name !== mgmt) lines.push("RequiredForOnline=no");
    }
    lines.push(
      "",
      "[Network]",
      "ConfigureWithoutCarrier=yes",
      "KeepConfiguration=static",
      "IPv6AcceptRA=no",
    );
    for (const a of iface?.addresses ?? []) {
      lines.push("", "[Address]", `Address=${formatPrefix(a)}`);
    }
    for (const b of bound.filter((b) => b.interface === name)) lines.push(...hostAddressSection(b));
    for (const r of net.routes.filter((r) => routeInterface(net, r) === name)) {
      lines.push(...routeSection(r));
    }
    files.set(`network/${FILE_PREFIX}${name}.network`, lines.join("\n") + "\n");
  }
  if (net.dns !== undefined) {
    files.set(
      "resolved.conf.d/fullnat.conf",
      [
        ...HEADER,
        "",
        "[Resolve]",
        `DNS=${net.dns.servers.join(" ")}`,
        `Domains=${net.dns.search.join(" ")}`,
      ].join("\n") + "\n",
    );
  }
  if (net.ntp !== undefined) {
    files.set(
      "timesyncd.conf.d/fullnat.conf",
      [...HEADER, "", "[Time]", `NTP=${net.ntp.servers.join(" ")}`].join("\n") + "\n",
    );
  }
  return files;
}
