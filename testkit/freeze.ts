/**
 * Holding a namespace's processes still, to let a burst pile up in front of them: SIGSTOP
 * every process in a network namespace, then SIGCONT them. A balancer frozen this way keeps
 * its NFQUEUE bound, so the kernel queues what arrives (up to the queue's length limit and
 * the socket's buffer) and the balancer finds the whole burst waiting when it is thawed.
 *
 * @module
 */

import { type KernelQueueStats, parseKernelQueueStats } from "../src/nfqueue/proc_stats.ts";
import { netnsPids } from "./netns.ts";

/** Processes held by {@linkcode freezeNamespace}. */
export interface Frozen {
  readonly pids: readonly number[];
  /** Sends SIGCONT to every frozen process that still exists; safe to call twice. */
  thaw(): void;
}

function signal(pid: number, sig: Deno.Signal): boolean {
  try {
    Deno.kill(pid, sig);
    return true;
  } catch {
    return false; // exited meanwhile
  }
}

/** SIGSTOPs every process in `netns`; throws when there is none. */
export async function freezeNamespace(netns: string): Promise<Frozen> {
  const pids = (await netnsPids(netns)).filter((pid) => signal(pid, "SIGSTOP"));
  if (pids.length === 0) throw new Error(`no process to freeze in namespace ${netns}`);
  let thawed = false;
  return {
    pids,
    thaw() {
      if (thawed) return;
      thawed = true;
      for (const pid of pids) signal(pid, "SIGCONT");
    },
  };
}

/**
 * The kernel's queue table as seen from `pid`'s network namespace (`/proc/PID/net/...`), so a
 * process outside the namespace can watch a balancer's queues.
 */
export function queuesSeenBy(pid: number): KernelQueueStats[] {
  return parseKernelQueueStats(Deno.readTextFileSync(`/proc/${pid}/net/netfilter/nfnetlink_queue`));
}
