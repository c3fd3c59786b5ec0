/**
 * Builds nfnetlink_queue packet messages the way the kernel lays them out, for unit tests
 * of the parsing and batching code.
 *
 * @module
 */

/** Attribute type and raw value. */
export type Attr = [type: number, value: Uint8Array];

/** A big-endian u32 attribute value. */
export function be32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, false);
  return b;
}

/** The 7-byte `nfqnl_msg_packet_hdr`: id, hw_protocol, hook. */
export function packetHdr(id: number, hwProtocol = 0x0800, hook = 0): Uint8Array {
  const b = new Uint8Array(7);
  const v = new DataView(b.buffer);
  v.setUint32(0, id, false);
  v.setUint16(4, hwProtocol, false);
  v.setUint8(6, hook);
  return b;
}

/** A netlink message of `type` (default: queue packet) with the nfgenmsg header and attrs. */
export function message(attrs: Attr[], queueNum = 0, type = 0x0300): Uint8Array {
  let len = 20;
  for (const [, v] of attrs) len += (4 + v.length + 3) & ~3;
  const b = new Uint8Array(len);
  const view = new DataView(b.buffer);
  view.setUint32(0, len, true);
  view.setUint16(4, type, true);
  view.setUint8(16, 2); // nfgen_family AF_INET
  view.setUint16(18, queueNum, false);
  let pos = 20;
  for (const [t, v] of attrs) {
    view.setUint16(pos, 4 + v.length, true);
    view.setUint16(pos + 2, t, true);
    b.set(v, pos + 4);
    pos += (4 + v.length + 3) & ~3;
  }
  return b;
}

/** A kernel-style packet message: header, indev, skb info, then the payload last. */
export function packetMessage(id: number, payload: Uint8Array, queueNum = 0): Uint8Array {
  return message([[1, packetHdr(id)], [5, be32(3)], [14, be32(0)], [10, payload]], queueNum);
}

/** An NLMSG_ERROR message carrying `error` (negative errno, 0 for an ack). */
export function errorMessage(error: number, seq = 0): Uint8Array {
  const b = new Uint8Array(36);
  const v = new DataView(b.buffer);
  v.setUint32(0, 36, true);
  v.setUint16(4, 2, true);
  v.setUint32(8, seq, true);
  v.setInt32(16, error, true);
  return b;
}

/** Concatenates messages (already 4-byte aligned lengths) into one datagram. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Splits a buffer of back-to-back verdict messages into [id, verdict, payload?] triples. */
export function readVerdicts(
  buf: Uint8Array,
  len: number,
): Array<{ id: number; verdict: number; queueNum: number; payload?: Uint8Array }> {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = [];
  let pos = 0;
  while (pos < len) {
    const msgLen = view.getUint32(pos, true);
    const queueNum = view.getUint16(pos + 18, false);
    const verdict = view.getUint32(pos + 24, false);
    const id = view.getUint32(pos + 28, false);
    let payload: Uint8Array | undefined;
    if (msgLen > 32) {
      const nlaLen = view.getUint16(pos + 32, true);
      payload = buf.slice(pos + 36, pos + 32 + nlaLen);
    }
    out.push({ id, verdict, queueNum, payload });
    pos += msgLen;
  }
  return out;
}
