/**
 * Small packet handlers used by the end-to-end tests and the benchmark, standing in for the
 * FULLNAT engine. Each proves one thing about the queue.
 *
 * @module
 */

import { Verdict } from "../src/nfqueue/handler.ts";
import { adjust, sum32 } from "../src/wire/checksum.ts";
import type { PacketHandler } from "../src/nfqueue/handler.ts";

/** Lets everything through unchanged (verdict without payload). */
export function acceptHandler(): PacketHandler {
  return { outLength: 0, handle: () => Verdict.Accept };
}

/** Returns every packet as "rewritten" with identical bytes (verdict with payload). */
export function sameBytesHandler(): PacketHandler {
  const handler = {
    outLength: 0,
    handle(_buf: Uint8Array, _off: number, len: number): Verdict {
      handler.outLength = len;
      return Verdict.Rewritten;
    },
  };
  return handler;
}

/** Throws on every packet: the loop must count it and let the packet through. */
export function throwingHandler(): PacketHandler {
  return {
    outLength: 0,
    handle() {
      throw new Error("handler failure on purpose");
    },
  };
}

/** Drops IPv4 TCP packets to `port`, accepts the rest. */
export function dropPortHandler(port: number): PacketHandler {
  return {
    outLength: 0,
    handle(buf, off, len) {
      if (len < 20 || buf[off] >> 4 !== 4 || buf[off + 9] !== 6) return Verdict.Accept;
      const l4 = off + (buf[off] & 15) * 4;
      if (l4 + 4 > off + len) return Verdict.Accept;
      return ((buf[l4 + 2] << 8) | buf[l4 + 3]) === port ? Verdict.Drop : Verdict.Accept;
    },
  };
}

/** RFC 1071 checksum of the IPv4 header at `off`. */
function ipv4HeaderChecksum(buf: Uint8Array, off: number, ihl: number): number {
  let sum = 0;
  for (let i = 0; i < ihl; i += 2) sum += (buf[off + i] << 8) | buf[off + i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Appends `suffix` to the payload of IPv4 UDP datagrams, growing the packet in the room
 * after it: fixes the IP total length and header checksum and the UDP length, and sets the
 * UDP checksum to 0 (allowed for IPv4). Proves that changed bytes and a changed length
 * reach the receiver.
 */
export function udpAppendHandler(suffix: string): PacketHandler {
  const extra = new TextEncoder().encode(suffix);
  const handler = {
    outLength: 0,
    handle(buf: Uint8Array, off: number, len: number, cap: number): Verdict {
      if (len < 28 || buf[off] >> 4 !== 4 || buf[off + 9] !== 17) return Verdict.Accept;
      if (len + extra.length > cap) return Verdict.Accept;
      const ihl = (buf[off] & 15) * 4;
      const newLen = len + extra.length;
      buf.set(extra, off + len);
      buf[off + 2] = newLen >> 8;
      buf[off + 3] = newLen & 0xff;
      buf[off + 10] = 0;
      buf[off + 11] = 0;
      const c = ipv4HeaderChecksum(buf, off, ihl);
      buf[off + 10] = c >> 8;
      buf[off + 11] = c & 0xff;
      const udpLen = newLen - ihl;
      buf[off + ihl + 4] = udpLen >> 8;
      buf[off + ihl + 5] = udpLen & 0xff;
      buf[off + ihl + 6] = 0;
      buf[off + ihl + 7] = 0;
      handler.outLength = newLen;
      return Verdict.Rewritten;
    },
  };
  return handler;
}

/** Parses a dotted IPv4 address into a 32-bit number. */
function ipv4Number(text: string): number {
  return text.split(".").reduce((n, part) => n * 256 + Number(part), 0);
}

function get32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function set32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/**
 * A stateless 1:1 address translation of IPv4 TCP/UDP, the smallest real rewrite: a packet
 * to `virtual` goes to `real`, a packet from `real` comes back from `virtual`. Both
 * checksums are updated incrementally (RFC 1624), as the engine does, so the packet is only
 * right on the wire if the queue completes checksums the kernel left pending.
 */
export function dnatHandler(virtual: string, real: string): PacketHandler {
  const vip = ipv4Number(virtual);
  const rip = ipv4Number(real);
  const handler = {
    outLength: 0,
    handle(buf: Uint8Array, off: number, len: number): Verdict {
      if (len < 20 || buf[off] >> 4 !== 4) return Verdict.Accept;
      const proto = buf[off + 9];
      if (proto !== 6 && proto !== 17) return Verdict.Accept;
      // Plain branches, no destructuring: the loop's allocation probe runs this handler.
      let at = off + 16;
      let to = rip;
      if (get32(buf, at) !== vip) {
        at = off + 12;
        to = vip;
        if (get32(buf, at) !== rip) return Verdict.Accept;
      }
      const from = get32(buf, at);
      set32(buf, at, to);
      const ipCheck = (buf[off + 10] << 8) | buf[off + 11];
      const ip = adjust(ipCheck, sum32(from), sum32(to));
      buf[off + 10] = ip >>> 8;
      buf[off + 11] = ip & 0xff;
      const field = off + (buf[off] & 15) * 4 + (proto === 6 ? 16 : 6);
      const l4Check = (buf[field] << 8) | buf[field + 1];
      if (proto === 6 || l4Check !== 0) {
        const l4 = adjust(l4Check, sum32(from), sum32(to));
        buf[field] = l4 >>> 8;
        buf[field + 1] = l4 & 0xff;
      }
      handler.outLength = len;
      return Verdict.Rewritten;
    },
  };
  return handler;
}

/** A handler by name, as the router loop script takes it on its command line. */
export function handlerByName(name: string): PacketHandler {
  if (name === "accept") return acceptHandler();
  if (name === "same") return sameBytesHandler();
  if (name === "throw") return throwingHandler();
  if (name.startsWith("drop-port=")) return dropPortHandler(Number(name.slice(10)));
  if (name.startsWith("udp-append=")) return udpAppendHandler(name.slice(11));
  if (name.startsWith("dnat=")) {
    const [virtual, real] = name.slice(5).split(">");
    return dnatHandler(virtual, real);
  }
  throw new Error(`unknown handler '${name}'`);
}
