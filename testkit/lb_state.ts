/**
 * The balancer namespace's packet-steering state as text: iptables and ip6tables rules,
 * policy rules and every routing table, both families. End-to-end tests compare it before the
 * daemon starts and after it stops: the daemon must leave no rule, route or mark behind.
 *
 * @module
 */
import type { Topology } from "./netns.ts";

/**
 * The balancer's rules, routes and marks, without counters or timestamps, nor the kernel's
 * subnet-router anycast routes: those follow IPv6 forwarding, which the daemon turns on and
 * leaves on (README: the kernel settings the data path needs), in every mode.
 */
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
        .filter((l) => !l.startsWith("#") && !l.startsWith("anycast "))
        // Built-in chains at their default policy, and so a table with nothing else in it
        // (loaded by the daemon's rules, empty again once they are gone), say nothing.
        .filter((l) => !/^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) ACCEPT /.test(l))
        .map((l) => l.replace(/\[\d+:\d+\]/g, "")).join("\n").replace(/^\*\w+\nCOMMIT\n/gm, ""),
    );
  }
  return parts.join("\n");
}
