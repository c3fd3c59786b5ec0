/**
 * The NFQUEUE side of fullnat: the queue loop (FFI to libnetfilter_queue, libmnl, libc) that
 * receives diverted packets in batches, hands each to a {@linkcode PacketHandler} and returns
 * the verdicts. What diverts packets into the queue and the kernel settings the data path needs
 * are the kernel plumbing of `src/kernel` (see its `mod.ts` for a whole daemon's start-up).
 *
 * Needs root and `--allow-ffi` (`-A`):
 *
 * @example
 * ```ts
 * import { NfQueue, type PacketHandler } from "./mod.ts";
 *
 * // Accepts every packet unchanged: the smallest handler there is.
 * const accept: PacketHandler = { handle: () => 0, outLength: 0 };
 *
 * export async function passThrough(): Promise<void> {
 *   const queue = NfQueue.open({ queueNum: 0, maxLen: 8192 });
 *   const loop = queue.run(accept); // until stop()
 *   setTimeout(() => queue.stop(), 1000);
 *   await loop;
 *   console.log(queue.counters, queue.kernelStats());
 *   queue.close();
 * }
 * ```
 *
 * @module
 */

export type { PacketHandler } from "./handler.ts";
export { NfQueue, type NfQueueOptions } from "./queue.ts";
export { type FullChecksumMode, HANDLER_HEADROOM } from "./batch_processor.ts";
export { completeL4Checksum } from "./l4_checksum.ts";
export type { NfQueueCounters } from "./counters.ts";
export type { PacketInfo } from "./netlink_parse.ts";
export { NfQueueOpenError } from "./open_errors.ts";
export {
  type KernelQueueStats,
  NFQUEUE_PROC_PATH,
  parseKernelQueueStats,
  readKernelQueueStats,
} from "./proc_stats.ts";
export { NFQA_SKB_CSUM_NOTVERIFIED, NFQA_SKB_CSUMNOTREADY, NFQA_SKB_GSO } from "./constants.ts";
