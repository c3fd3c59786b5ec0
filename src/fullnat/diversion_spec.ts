/**
 * What the data path must divert into the queue for the current configuration: the kernel
 * side (src/kernel/diversion_rules.ts) turns it into raw-table NOTRACK + NFQUEUE rules.
 *
 * @module
 */
import type { Protocol } from "./types.ts";
import type { ServiceKey } from "./service_spec.ts";

/** What the data path must divert into the queue for the current configuration. */
export interface DiversionSpec {
  /** Client traffic: everything to these virtual services. */
  services: ServiceKey[];
  /** FULLNAT return traffic: everything from real servers to these local addresses. */
  localAddresses: string[];
  /** NAT-mode return traffic: everything from these real servers' address, port and protocol. */
  natRealServers: Array<{ protocol: Protocol; address: string; port: number }>;
  /**
   * DR real servers by address, with the mark their packets carry (`dr_mark.ts`): the daemon
   * gives each a policy rule and a route (`src/kernel/dr_routes.ts`). Absent: none.
   */
  drRealServers?: Array<{ address: string; mark: number }>;
  /**
   * The kernel fast path is on (`--offload established`): TCP other than the client's SYN
   * goes through conntrack and reaches the queue only when conntrack has no entry for it
   * (`src/kernel/diversion_rules.ts`). Absent: off.
   */
  offload?: true;
}
