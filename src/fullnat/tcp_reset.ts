/**
 * Bare TCP resets (no options, no payload, window 0) with correct checksums, in either
 * family: the resets sent to both ends of an ESTABLISHED session that expires (seed 4.8) and
 * the reset answering a connection attempt the engine refuses.
 *
 * @module
 */
import { get16, get32, set16, set32 } from "../wire/bytes.ts";
import { finish, sumWords } from "../wire/checksum.ts";
import { IPPROTO } from "../wire/ipv4.ts";
import { TCP, TCP_FLAG } from "../wire/tcp.ts";
import { type AddressFamily, Slot } from "./family.ts";
import { Dir, type SessionTable } from "./session_table.ts";

/** Writes a 20-byte TCP header with no options and window 0 at `r`, checksummed over `pseudo`. */
/**
 * The sequence and acknowledgment numbers of the segment being written. They travel here, not
 * as arguments: a number of 2^30 or more passed to a call that is not inlined is boxed into a
 * new heap number (16 B per refused SYN, measured by bench/refusal_cost.ts).
 */
const seqAck = new Uint32Array(2);

function writeBareTcp(
  b: Uint8Array,
  r: number,
  sport: number,
  dport: number,
  flags: number,
  pseudo: number,
  window = 0,
): void {
  set16(b, r + TCP.SPORT, sport);
  set16(b, r + TCP.DPORT, dport);
  set32(b, r + TCP.SEQ, seqAck[0]);
  set32(b, r + TCP.ACK, seqAck[1]);
  b[r + TCP.DATA_OFFSET] = 5 << 4;
  b[r + TCP.FLAGS] = flags;
  set16(b, r + TCP.WINDOW, window);
  set16(b, r + TCP.CHECKSUM, 0);
  set16(b, r + TCP.URGENT, 0);
  set16(b, r + TCP.CHECKSUM, finish(sumWords(b, r, TCP.MIN_HEADER, pseudo)));
}

/**
 * Writes at `b[o]` a RST of session `id` as a packet of direction `dir` would leave the
 * balancer: inward from the local endpoint to the real server, outward from the virtual
 * service to the client; ack 0. Returns its length.
 */
export function writeSessionReset(
  fam: AddressFamily,
  b: Uint8Array,
  o: number,
  t: SessionTable,
  id: number,
  dir: Dir,
  seq: number,
): number {
  return writeSessionSegment(fam, b, o, t, id, dir, seq, 0, TCP_FLAG.RST, 0);
}

/**
 * Writes at `b[o]` a bare segment of session `id` (no options, no payload) as a packet of
 * direction `dir` would leave the balancer, with the given sequence, ack, flags and window:
 * {@linkcode writeSessionReset}'s, and the SYN proxy's third ACK to a real server when it
 * held no client ACK (`syn_proxy.ts`). Returns its length.
 */
export function writeSessionSegment(
  fam: AddressFamily,
  b: Uint8Array,
  o: number,
  t: SessionTable,
  id: number,
  dir: Dir,
  seq: number,
  ack: number,
  flags: number,
  window: number,
): number {
  let sport: number, dport: number;
  if (dir === Dir.In) {
    fam.writeAddrs(b, o, t, id, Slot.L, Slot.D);
    sport = t.lport[id];
    dport = t.dport[id];
  } else {
    fam.writeAddrs(b, o, t, id, Slot.V, Slot.C);
    sport = t.vport[id];
    dport = t.cport[id];
  }
  const pseudo = fam.writeHeader(b, o, IPPROTO.TCP, TCP.MIN_HEADER);
  seqAck[0] = seq;
  seqAck[1] = ack;
  writeBareTcp(b, o + fam.headerLength, sport, dport, flags, pseudo, window);
  return fam.headerLength + TCP.MIN_HEADER;
}

/**
 * Overwrites the TCP segment at `l4` of the packet at `o` (total length `total`) with the RST
 * that answers it, from its destination to its source (RFC 9293 3.10.7.1): with an ACK the
 * reset takes its sequence number from it; otherwise it has seq 0 and acknowledges everything
 * the segment carried (its data, SYN and FIN). Returns the new packet length.
 */
export function writeResetReply(
  fam: AddressFamily,
  b: Uint8Array,
  o: number,
  l4: number,
  total: number,
): number {
  const sport = get16(b, l4 + TCP.SPORT);
  const dport = get16(b, l4 + TCP.DPORT);
  const flags = b[l4 + TCP.FLAGS];
  let rstFlags: number;
  if (flags & TCP_FLAG.ACK) {
    seqAck[0] = get32(b, l4 + TCP.ACK);
    seqAck[1] = 0;
    rstFlags = TCP_FLAG.RST;
  } else {
    const dataLength = o + total - l4 - ((b[l4 + TCP.DATA_OFFSET] >>> 4) << 2);
    const segLength = dataLength + (flags & TCP_FLAG.SYN ? 1 : 0) + (flags & TCP_FLAG.FIN ? 1 : 0);
    seqAck[0] = 0;
    // Stored as is: the array wraps the sum to 32 bits.
    seqAck[1] = get32(b, l4 + TCP.SEQ) + segLength;
    rstFlags = TCP_FLAG.RST | TCP_FLAG.ACK;
  }
  fam.swapAddrs(b, o);
  const pseudo = fam.writeHeader(b, o, IPPROTO.TCP, TCP.MIN_HEADER);
  writeBareTcp(b, o + fam.headerLength, dport, sport, rstFlags, pseudo);
  return fam.headerLength + TCP.MIN_HEADER;
}
