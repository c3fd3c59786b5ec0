/**
 * The provisioning file, once validated: what first boot applies to the appliance.
 *
 * ```yaml
 * version: 1
 * hostname: edge-lb-1
 * admin:
 *   sshKeys:
 *     - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... alice@laptop
 * network:
 *   interfaces:
 *     eth0: { addresses: [198.51.100.1/24], mtu: 1500 }
 *     eth1: { addresses: [203.0.113.1/24] }
 *   routes:
 *     - { to: default, via: 198.51.100.254 }
 *   vips: { eth0: [198.51.100.10] }
 *   localAddresses: { eth1: [203.0.113.201, 203.0.113.202] }
 * loadBalancer:   # the configuration document of src/persist, as `fullnat config export` writes it
 *   ...
 * ha:             # keepalived's VRRP moves these addresses to the active box of a pair
 *   interface: eth0
 *   virtualRouterId: 51
 *   priority: 150
 *   peer: 198.51.100.2
 *   vips: { eth0: [198.51.100.10] }
 *   localAddresses: { eth1: [203.0.113.201] }
 * ```
 *
 * Every top-level section is optional and applied on its own: a section that is absent leaves
 * that part of the box as it is, an invalid one is reported and not applied at all.
 *
 * @module
 */
import type { IpFamily, Prefix } from "../vocab/mod.ts";

/** An address with its prefix length, as `ip addr add` takes it (src/vocab/prefix.ts). */
export type Cidr = Prefix;

/** One interface's settings. */
export interface InterfaceConfig {
  name: string;
  /** Addresses with prefix length (`ip addr replace A/LEN dev NAME`). */
  addresses: Cidr[];
  /** Link MTU; left alone when absent. */
  mtu?: number;
  /** Bring the link up (default) or down. */
  up: boolean;
}

/** One static route (`ip route replace TO [via VIA] [dev DEV] [metric M]`). */
export interface RouteConfig {
  /** `default`, or a network in canonical `address/len` form. */
  to: string;
  family: IpFamily;
  via?: string;
  dev?: string;
  metric?: number;
}

/**
 * An address the box must own without a subnet of its own: a VIP or a local address, put on an
 * interface as /32 (/128) so the box answers ARP/ND for it, as an LVS admin does with
 * `ip addr add`.
 */
export interface HostAddress {
  address: string;
  family: IpFamily;
  interface: string;
}

/** Name servers and search domains (`network.dns`). */
export interface DnsConfig {
  /** Name server addresses, in the order they are asked. */
  servers: string[];
  /** Search domains (resolv.conf's `search`, networkd's `Domains=`). */
  search: string[];
}

/** Time servers (`network.ntp`). */
export interface NtpConfig {
  /** Host names or addresses of NTP servers. */
  servers: string[];
}

/** The interface taken as the management port when `network.management` is left out. */
export const DEFAULT_MANAGEMENT_INTERFACE = "eth0";

/**
 * The `network` section: of a provisioning file and, in the same shape, of the daemon's
 * configuration document (src/persist/network_section.ts), which keeps it and applies it at
 * every start.
 */
export interface NetworkConfig {
  /**
   * The management port's interface name, applied on its own and first; absent means
   * {@linkcode DEFAULT_MANAGEMENT_INTERFACE} (see {@linkcode managementInterface}).
   */
  management?: string;
  interfaces: InterfaceConfig[];
  routes: RouteConfig[];
  /** Absent: the box's name servers are left as they are. */
  dns?: DnsConfig;
  /** Absent: the box's time servers are left as they are. */
  ntp?: NtpConfig;
  vips: HostAddress[];
  localAddresses: HostAddress[];
}

/** The management port's interface name (the default when the section names none). */
export function managementInterface(net: NetworkConfig): string {
  return net.management ?? DEFAULT_MANAGEMENT_INTERFACE;
}

/** The addresses configured on the management port (what sshd and the firewall listen on). */
export function managementAddresses(net: NetworkConfig): Cidr[] {
  const name = managementInterface(net);
  return net.interfaces.find((i) => i.name === name)?.addresses ?? [];
}

/** The `admin` section. */
export interface AdminConfig {
  /** The account whose `~/.ssh/authorized_keys` receives the keys (default `admin`). */
  user: string;
  /** authorized_keys lines, normalised to `type base64 [comment]`. */
  sshKeys: string[];
  /**
   * Seconds an admin session may sit idle before it is closed (sshd and the admin shell,
   * src/mgmt); 0 never. Absent: 900.
   */
  idleTimeout?: number;
}

/**
 * The `ha` section: one VRRP instance run by keepalived (`keepalived_conf.ts`), which moves the
 * VIPs and the local addresses to whichever box of the pair is active.
 */
export interface HaConfig {
  /** The interface VRRP advertisements go out of (keepalived's `interface`). */
  interface: string;
  /** 1-255, the same on both boxes and unique on the segment (`virtual_router_id`). */
  virtualRouterId: number;
  /** 1-254; the higher one becomes master when both start (`priority`, default 100). */
  priority: number;
  /** Seconds between advertisements, 1-255 (`advert_int`, default 1). */
  advertInterval: number;
  /** The other box's address: VRRP by unicast to it (`unicast_peer`); multicast when absent. */
  peer?: string;
  /** VRRP's simple password, 1-8 characters (`authentication { auth_type PASS }`). */
  authPass?: string;
  /**
   * Whether a box coming back takes the addresses over from the one that runs them (false:
   * keepalived's `nopreempt`, so a failback never cuts connections mid-flow).
   */
  preempt: boolean;
  /** The VIPs that float, each on its interface. */
  vips: HostAddress[];
  /** The local addresses that float with them, so the real servers' replies follow. */
  localAddresses: HostAddress[];
}

/** The names of the sections that are applied independently. */
export type SectionName = "hostname" | "admin" | "network" | "loadBalancer" | "ha";

/**
 * Every section in the order first boot applies them: `ha` last, so a box takes over addresses
 * only once its services are configured.
 */
export const SECTION_ORDER: readonly SectionName[] = [
  "hostname",
  "admin",
  "network",
  "loadBalancer",
  "ha",
];

/** A validated provisioning file; a section is undefined when absent or invalid. */
export interface Provisioning {
  version: 1;
  hostname?: string;
  admin?: AdminConfig;
  network?: NetworkConfig;
  /** The load-balancer configuration document, as it appeared in the file. */
  loadBalancer?: unknown;
  ha?: HaConfig;
}
