/**
 * The kernel's own per-queue figures, from `/proc/net/netfilter/nfnetlink_queue` (one line
 * per bound queue in the reader's network namespace).
 *
 * @module
 */

/** Default location of the kernel's queue table. */
export const NFQUEUE_PROC_PATH = "/proc/net/netfilter/nfnetlink_queue";

/** One line of the kernel's queue table. */
export interface KernelQueueStats {
  queueNum: number;
  /** Netlink port id of the socket bound to the queue. */
  peerPortId: number;
  /** Packets waiting for a verdict right now. */
  queueTotal: number;
  /** 0 none, 1 meta, 2 packet. */
  copyMode: number;
  copyRange: number;
  /** Packets dropped because the queue was full (`queue_maxlen` reached). */
  queueDropped: number;
  /** Packets dropped because the socket's receive buffer was full (netlink unicast failed). */
  userDropped: number;
  /** Id of the last packet queued (wraps at 2^32): packets queued so far. */
  idSequence: number;
}

/** Parses the table's text; lines that do not have the expected nine fields are skipped. */
export function parseKernelQueueStats(text: string): KernelQueueStats[] {
  const out: KernelQueueStats[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 9 || !f.every((x) => /^-?\d+$/.test(x))) continue;
    const n = f.map(Number);
    out.push({
      queueNum: n[0],
      peerPortId: n[1],
      queueTotal: n[2],
      copyMode: n[3],
      copyRange: n[4],
      queueDropped: n[5],
      userDropped: n[6],
      idSequence: n[7],
    });
  }
  return out;
}

/**
 * The kernel's figures for `queueNum`, or undefined when no process has that queue bound
 * (or nfnetlink_queue is not loaded).
 */
export function readKernelQueueStats(
  queueNum: number,
  path: string = NFQUEUE_PROC_PATH,
): KernelQueueStats | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  return parseKernelQueueStats(text).find((s) => s.queueNum === queueNum);
}
