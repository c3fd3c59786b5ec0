/**
 * Resets on expiry of an offloaded session (`--offload established`, issue 15 point 3). The
 * kernel carries the session and never exports its sequence numbers, so when its entry ends
 * by idle timeout while ESTABLISHED the engine asks the real server for them: it sends an
 * out-of-window ACK from the local address and port (RFC 9293 3.10.7.4: a segment outside
 * the receive window is answered with an ACK carrying the receiver's SND.NXT as sequence
 * number and RCV.NXT as acknowledgment; Linux sends it as a duplicate ACK, or as a challenge
 * ACK when the segment's ack is too old). That answer matches no conntrack entry any more, so
 * it is INVALID and reaches the queue, and the engine, which kept the session (still
 * OFFLOADED, marked {@linkcode Handshake.PROBING}), takes its numbers and sends the two resets
 * of an ordinary expiry (`expiry.ts`): to the real server at its RCV.NXT, to the client at the
 * server's SND.NXT (the client's RCV.NXT: FULLNAT shifts only client -> server numbers). No
 * answer within {@linkcode PROBE_WAIT_MS} (the real server is gone), or a RST (it no longer
 * holds the connection): the session ends without resets. All counted.
 *
 * Everything here is off the per-packet path: the probe goes from the offload step's timer,
 * the answer arrives through the engine's out-of-line check of offloaded sessions.
 *
 * @module
 */
import { get32 } from "../wire/bytes.ts";
import { TCP, TCP_FLAG } from "../wire/tcp.ts";
import { type PacketSink, Verdict } from "../nfqueue/handler.ts";
import type { Engine } from "./engine.ts";
import type { AddressFamily } from "./family.ts";
import { INET } from "./family_ipv4.ts";
import { INET6 } from "./family_ipv6.ts";
import { sendResets } from "./expiry.ts";
import { Dir, Handshake, SessionFlag, V6 } from "./session_table.ts";
import { writeSessionSegment } from "./tcp_reset.ts";

/** How long the engine waits for the real server's answer to a probe. */
export const PROBE_WAIT_MS = 1000;

/**
 * How far behind the last numbers the engine saw the probe's sequence and ack go: far enough
 * out of the window whatever the connection moved since the offload (up to about 1 GiB each
 * way: past that the probe is beyond the window on the other side, except in a band of one
 * window every 4 GiB), and an ack that old draws a challenge ACK should the sequence fit.
 */
const PROBE_BACK = 0x40000000;

/** The probe's window: any; the segment is discarded before its window is looked at. */
const PROBE_WINDOW = 0xffff;

/** Scratch space for the probe (an IPv6 one is 60 bytes). */
const probeBuf = new Uint8Array(64);

/**
 * Sends the real server of offloaded session `id`, whose kernel entry ended by idle timeout,
 * the out-of-window ACK that makes it tell its sequence numbers, and marks the session as
 * waiting for the answer (under {@linkcode PROBE_WAIT_MS}). False (nothing sent) when resets
 * on expiry are off or there is nowhere to send.
 */
export function startExpiryProbe(e: Engine, emit: PacketSink | undefined, id: number): boolean {
  if (!e.resetOnExpiry || emit === undefined) return false;
  const t = e.table;
  const fam: AddressFamily = (t.proto[id] & V6) !== 0 ? INET6 : INET;
  const seq = (t.rsAck[id] - PROBE_BACK) >>> 0;
  const ack = (t.rsSeqEnd[id] - PROBE_BACK) >>> 0;
  const len = writeSessionSegment(
    fam,
    probeBuf,
    0,
    t,
    id,
    Dir.In,
    seq,
    ack,
    TCP_FLAG.ACK,
    PROBE_WINDOW,
  );
  emit(probeBuf, 0, len);
  t.handshake[id] |= Handshake.PROBING;
  t.expires[id] = e.now() + PROBE_WAIT_MS;
  e.counters.offloadExpiryProbes++;
  return true;
}

/**
 * A packet of session `id`, which waits for a probe's answer, reached the engine (direction
 * `dir`, TCP header at `l4`, packet ending at `end`): the real server's ACK gives the numbers
 * for both resets and the session ends; its RST ends it without resets; anything else
 * (the client, which spoke after the idle timeout, or a SYN) is dropped while the engine
 * waits. Always {@linkcode Verdict.Drop}: the answer itself goes to neither end.
 */
export function expiryProbeAnswer(
  e: Engine,
  emit: PacketSink | undefined,
  b: Uint8Array,
  l4: number,
  end: number,
  dir: Dir,
  id: number,
): Verdict {
  if (dir !== Dir.Out) return Verdict.Drop;
  const flags = b[l4 + TCP.FLAGS];
  if ((flags & TCP_FLAG.RST) !== 0) {
    endProbed(e, id);
    e.counters.sessionsExpired++;
    e.counters.offloadExpiryNoAnswer++;
    return Verdict.Drop;
  }
  if ((flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) !== TCP_FLAG.ACK) return Verdict.Drop;
  const t = e.table;
  const payload = end - l4 - ((b[l4 + TCP.DATA_OFFSET] >>> 4) << 2);
  const fin = (flags & TCP_FLAG.FIN) !== 0 ? 1 : 0;
  t.rsSeqEnd[id] = get32(b, l4 + TCP.SEQ) + payload + fin;
  t.rsAck[id] = get32(b, l4 + TCP.ACK);
  if (emit !== undefined) {
    sendResets(emit, t, id);
    e.counters.offloadExpiryResets++;
  } else e.counters.offloadExpiryNoAnswer++;
  endProbed(e, id);
  e.counters.sessionsExpired++;
  return Verdict.Drop;
}

/**
 * Probed session `id` got no answer in time: it ends without resets (the expiry scan, which
 * counts it among the sessions expired).
 */
export function expiryProbeTimedOut(e: Engine, id: number): void {
  e.counters.offloadExpiryNoAnswer++;
  endProbed(e, id);
}

/** Ends probed session `id`; its kernel entry is gone already, so none is queued for deletion. */
function endProbed(e: Engine, id: number): void {
  const t = e.table;
  t.flags[id] &= ~SessionFlag.OFFLOADED;
  t.handshake[id] &= ~Handshake.PROBING;
  e.removeSession(id);
}
