/**
 * What the management plane (sshd's listen addresses, the host firewall, the link-local
 * fallback) is derived from. It is deliberately a small shape of its own, not the provisioning
 * file or the stored network document: whichever of them describes the box's network is turned
 * into this by its own adapter (`from_provisioning.ts` today), so the generators stay pure and
 * the management side is computed from the management interface alone: a bad address on a data
 * interface never reaches it.
 *
 * @module
 */

/** One interface and its addresses (`A/LEN` or a bare address). */
export interface ManagedInterface {
  name: string;
  addresses: string[];
}

/** Session sync (`sync` of the load-balancer document): where its datagrams arrive. */
export interface SyncAccess {
  /** The sync daemon's `mcastInterface`. */
  interface: string;
  /** Its UDP port (8848 unless set). */
  port: number;
}

/** The HA pair's VRRP (keepalived), when the box is one of a pair. */
export interface HaAccess {
  /** The interface VRRP is spoken on (`ha.interface`). */
  interface: string;
  /** The other box (unicast VRRP); any sender on `interface` when absent (multicast). */
  peer?: string;
}

/** The input of every management generator. */
export interface ManagementInput {
  /** The management interface (`network.management`, default `eth0`). */
  management: string;
  /** The box's interfaces; only the management interface's entry is read. */
  interfaces: ManagedInterface[];
  /**
   * The management port's MAC address, when known: it names the fallback link-local address
   * (`link_local.ts`). Without it there is no IPv4 fallback address.
   */
  mac?: string;
  ha?: HaAccess;
  sync?: SyncAccess[];
  /** sshd's port (default 22). */
  sshPort?: number;
  /** Seconds an idle SSH session lives (default {@linkcode DEFAULT_IDLE_TIMEOUT_S}); 0: forever. */
  idleTimeoutS?: number;
}

/** Default SSH port. */
export const DEFAULT_SSH_PORT = 22;

/** Default idle timeout of an admin session: 15 minutes. */
export const DEFAULT_IDLE_TIMEOUT_S = 900;

/** The management interface when the configuration names none. */
export const DEFAULT_MANAGEMENT_INTERFACE = "eth0";

/** Interface names as the kernel accepts them (IFNAMSIZ 16: at most 15 characters). */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** Whether `name` can be an interface name (and so be written into a rule safely). */
export function isInterfaceName(name: string): boolean {
  return IFNAME.test(name) && name !== "." && name !== "..";
}
