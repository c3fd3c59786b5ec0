/**
 * Counting packets where they arrive: an iptables rule in a namespace's INPUT chain, marked
 * with a comment so its counter can be read back, optionally dropping what it counts (so a
 * port nothing listens on is not answered with port unreachables).
 *
 * @module
 */

import type { Role, Topology } from "./netns.ts";

/** A counting rule. */
export interface InputCounter {
  /** Packets the rule matched since it was added or the chain last zeroed. */
  count(): Promise<number>;
  /** Zeroes every counter of the namespace's INPUT chain, this rule's included. */
  resetChain(): Promise<void>;
}

/** Appends `-A INPUT <match> -m comment --comment <comment> [-j DROP]` in `ns`. */
export async function addInputCounter(
  topo: Topology,
  ns: Role,
  match: readonly string[],
  comment: string,
  opts: { drop?: boolean } = {},
): Promise<InputCounter> {
  await topo.exec(ns, [
    "iptables",
    "-w",
    "-A",
    "INPUT",
    ...match,
    "-m",
    "comment",
    "--comment",
    comment,
    ...(opts.drop ? ["-j", "DROP"] : []),
  ], { check: true });
  return {
    async count() {
      const r = await topo.exec(ns, ["iptables", "-w", "-nvxL", "INPUT"], { check: true });
      const line = r.stdout.split("\n").find((l) => l.includes(`/* ${comment} */`));
      if (line === undefined) throw new Error(`the counter rule ${comment} in ${ns} is gone`);
      return Number(line.trim().split(/\s+/)[0]);
    },
    async resetChain() {
      await topo.exec(ns, ["iptables", "-w", "-Z", "INPUT"], { check: true });
    },
  };
}
