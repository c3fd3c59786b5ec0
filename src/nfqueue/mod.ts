/**
 * The NFQUEUE side of fullnat: the queue loop (FFI to libnetfilter_queue, libmnl, libc),
 * the iptables diversion into it, and the kernel settings the data path needs.
 *
 * A daemon, on the main thread (needs root and `--allow-ffi --allow-run --allow-read
 * --allow-write`, i.e. `-A`):
 *
 * ```ts ignore
 * const sysctlChanges = applyDataPathSysctls();
 * const queue = NfQueue.open({ queueNum: 0, maxLen: 8192 }); // bind before diverting
 * const diversion = new Diversion({ queueNum: 0 });
 * await diversion.install(engine.diversion());
 * const loop = queue.run(engine); // engine implements PacketHandler
 * // after every configuration change:
 * await diversion.update(engine.diversion());
 * // stats: queue.counters (live), queue.kernelStats()
 * // shutdown: stop diverting, then let the loop finish and release the queue
 * await diversion.remove();
 * queue.close();
 * await loop;
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
export { Diversion, type DiversionOptions } from "../kernel/diversion.ts";
export { type Family, type InstalledState } from "../kernel/diversion_rules.ts";
export {
  applyDataPathSysctls,
  restoreSysctls,
  type SysctlChange,
  type SysctlOptions,
  wantedSysctls,
} from "../kernel/sysctl.ts";
