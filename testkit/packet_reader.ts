/**
 * Small readers of IPv4 packet fields for test assertions, independent of `src/`. They trust
 * the packet's own header lengths and do no validation beyond that.
 *
 * @module
 */

function get16(p: Uint8Array, off: number): number {
  return (p[off] << 8) | p[off + 1];
}

function get32(p: Uint8Array, off: number): number {
  return ((p[off] << 24) | (p[off + 1] << 16) | (p[off + 2] << 8) | p[off + 3]) >>> 0;
}

function addr(p: Uint8Array, off: number): string {
  return `${p[off]}.${p[off + 1]}.${p[off + 2]}.${p[off + 3]}`;
}

/** Source address as dotted text. */
export function ipv4Src(pkt: Uint8Array): string {
  return addr(pkt, 12);
}

/** Destination address as dotted text. */
export function ipv4Dst(pkt: Uint8Array): string {
  return addr(pkt, 16);
}

/** The protocol number. */
export function ipv4Proto(pkt: Uint8Array): number {
  return pkt[9];
}

/** The TTL. */
export function ipv4Ttl(pkt: Uint8Array): number {
  return pkt[8];
}

/** The total-length field. */
export function ipv4TotalLength(pkt: Uint8Array): number {
  return get16(pkt, 2);
}

/** Header length in bytes, which is also where the transport header starts. */
export function ipv4HeaderLength(pkt: Uint8Array): number {
  return (pkt[0] & 0x0f) * 4;
}

/** TCP/UDP source port. */
export function l4Sport(pkt: Uint8Array): number {
  return get16(pkt, ipv4HeaderLength(pkt));
}

/** TCP/UDP destination port. */
export function l4Dport(pkt: Uint8Array): number {
  return get16(pkt, ipv4HeaderLength(pkt) + 2);
}

/** TCP sequence number. */
export function tcpSeq(pkt: Uint8Array): number {
  return get32(pkt, ipv4HeaderLength(pkt) + 4);
}

/** TCP acknowledgement number. */
export function tcpAck(pkt: Uint8Array): number {
  return get32(pkt, ipv4HeaderLength(pkt) + 8);
}

/** TCP flags as letters in scapy's order (`FSRPAUECN`), e.g. "SA". */
export function tcpFlags(pkt: Uint8Array): string {
  const off = ipv4HeaderLength(pkt);
  const v = ((pkt[off + 12] & 1) << 8) | pkt[off + 13];
  return [..."FSRPAUECN"].filter((_, i) => (v & (1 << i)) !== 0).join("");
}

/** The TCP option area (between the fixed header and the data). */
export function tcpOptionArea(pkt: Uint8Array): Uint8Array {
  const off = ipv4HeaderLength(pkt);
  return pkt.subarray(off + 20, off + (pkt[off + 12] >>> 4) * 4);
}

/** The TCP payload. */
export function tcpPayload(pkt: Uint8Array): Uint8Array {
  const off = ipv4HeaderLength(pkt);
  return pkt.subarray(off + (pkt[off + 12] >>> 4) * 4, ipv4TotalLength(pkt));
}
