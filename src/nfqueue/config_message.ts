/**
 * Builds the queue configuration request with libnetfilter_queue's libmnl-based helpers.
 *
 * Bind, copy mode, queue length and flags travel in ONE message: the kernel applies them in
 * that order while handling it, so no packet can be queued to us between the bind and the
 * switch to whole-packet copies (a queue in COPY_NONE mode refuses packets).
 *
 * @module
 */

import {
  AF_UNSPEC,
  NFQA_CFG_F_FAIL_OPEN,
  NFQA_CFG_F_GSO,
  NFQA_CFG_FLAGS,
  NFQA_CFG_MASK,
  NFQNL_CFG_CMD_BIND,
  NFQNL_COPY_PACKET,
  NFQNL_MSG_CONFIG,
  NLM_F_ACK,
} from "./constants.ts";
import { loadNative } from "./ffi.ts";

/** What the bind request asks for. */
export interface QueueConfig {
  queueNum: number;
  /** Bytes of each packet to copy (whole packets up to this size). */
  copyRange: number;
  /** Queue length limit, undefined for the kernel's default (1024). */
  maxLen?: number;
  /** Accept instead of drop when the queue is full. */
  failOpenWhenFull: boolean;
  /** Deliver GSO super-packets unsegmented. */
  gso: boolean;
}

function htonl(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

/**
 * Writes the bind request into `buf` (at least 256 bytes) with sequence number `seq` and
 * the ACK flag set, and returns its length.
 */
export function buildBindRequest(buf: Uint8Array, cfg: QueueConfig, seq: number): number {
  const { nfq, mnl } = loadNative();
  buf.fill(0, 0, 256);
  nfq.nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, cfg.queueNum);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  // Ask for an acknowledgement so failures (EPERM, EBUSY) come back to us.
  view.setUint16(6, view.getUint16(6, true) | NLM_F_ACK, true);
  view.setUint32(8, seq, true);
  nfq.nfq_nlmsg_cfg_put_cmd(buf, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
  nfq.nfq_nlmsg_cfg_put_params(buf, NFQNL_COPY_PACKET, cfg.copyRange);
  if (cfg.maxLen !== undefined) nfq.nfq_nlmsg_cfg_put_qmaxlen(buf, cfg.maxLen);
  const flags = (cfg.failOpenWhenFull ? NFQA_CFG_F_FAIL_OPEN : 0) |
    (cfg.gso ? NFQA_CFG_F_GSO : 0);
  // mnl_attr_put_u32 stores the value as given; the kernel reads these two big-endian.
  mnl.mnl_attr_put_u32(buf, NFQA_CFG_FLAGS, htonl(flags));
  mnl.mnl_attr_put_u32(buf, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO));
  return view.getUint32(0, true);
}
