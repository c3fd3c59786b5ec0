/**
 * The NFQUEUE side of fullnat: the queue loop (FFI to libnetfilter_queue, libmnl, libc),
 * the iptables diversion into it, and the kernel settings the data path needs.
 *
 * @module
 */

export type { PacketHandler } from "./handler.ts";
export { NfQueue, type NfQueueOptions } from "./queue.ts";
export { HANDLER_HEADROOM } from "./batch_processor.ts";
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
export { Diversion, type DiversionOptions } from "./diversion.ts";
export { type Family, type InstalledState } from "./diversion_rules.ts";
export {
  applyDataPathSysctls,
  restoreSysctls,
  type SysctlChange,
  type SysctlOptions,
  wantedSysctls,
} from "./sysctl.ts";
