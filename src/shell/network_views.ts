/**
 * What the network commands share: the edit round trip (read the daemon's `network` section,
 * change it, hand it back with what it was, print the changes), the tables of configured and
 * live interfaces, routes and neighbours (`ip -j` objects, read by the daemon), and the DNS and
 * NTP settings in effect (read by the daemon from systemd-resolved and systemd-timesyncd).
 *
 * @module
 */
import type { ActionInput } from "./command_kit.ts";
import type { DnsInEffect, InEffectKind, NotInEffect, NtpInEffect } from "../hostnet/in_effect.ts";
import type { CommandContext, ShellControl } from "./context.ts";
import { callOptional } from "./errors.ts";
import type { NetworkText } from "./network_edit.ts";
import { renderTable } from "./table.ts";

/** The daemon's `network` section (text form; `{}` when none is configured). */
export async function fetchNetwork(c: ShellControl): Promise<NetworkText> {
  return await callOptional(c.call.bind(c), "network configuration", "networkGet") as NetworkText;
}

/** The daemon could not say what is in effect (an older daemon, a failed call). */
export interface InEffectUnknown {
  running: null;
  reason: string;
}

/**
 * What systemd-resolved (`dns`) or systemd-timesyncd (`ntp`) has in effect; a daemon that
 * cannot say is an answer too ({@linkcode InEffectUnknown}), never an error of the command.
 */
export async function fetchInEffect(
  c: ShellControl,
  kind: "dns",
): Promise<DnsInEffect | NotInEffect | InEffectUnknown>;
export async function fetchInEffect(
  c: ShellControl,
  kind: "ntp",
): Promise<NtpInEffect | NotInEffect | InEffectUnknown>;
export async function fetchInEffect(
  c: ShellControl,
  kind: InEffectKind,
): Promise<DnsInEffect | NtpInEffect | NotInEffect | InEffectUnknown> {
  try {
    return await callOptional(c.call.bind(c), "settings in effect", "networkInEffect", kind) as
      | DnsInEffect
      | NtpInEffect
      | NotInEffect;
  } catch (e) {
    return { running: null, reason: e instanceof Error ? e.message : String(e) };
  }
}

/** The host network's last problem (`networkStatus`), if the daemon has one and can say. */
export async function networkProblem(c: ShellControl): Promise<string | undefined> {
  try {
    return (await c.call("networkStatus") as { problem?: string }).problem;
  } catch {
    return undefined;
  }
}

/** The one line for a service that could not be asked. */
export function notInEffectLine(n: NotInEffect | InEffectUnknown): string {
  return n.running === null
    ? `what is in effect is unknown: ${n.reason}`
    : `${n.reason}: the settings are stored but not in effect`;
}

/**
 * Runs one edit of the `network` section through the daemon, which validates, applies and
 * saves it all or nothing, and prints what changed.
 */
export async function editNetwork(
  ctx: CommandContext,
  control: ActionInput["control"],
  edit: (section: NetworkText) => NetworkText,
): Promise<void> {
  const c = await control();
  const before = await fetchNetwork(c);
  const next = edit(before);
  const result = await c.call("networkApply", next, { expect: before }) as { changes: string[] };
  ctx.io.out(
    result.changes.length === 0
      ? "nothing to change"
      : `applied:\n${result.changes.map((l) => `  ${l}`).join("\n")}`,
  );
  ctx.changed();
}

/** The configured interfaces: name, role, addresses, MTU, link. */
export function configuredInterfacesTable(section: NetworkText): string {
  const mgmt = section.management ?? "eth0";
  const rows = Object.entries(section.interfaces ?? {}).map(([name, i]) => [
    name,
    name === mgmt ? "management" : "data",
    (i.addresses ?? []).join(", ") || "-",
    i.mtu ?? "-",
    i.up === false ? "down" : "up",
  ]);
  return renderTable(
    [{ title: "Interface" }, { title: "Role" }, { title: "Addresses" }, { title: "MTU" }, {
      title: "Link",
    }],
    rows,
    "no interface is configured (interface address add NAME ADDRESS/LEN)",
  );
}

/** The configured routes. */
export function configuredRoutesTable(section: NetworkText): string {
  return renderTable(
    [{ title: "To" }, { title: "Via" }, { title: "Dev" }, { title: "Metric", numeric: true }],
    (section.routes ?? []).map((r) => [r.to, r.via ?? "-", r.dev ?? "-", r.metric ?? 0]),
    "no route is configured (route add TO --via GATEWAY)",
  );
}

type IpObject = Record<string, unknown>;

/** `ip -j addr` as a table: interface, state, MTU, addresses. */
export function liveInterfacesTable(links: readonly IpObject[]): string {
  return renderTable(
    [{ title: "Interface" }, { title: "State" }, { title: "MTU", numeric: true }, {
      title: "Addresses",
    }],
    links.map((l) => [
      String(l.ifname),
      String(l.operstate ?? "?"),
      Number(l.mtu ?? 0),
      ((l.addr_info ?? []) as IpObject[]).map((a) => `${a.local}/${a.prefixlen}`).join(", ") ||
      "-",
    ]),
  );
}

/** `ip -j route` (both families) as a table. */
export function liveRoutesTable(routes: readonly IpObject[]): string {
  return renderTable(
    [{ title: "To" }, { title: "Via" }, { title: "Dev" }, { title: "Proto" }, {
      title: "Metric",
      numeric: true,
    }],
    routes.map((r) => [
      String(r.dst),
      String(r.gateway ?? "-"),
      String(r.dev ?? "-"),
      String(r.protocol ?? "-"),
      Number(r.metric ?? 0),
    ]),
  );
}

/** `ip -j neigh` as a table: address, interface, link-layer address, state. */
export function liveNeighboursTable(neigh: readonly IpObject[]): string {
  return renderTable(
    [{ title: "Address" }, { title: "Interface" }, { title: "Link address" }, { title: "State" }],
    neigh.map((n) => [
      String(n.dst),
      String(n.dev ?? "-"),
      String(n.lladdr ?? "-"),
      ((n.state ?? []) as string[]).join(",") || "-",
    ]),
    "(no neighbours)",
  );
}
