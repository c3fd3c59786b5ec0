/**
 * The keepalived.conf an appliance of an HA pair runs, written from its provisioning file's
 * `ha` section: one VRRP instance on the `ha.interface` whose addresses are the VIPs and the
 * local addresses, each on its own interface (`ADDR/32 dev IF`), so the real servers' replies
 * follow the active box. Pure: the same section gives the same bytes (golden files in
 * tests/unit/provision/golden/).
 *
 * Both boxes start as BACKUP and, unless `preempt` is set, with `nopreempt`: the first to win
 * the election keeps the addresses when the other comes back, so a failback does not cut
 * connections mid-flow. No notify script is needed: each box runs both a master and a backup
 * sync daemon (the document's `sync` section), so sessions flow from whichever is active.
 * Interfaces carrying floating addresses other than the VRRP one are tracked: a box whose
 * real-server link goes down gives the addresses up.
 *
 * @module
 */
import type { HaConfig, HostAddress } from "./types.ts";
import { VRRP_MAX_ADDRESSES } from "./validate_ha.ts";

/** Settings of the file that are not in the `ha` section. */
export interface KeepalivedConfOptions {
  /** `router_id` (the host name); keepalived uses the host name when absent. */
  routerId?: string;
}

/** keepalived's name of the instance (shown in its log and in `ip addr`'s label-less view). */
export const VRRP_INSTANCE = "fullnat";

const cidr = (a: HostAddress) => `${a.address}/${a.family === 6 ? 128 : 32} dev ${a.interface}`;

/** The whole keepalived.conf for `ha`. */
export function keepalivedConf(ha: HaConfig, options: KeepalivedConfOptions = {}): string {
  const floating = [...ha.vips, ...ha.localAddresses];
  // An advertisement carries addresses of one family (the instance's, IPv4 unless the VRRP
  // interface is reached over IPv6 by the peer) and at most 20 of them; the others move too,
  // from virtual_ipaddress_excluded.
  const family = ha.peer?.includes(":") ? 6 : floating[0]?.family ?? 4;
  const carried = floating.filter((a) => a.family === family).slice(0, VRRP_MAX_ADDRESSES);
  const excluded = floating.filter((a) => !carried.includes(a));
  const tracked = [...new Set(floating.map((a) => a.interface))]
    .filter((i) => i !== ha.interface).sort();
  const out: string[] = [
    "# Written by fullnat provision firstboot from the seed's ha section; a new seed rewrites it.",
    ...(options.routerId ? ["global_defs {", `    router_id ${options.routerId}`, "}", ""] : []),
    `vrrp_instance ${VRRP_INSTANCE} {`,
    "    state BACKUP",
    `    interface ${ha.interface}`,
    `    virtual_router_id ${ha.virtualRouterId}`,
    `    priority ${ha.priority}`,
    `    advert_int ${ha.advertInterval}`,
    ...(ha.preempt ? [] : ["    nopreempt"]),
    ...(ha.peer ? ["    unicast_peer {", `        ${ha.peer}`, "    }"] : []),
    ...(ha.authPass
      ? [
        "    authentication {",
        "        auth_type PASS",
        `        auth_pass ${ha.authPass}`,
        "    }",
      ]
      : []),
    ...(tracked.length > 0
      ? ["    track_interface {", ...tracked.map((i) => `        ${i}`), "    }"]
      : []),
    "    virtual_ipaddress {",
    ...carried.map((a) => `        ${cidr(a)}`),
    "    }",
    ...(excluded.length > 0
      ? ["    virtual_ipaddress_excluded {", ...excluded.map((a) => `        ${cidr(a)}`), "    }"]
      : []),
    "}",
  ];
  return out.join("\n") + "\n";
}
