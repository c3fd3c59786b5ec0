/**
 * The management input of a provisioned box: the management interface's addresses from the
 * `network` section, VRRP from the `ha` section, the sync daemons' interfaces and ports from
 * the load-balancer document. The adapter between today's provisioning and the management
 * generators; a stored network document would have one of its own.
 *
 * @module
 */

import type { ConfigDocument } from "../persist/document.ts";
import { formatPrefix } from "../vocab/mod.ts";
import type { AdminConfig, HaConfig, NetworkConfig } from "../provision/types.ts";
import { DEFAULT_MANAGEMENT_INTERFACE, type ManagementInput } from "./types.ts";

/** What provisioning knows; every part optional (a box without a seed has none). */
export interface ProvisionedParts {
  /** The management interface (default eth0). */
  management?: string;
  network?: NetworkConfig;
  admin?: AdminConfig;
  ha?: HaConfig;
  loadBalancer?: ConfigDocument;
}

/** The management input of `parts`. */
export function managementInputOf(parts: ProvisionedParts): ManagementInput {
  const management = parts.management ?? DEFAULT_MANAGEMENT_INTERFACE;
  const iface = parts.network?.interfaces.find((i) => i.name === management);
  return {
    management,
    // Only the management interface: nothing else is the management side's to read.
    interfaces: iface === undefined
      ? []
      : [{ name: iface.name, addresses: iface.addresses.map(formatPrefix) }],
    ...(parts.ha !== undefined && {
      ha: { interface: parts.ha.interface, ...(parts.ha.peer && { peer: parts.ha.peer }) },
    }),
    ...(parts.admin?.idleTimeout !== undefined && { idleTimeoutS: parts.admin.idleTimeout }),
    ...((parts.loadBalancer?.sync?.length ?? 0) > 0 && {
      sync: parts.loadBalancer!.sync!.map((s) => ({ interface: s.mcastInterface, port: s.port })),
    }),
  };
}
