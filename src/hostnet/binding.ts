/**
 * Which addresses the daemon puts on the box's interfaces for the load balancer, and which it
 * refuses: every VIP and local address of the document's services, and the explicit
 * `network.vips` / `network.localAddresses`, each as a /32 (/128) on the interface named for it
 * or else the interface whose configured subnet contains it, so the box answers ARP/ND for it.
 * Addresses keepalived floats (its `virtual_ipaddress` lists) are keepalived's and never bound;
 * an interface's own address is not bound again. Pure: the host network (host_network.ts) runs
 * what this decides.
 *
 * @module
 */
import type { HostAddress, NetworkConfig } from "../provision/types.ts";
import { parseAddress } from "../vocab/address.ts";
import { formatPrefix, prefixContains } from "../vocab/prefix.ts";

/** The services as the binding reads them (a configuration document's, or the engine's). */
export interface ServiceAddresses {
  protocol: string;
  address: string;
  port: number;
  localAddresses: readonly string[];
}

/** An address the box is asked to own, with what uses it and where (for messages). */
export interface AddressUse {
  address: string;
  /** `the VIP of tcp 198.51.100.10:80`. */
  what: string;
  /** Document path of the entry (`services[0].address`). */
  path: string;
}

/** A bound address and why it is there. */
export interface Binding extends HostAddress {
  what: string;
}

const serviceName = (s: ServiceAddresses) =>
  `${s.protocol} ${s.address.includes(":") ? `[${s.address}]` : s.address}:${s.port}`;

/** Every use of an address by the services, in document order. */
export function addressUses(services: readonly ServiceAddresses[]): AddressUse[] {
  const out: AddressUse[] = [];
  services.forEach((s, i) => {
    out.push({
      address: s.address,
      what: `the VIP of ${serviceName(s)}`,
      path: `services[${i}].address`,
    });
    s.localAddresses.forEach((l, j) =>
      out.push({
        address: l,
        what: `a local address of ${serviceName(s)}`,
        path: `services[${i}].localAddresses[${j}]`,
      })
    );
  });
  return out;
}

/** Where `address` goes: the interface named for it, else the one whose subnet holds it. */
export function ownerInterface(net: NetworkConfig, address: string): string | undefined {
  const named = [...net.vips, ...net.localAddresses].find((h) => h.address === address);
  if (named !== undefined) return named.interface;
  return net.interfaces.find((i) => i.addresses.some((a) => prefixContains(a, address)))?.name;
}

/** True when `address` is one of the interfaces' own addresses (nothing to bind). */
function isInterfaceAddress(net: NetworkConfig, address: string): boolean {
  return net.interfaces.some((i) => i.addresses.some((a) => a.address === address));
}

/**
 * True when the box could own `address`: floated by keepalived, named, or on a subnet. While
 * the section configures no interface at all, the box's addresses are managed elsewhere (by
 * hand, DHCP, a release before this one) and every address passes.
 */
export function canOwn(
  net: NetworkConfig,
  address: string,
  floating: ReadonlySet<string>,
): boolean {
  return net.interfaces.length === 0 || floating.has(address) ||
    ownerInterface(net, address) !== undefined;
}

/**
 * The addresses to bind: the explicit ones, then every service address the box owns through a
 * subnet; none that keepalived floats, none twice, no interface's own address.
 */
export function wantedBindings(
  net: NetworkConfig,
  services: readonly ServiceAddresses[],
  floating: ReadonlySet<string>,
): Binding[] {
  const out = new Map<string, Binding>();
  const add = (address: string, what: string) => {
    if (out.has(address) || floating.has(address) || isInterfaceAddress(net, address)) return;
    const where = ownerInterface(net, address);
    const parsed = parseAddress(address);
    if (where === undefined || parsed === undefined) return;
    out.set(address, { address: parsed.address, family: parsed.family, interface: where, what });
  };
  for (const h of net.vips) add(h.address, "a VIP under network.vips");
  for (const h of net.localAddresses) {
    add(h.address, "a local address under network.localAddresses");
  }
  for (const u of addressUses(services)) add(u.address, u.what);
  return [...out.values()];
}

/** The interfaces' subnets in a few words, for messages: `eth0 198.51.100.1/24, ...`. */
export function subnetWords(net: NetworkConfig): string {
  const parts = net.interfaces.flatMap((i) =>
    i.addresses.map((a) => `${i.name} ${formatPrefix(a)}`)
  );
  return parts.length > 0 ? parts.join(", ") : "none configured";
}

/** Why the box cannot own `address`, and what to do about it. */
export function unownedMessage(net: NetworkConfig, address: string, what: string): string {
  const family = address.includes(":") ? "ND" : "ARP";
  return `${address} (${what}) is on none of this box's subnets (${subnetWords(net)}), so the ` +
    `box would not answer ${family} for it: add an address of its subnet to an interface ` +
    `('interface address add IF ADDRESS/LEN' or network.interfaces), name its interface under ` +
    `network.vips or network.localAddresses (lo for an address routed to the box), or let ` +
    `keepalived float it (the seed's ha section)`;
}

/**
 * The problems of a change from (`beforeNet`, `before`) to (`net`, `services`): each address
 * the new configuration uses that the box could not own, unless it was already used and
 * unowned before the change (a change is not refused for what it does not touch). Each is
 * `path: message`, the path prefixed with `root`.
 */
export function ownershipProblems(
  net: NetworkConfig,
  services: readonly ServiceAddresses[],
  beforeNet: NetworkConfig,
  before: readonly ServiceAddresses[],
  floating: ReadonlySet<string>,
): string[] {
  const used = new Set(addressUses(before).map((u) => u.address));
  const out: string[] = [];
  const reported = new Set<string>();
  for (const u of addressUses(services)) {
    if (reported.has(u.address) || canOwn(net, u.address, floating)) continue;
    if (used.has(u.address) && !canOwn(beforeNet, u.address, floating)) continue;
    reported.add(u.address);
    out.push(`${u.path}: ${unownedMessage(net, u.address, u.what)}`);
  }
  return out;
}
