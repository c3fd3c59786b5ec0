/**
 * Expiry (seed 4.8): sessions idle past their state's timeout are removed; an ESTABLISHED
 * TCP session that expires first gets a RST sent to both ends, so neither waits on a
 * connection the balancer forgot: to the real server at the last ack it sent (in its own
 * space), to the client at the end of the real server's last segment (the real server's
 * sequence numbers are the client's too), both with ack 0, as LVS sends them. Stale
 * persistence templates go at the same time.
 *
 * @module
 */
import { IPPROTO } from "../wire/ipv4.ts";
import type { PacketSink } from "../nfqueue/handler.ts";
import type { Engine } from "./engine.ts";
import type { AddressFamily } from "./family.ts";
import { INET } from "./family_ipv4.ts";
import { INET6 } from "./family_ipv6.ts";
import { forgetTemplates } from "./persistence.ts";
import type { RealServer } from "./service.ts";
import { expiryProbeTimedOut } from "./offload_expiry.ts";
import { Dir, Handshake, SessionFlag, V6 } from "./session_table.ts";
import { writeSessionReset } from "./tcp_reset.ts";
import { TcpState } from "./tcp_state.ts";

/** Called for each session the expiry scan removes, before its slot is freed. */
export type ExpiryHook = (engine: Engine, id: number) => void;

/** Scratch space for the resets; reused, never reallocated (an IPv6 RST is 60 bytes). */
const resetBuf = new Uint8Array(64);

/**
 * Removes every session of `e` whose time is up, calling `hook` first for each and, when
 * `resetOnExpiry` and `emit` allow, resetting both ends of ESTABLISHED ones. Returns how many
 * sessions expired.
 */
export function expireSessions(e: Engine, emit: PacketSink | undefined, hook?: ExpiryHook): number {
  const now = e.now();
  const t = e.table;
  let n = 0;
  for (let id = 0, hw = t.highWater; id < hw; id++) {
    if (t.proto[id] === 0 || t.expires[id] > now) continue;
    if ((t.flags[id] & SessionFlag.OFFLOADED) !== 0) {
      // An offloaded session's time is the kernel's: it ends when the kernel's entry does,
      // or, when that ended by idle timeout, once the probe for its resets goes unanswered.
      if ((t.handshake[id] & Handshake.PROBING) !== 0) {
        hook?.(e, id);
        expiryProbeTimedOut(e, id);
        n++;
      }
      continue;
    }
    hook?.(e, id);
    if ((t.proto[id] & ~V6) === IPPROTO.TCP && t.state[id] === TcpState.ESTABLISHED) {
      if (e.resetOnExpiry && emit !== undefined) resetBothEnds(e, emit, id);
    }
    e.removeSession(id);
    n++;
  }
  e.counters.sessionsExpired += n;
  forgetTemplates(e, now);
  return n;
}

/**
 * Ends every session of real server `rs` at once (a drain's deadline): each TCP session the
 * server has spoken in gets the two resets of an expiry (whatever its state: both ends may
 * still hold the connection), when `emit` allows; UDP sessions and TCP ones the server never
 * answered just end.
 */
export function endServerSessions(
  e: Engine,
  emit: PacketSink | undefined,
  rs: RealServer,
): { ended: number; reset: number } {
  const t = e.table;
  let ended = 0;
  let reset = 0;
  for (let id = 0, hw = t.highWater; id < hw; id++) {
    if (t.proto[id] === 0 || e.registry.servers[t.server[id]] !== rs) continue;
    if (
      (t.proto[id] & ~V6) === IPPROTO.TCP && emit !== undefined &&
      (t.flags[id] & SessionFlag.RS_SEEN) !== 0
    ) {
      sendResets(emit, t, id);
      reset++;
    }
    e.removeSession(id);
    ended++;
  }
  e.counters.serverSessionsEnded += ended;
  e.counters.serverSessionResets += reset;
  return { ended, reset };
}

/** Sends the two resets of expiring ESTABLISHED session `id`, if the real server ever spoke. */
function resetBothEnds(e: Engine, emit: PacketSink, id: number): void {
  const t = e.table;
  if ((t.flags[id] & SessionFlag.RS_SEEN) === 0) {
    // Nothing seen from the real server: no sequence numbers to base the resets on.
    e.counters.expiryResetsSkipped++;
    return;
  }
  sendResets(emit, t, id);
  e.counters.expiryResets++;
}

/** The RST to the real server at its last ack, and the one to the client at its last byte. */
export function sendResets(emit: PacketSink, t: Engine["table"], id: number): void {
  const fam: AddressFamily = (t.proto[id] & V6) !== 0 ? INET6 : INET;
  const buf = resetBuf;
  emit(buf, 0, writeSessionReset(fam, buf, 0, t, id, Dir.In, t.rsAck[id]));
  // A SYN proxy session's client knows the server's sequence numbers moved to the cookie's.
  emit(buf, 0, writeSessionReset(fam, buf, 0, t, id, Dir.Out, t.rsSeqEnd[id] - t.proxySeq[id]));
}
