/**
 * A link that loses packets at random, both ways: iptables `statistic` drops on one
 * namespace's interface (INPUT and OUTPUT), the loss the TCP fidelity tests put on the real
 * server's link so that retransmissions and SACK cross the balancer. iptables rather than tc
 * netem: the namespaces' kernel has the match built in, and its counters show the drops.
 *
 * @module
 */
import type { Topology } from "./netns.ts";

/** Drops each packet into and out of `iface` in `ns` with `probability` (0..1). */
export async function loseAtRandom(
  topo: Topology,
  ns: string,
  iface: string,
  probability: number,
): Promise<void> {
  for (const chain of ["INPUT", "OUTPUT"]) {
    await topo.exec(ns, [
      "iptables",
      "-A",
      chain,
      chain === "INPUT" ? "-i" : "-o",
      iface,
      "-m",
      "statistic",
      "--mode",
      "random",
      "--probability",
      String(probability),
      "-j",
      "DROP",
    ], { check: true });
  }
}
