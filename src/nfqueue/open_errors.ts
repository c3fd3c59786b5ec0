/**
 * Turns the kernel's refusal to bind a queue into a message that says what is wrong and
 * what to do about it.
 *
 * @module
 */

import { EBUSY, EINVAL, EOPNOTSUPP, EPERM, EPROTONOSUPPORT } from "./constants.ts";
import type { KernelQueueStats } from "./proc_stats.ts";

/** The error thrown when a queue cannot be opened. */
export class NfQueueOpenError extends Error {
  /** @param errno the errno the kernel answered with */
  constructor(message: string, readonly errno: number) {
    super(message);
    this.name = "NfQueueOpenError";
  }
}

/**
 * Explains a failed bind of `queueNum`; `holder` is the kernel's line for that queue, if
 * some socket holds it, and `detail` the C library's text for the errno.
 */
export function bindFailure(
  queueNum: number,
  errno: number,
  detail: string,
  holder: KernelQueueStats | undefined,
): NfQueueOpenError {
  let msg: string;
  if ((errno === EPERM || errno === EBUSY) && holder !== undefined) {
    msg = `NFQUEUE ${queueNum} is already bound by another socket (netlink port id ` +
      `${holder.peerPortId}, probably another fullnat daemon or an NFQUEUE program in this ` +
      `network namespace); stop that process or use another queue number`;
  } else if (errno === EPERM) {
    msg = `permission denied binding NFQUEUE ${queueNum}: this needs root (CAP_NET_ADMIN ` +
      `in the network namespace); run the daemon as root`;
  } else if (errno === EPROTONOSUPPORT || errno === EOPNOTSUPP || errno === EINVAL) {
    msg = `the kernel refused NFQUEUE ${queueNum} (${detail}): is nfnetlink_queue available? ` +
      `try 'modprobe nfnetlink_queue'`;
  } else {
    msg = `cannot bind NFQUEUE ${queueNum}: ${detail}`;
  }
  return new NfQueueOpenError(msg, errno);
}
