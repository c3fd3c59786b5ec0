/**
 * Parsing of nfnetlink_queue packet messages in TypeScript, over the JS-owned receive
 * buffer, into a reused {@linkcode PacketInfo} (no allocation per packet).
 *
 * Netlink headers are in host byte order (little-endian on the targets we run on);
 * nfnetlink attribute values are big-endian.
 *
 * @module
 */

import {
  NFGENMSG_LEN,
  NFQA_CAP_LEN,
  NFQA_IFINDEX_INDEV,
  NFQA_IFINDEX_OUTDEV,
  NFQA_MARK,
  NFQA_PACKET_HDR,
  NFQA_PAYLOAD,
  NFQA_SKB_INFO,
  NLA_HDRLEN,
  NLA_TYPE_MASK,
  NLMSG_HDRLEN,
} from "./constants.ts";

/** What the kernel told about one queued packet. Reused from packet to packet. */
export interface PacketInfo {
  /** Queue number the packet came from (`nfgenmsg.res_id`). */
  queueNum: number;
  /** The packet id the verdict must name. */
  id: number;
  /** Ethertype of the packet (0x0800 IPv4, 0x86dd IPv6). */
  hwProtocol: number;
  /** Netfilter hook number (0 = PREROUTING). */
  hook: number;
  /** skb mark, 0 when the kernel sent none. */
  mark: number;
  /** Input interface index, 0 when none. */
  indev: number;
  /** Output interface index, 0 when none. */
  outdev: number;
  /** `NFQA_SKB_*` bits (GSO, checksum not ready, not verified). */
  skbInfo: number;
  /** Original packet length when the payload was cut short, else 0. */
  capLen: number;
  /** Offset of the packet bytes in the buffer, -1 when there was no payload attribute. */
  payloadOffset: number;
  /** Length of the packet bytes delivered. */
  payloadLength: number;
}

/** A fresh, zeroed {@linkcode PacketInfo}. */
export function newPacketInfo(): PacketInfo {
  return {
    queueNum: 0,
    id: 0,
    hwProtocol: 0,
    hook: 0,
    mark: 0,
    indev: 0,
    outdev: 0,
    skbInfo: 0,
    capLen: 0,
    payloadOffset: -1,
    payloadLength: 0,
  };
}

/** Rounds up to the 4-byte netlink alignment. */
export function nlAlign(n: number): number {
  return (n + 3) & ~3;
}

/**
 * Parses the packet message whose header starts at `msg`, of which `msgLen` bytes are in
 * the buffer. Returns false when the message does not parse: too short, an attribute
 * overrunning the message, a short packet header or no packet header at all (then there is
 * no id to give a verdict for). A payload attribute cut short by the end of the data is
 * reported as a truncated payload (`capLen` > `payloadLength`), not as an error.
 */
export function parsePacketMessage(
  view: DataView,
  msg: number,
  msgLen: number,
  out: PacketInfo,
): boolean {
  if (msgLen < NLMSG_HDRLEN + NFGENMSG_LEN) return false;
  out.queueNum = view.getUint16(msg + NLMSG_HDRLEN + 2, false);
  out.id = 0;
  out.hwProtocol = 0;
  out.hook = 0;
  out.mark = 0;
  out.indev = 0;
  out.outdev = 0;
  out.skbInfo = 0;
  out.capLen = 0;
  out.payloadOffset = -1;
  out.payloadLength = 0;
  let haveHeader = false;
  const end = msg + msgLen;
  let pos = msg + NLMSG_HDRLEN + NFGENMSG_LEN;
  while (pos + NLA_HDRLEN <= end) {
    const nlaLen = view.getUint16(pos, true);
    const type = view.getUint16(pos + 2, true) & NLA_TYPE_MASK;
    const data = pos + NLA_HDRLEN;
    const dataLen = nlaLen - NLA_HDRLEN;
    if (nlaLen < NLA_HDRLEN) return false;
    if (pos + nlaLen > end) {
      // A datagram cut short by the receive buffer: the payload comes last, so the id is
      // still known and the packet can get a verdict instead of staying queued forever.
      if (type !== NFQA_PAYLOAD || !haveHeader) return false;
      out.payloadOffset = data;
      out.payloadLength = end - data;
      out.capLen = Math.max(out.capLen, dataLen);
      return true;
    }
    switch (type) {
      case NFQA_PACKET_HDR:
        // struct nfqnl_msg_packet_hdr: be32 id, be16 hw_protocol, u8 hook (packed, 7 bytes).
        if (dataLen < 7) return false;
        out.id = view.getUint32(data, false);
        out.hwProtocol = view.getUint16(data + 4, false);
        out.hook = view.getUint8(data + 6);
        haveHeader = true;
        break;
      case NFQA_PAYLOAD:
        out.payloadOffset = data;
        out.payloadLength = dataLen;
        break;
      case NFQA_CAP_LEN:
        if (dataLen < 4) return false;
        out.capLen = view.getUint32(data, false);
        break;
      case NFQA_SKB_INFO:
        if (dataLen < 4) return false;
        out.skbInfo = view.getUint32(data, false);
        break;
      case NFQA_MARK:
        if (dataLen < 4) return false;
        out.mark = view.getUint32(data, false);
        break;
      case NFQA_IFINDEX_INDEV:
        if (dataLen < 4) return false;
        out.indev = view.getUint32(data, false);
        break;
      case NFQA_IFINDEX_OUTDEV:
        if (dataLen < 4) return false;
        out.outdev = view.getUint32(data, false);
        break;
      default:
        // Attributes we do not use (timestamp, hwaddr, ct, uid...) are skipped.
        break;
    }
    pos += nlAlign(nlaLen);
  }
  return haveHeader;
}
