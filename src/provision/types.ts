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

/** The `network` section. */
export interface NetworkConfig {
  interfaces: InterfaceConfig[];
  routes: RouteConfig[];
  vips: HostAddress[];
  localAddresses: HostAddress[];
}

/** The `admin` section. */
export interface AdminConfig {
  /** The account whose `~/.ssh/authorized_keys` receives the keys (default `admin`). */
  user: string;
  /** authorized_keys lines, normalised to `type base64 [comment]`. */
  sshKeys: string[];
}

/** The names of the sections that are applied independently. */
export type SectionName = "hostname" | "admin" | "network" | "loadBalancer";

/** Every section in the order first boot applies them. */
export const SECTION_ORDER: readonly SectionName[] = [
  "hostname",
  "admin",
  "network",
  "loadBalancer",
];

/** A validated provisioning file; a section is undefined when absent or invalid. */
export interface Provisioning {
  version: 1;
  hostname?: string;
  admin?: AdminConfig;
  network?: NetworkConfig;
  /** The load-balancer configuration document, as it appeared in the file. */
  loadBalancer?: unknown;
}
