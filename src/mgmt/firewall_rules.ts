/**
 * The appliance's host firewall as text for `iptables-restore --noflush` / `ip6tables-restore
 * --noflush`, and reading back what is installed. Pure functions; `firewall.ts` runs them.
 *
 * One chain per family in the `filter` table, jumped to first from INPUT and nowhere else:
 *
 * ```
 * INPUT:            -j FULLNAT-HOST-IN                       (inserted first)
 * FULLNAT-HOST-IN:  -i lo                                     ACCEPT
 *                   ctstate RELATED,ESTABLISHED               ACCEPT  (the box's own connections)
 *                   icmp / ipv6-icmp                          ACCEPT  (PMTU, ping, ND)
 *                   -i MGMT -d MGMT_ADDR tcp dport SSH        ACCEPT  (one per management address)
 *                   -i HA [-s PEER] proto 112                 ACCEPT  (VRRP, with an ha section)
 *                   -i SYNC udp dport PORT                    ACCEPT  (session sync, per daemon)
 *                   tcp dport SSH                             DROP    (SSH anywhere else)
 *                   ctstate UNTRACKED                         ACCEPT  (see below)
 *                   (everything else)                         DROP
 * ```
 *
 * What it never touches: FORWARD and the raw table. Load-balanced traffic never reaches INPUT:
 * the daemon's diversion (src/kernel/diversion_rules.ts) takes it in raw PREROUTING, marks it
 * NOTRACK and queues it; the engine's rewritten packets are then routed on (FORWARD), whatever
 * the mode (FULLNAT, NAT, DR's marked packets, TUNNEL's wrapped ones). The box's own traffic
 * (health checks, DNS, NTP, keepalived) leaves by OUTPUT, which is not filtered, and its
 * replies are ESTABLISHED, with one exception: a NAT-mode real server's replies are diverted by
 * their source (the server's address and port), so the replies to a health check of such a
 * server arrive NOTRACKed, and the engine, finding no session, hands them to the kernel. That
 * is what the UNTRACKED rule admits: only packets the diversion claimed reach INPUT untracked
 * (to a VIP, a local address, or from a NAT real server), and the SSH rule before it keeps
 * them from sshd.
 *
 * @module
 */

import type { Family } from "../kernel/diversion_rules.ts";
import type { ManagementPlan } from "./plan.ts";

export type { Family } from "../kernel/diversion_rules.ts";

/** The chain, in both families. */
export const HOST_CHAIN = "FULLNAT-HOST-IN";

/** The ICMP protocol name of each family, as iptables and ip6tables spell it. */
const ICMP: Record<Family, string> = { ipv4: "icmp", ipv6: "ipv6-icmp" };

/** VRRP's IP protocol number (keepalived, RFC 5798). */
const VRRP_PROTOCOL = 112;

const familyOfNumber = (n: 4 | 6): Family => (n === 4 ? "ipv4" : "ipv6");
const hostLength: Record<Family, number> = { ipv4: 32, ipv6: 128 };

/** The `-A` lines of the chain for `plan`, per family. */
export function hostFirewallRules(plan: ManagementPlan): Record<Family, string[]> {
  const c = HOST_CHAIN;
  const out: Record<Family, string[]> = { ipv4: [], ipv6: [] };
  const ssh = `-p tcp --dport ${plan.sshPort}`;
  for (const family of ["ipv4", "ipv6"] as const) {
    const rules = out[family];
    rules.push(
      `-A ${c} -i lo -j ACCEPT`,
      `-A ${c} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
      `-A ${c} -p ${ICMP[family]} -j ACCEPT`,
    );
    const mine = plan.listen.filter((a) => familyOfNumber(a.family) === family);
    if (plan.listen.length === 0) {
      // sshd listens everywhere then (sshd_config.ts); the management port still limits it.
      rules.push(`-A ${c} -i ${plan.management} ${ssh} -j ACCEPT`);
    }
    for (const a of mine) {
      rules.push(
        `-A ${c} -d ${a.address}/${hostLength[family]} -i ${plan.management} ${ssh} -j ACCEPT`,
      );
    }
    const ha = plan.ha;
    if (ha !== undefined && (ha.peer === undefined || familyOfNumber(ha.peer.family) === family)) {
      const from = ha.peer === undefined ? "" : ` -s ${ha.peer.address}/${hostLength[family]}`;
      rules.push(`-A ${c}${from} -i ${ha.interface} -p ${VRRP_PROTOCOL} -j ACCEPT`);
    }
    for (const s of plan.sync) {
      rules.push(`-A ${c} -i ${s.interface} -p udp --dport ${s.port} -j ACCEPT`);
    }
    rules.push(
      `-A ${c} ${ssh} -j DROP`,
      `-A ${c} -m conntrack --ctstate UNTRACKED -j ACCEPT`,
      `-A ${c} -j DROP`,
    );
  }
  return out;
}

/** What of the firewall is present in one family's filter table. */
export interface InstalledFirewall {
  /** Whether the chain exists. */
  chain: boolean;
  /** How many `-A INPUT -j FULLNAT-HOST-IN` rules exist. */
  hooks: number;
  /** The chain's rules, as `iptables -S` prints them. */
  rules: string[];
}

/** Reads the firewall's part out of `iptables -t filter -S` output. */
export function parseInstalledFirewall(text: string): InstalledFirewall {
  const state: InstalledFirewall = { chain: false, hooks: 0, rules: [] };
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const f = line.split(/\s+/);
    if (f[0] === "-N" && f[1] === HOST_CHAIN) state.chain = true;
    else if (line === `-A INPUT -j ${HOST_CHAIN}`) state.hooks++;
    else if (f[0] === "-A" && f[1] === HOST_CHAIN) state.rules.push(line);
  }
  return state;
}

/**
 * A restore script that (re)creates the chain with exactly `rules` and hooks it first into
 * INPUT unless a hook is there; one transaction, so packets see the old rules or the new ones,
 * never an empty chain.
 */
export function firewallInstallScript(rules: readonly string[], hooked: boolean): string {
  const lines = ["*filter", `:${HOST_CHAIN} - [0:0]`, `-F ${HOST_CHAIN}`, ...rules];
  if (!hooked) lines.push(`-I INPUT 1 -j ${HOST_CHAIN}`);
  lines.push("COMMIT", "");
  return lines.join("\n");
}

/** A restore script that unhooks and deletes the chain; undefined when nothing is there. */
export function firewallRemoveScript(state: InstalledFirewall): string | undefined {
  if (!state.chain && state.hooks === 0) return undefined;
  const lines = ["*filter"];
  for (let i = 0; i < state.hooks; i++) lines.push(`-D INPUT -j ${HOST_CHAIN}`);
  if (state.chain) lines.push(`-F ${HOST_CHAIN}`, `-X ${HOST_CHAIN}`);
  lines.push("COMMIT", "");
  return lines.join("\n");
}
