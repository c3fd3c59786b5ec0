/**
 * The balancer namespace's packet-steering state as text: iptables and ip6tables rules,
 * policy rules, every routing table, both families, and the kernel settings the daemon
 * changes. End-to-end tests compare it before the daemon starts and after it stops: the
 * daemon must leave no rule, route, mark or setting behind.
 *
 * @module
 */
import type { Topology } from "./netns.ts";

/** The balancer's rules, routes, marks and data-path settings, without counters or timestamps. */
export async function lbState(topo: Topology): Promise<string> {
  const parts: string[] = [];
  for (
    const cmd of [
      ["iptables-save"],
      ["ip6tables-save"],
      ["ip", "rule"],
      ["ip", "-6", "rule"],
      ["ip", "route", "show", "table", "all"],
      ["ip", "-6", "route", "show", "table", "all"],
    ]
  ) {
    const r = await topo.exec("lb", cmd, { check: true });
    parts.push(
      `## ${cmd.join(" ")}\n` + r.stdout.split("\n")
        .filter((l) => !l.startsWith("#"))
        // Built-in chains at their default policy, and so a table with nothing else in it
        // (loaded by the daemon's rules, empty again once they are gone), say nothing.
        .filter((l) => !/^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) ACCEPT /.test(l))
        .map((l) => l.replace(/\[\d+:\d+\]/g, "")).join("\n").replace(/^\*\w+\nCOMMIT\n/gm, ""),
    );
  }
  // The settings `src/kernel/sysctl.ts` changes, as this namespace's /proc/sys shows them.
  const settings = await topo.exec("lb", [
    "sh",
    "-c",
    "grep -H . /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding " +
    "/proc/sys/net/ipv4/conf/*/rp_filter /proc/sys/net/ipv4/conf/*/accept_local " +
    "/proc/sys/net/ipv4/conf/*/send_redirects",
  ], { check: true });
  parts.push(`## sysctls\n${settings.stdout}`);
  return parts.join("\n");
}
