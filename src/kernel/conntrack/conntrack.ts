/**
 * {@linkcode Conntrack}: the kernel's connection tracking table of the current network
 * namespace through ctnetlink: batched creation of offload entries with one ack per entry,
 * dumps filtered by mark, deletion by original tuple; and {@linkcode CtEvents}, a separate
 * socket that receives destroy (and optionally new/update) events without blocking the event
 * loop. The socket plumbing (open, bind, options, sendto, recvmmsg) is the queue's
 * {@linkcode NetlinkSocket} and {@linkcode RxRing}; this module only builds and reads messages.
 *
 * All calls but {@linkcode CtEvents.wait} are synchronous: the kernel handles a ctnetlink
 * request inside `sendto` and has queued every acknowledgement by the time it returns, so a
 * create of a batch costs one `sendto` and one or two `recvmmsg`, with no thread hop.
 *
 * @module
 */

import {
  EAGAIN,
  EINTR,
  ENOBUFS,
  MSG_DONTWAIT,
  MSG_WAITFORONE,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  SOL_NETLINK,
} from "../../nfqueue/constants.ts";
import { strerror } from "../../nfqueue/ffi.ts";
import { NetlinkSocket } from "../../nfqueue/netlink_socket.ts";
import { nlAlign } from "../../nfqueue/netlink_parse.ts";
import { RxRing } from "../../nfqueue/rx_ring.ts";
import {
  ERRNO,
  IPCTNL_MSG_CT_DELETE,
  IPCTNL_MSG_CT_NEW,
  NETLINK_ADD_MEMBERSHIP,
  NETLINK_BROADCAST_ERROR,
  NETLINK_CAP_ACK,
  NFNL_SUBSYS_CTNETLINK,
  NFNLGRP,
  NLM_F,
} from "./constants.ts";
import { parseEntry } from "./decode.ts";
import {
  entryProblem,
  MAX_NEW_MESSAGE_BYTES,
  NlWriter,
  tupleProblem,
  writeDelete,
  writeDump,
  writeNew,
} from "./encode.ts";
import type {
  CtEntry,
  CtEvent,
  CtEventCounters,
  CtTuple,
  OffloadEntry,
  OffloadResult,
} from "./types.ts";

/** Bytes of CT_NEW messages sent per datagram (about 280 IPv4 entries). */
const DATAGRAM_BYTES = 64 * 1024;
/**
 * Receive slots. A dump part is at most 32 KiB (the kernel sizes dump messages to the largest
 * read it has seen, capped at 32 KiB less skb overhead). Every acknowledgement is a datagram
 * of its own, so many slots cut the recvmmsg calls of a batch: 280 acks take 5, not 35.
 */
const SLOT_BYTES = 32 * 1024;
const SLOTS = 64;
const TYPE_NEW = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
const TYPE_DELETE = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;

/** Counters of a {@linkcode Conntrack} (cumulative). */
export interface ConntrackCounters {
  /** Entries the kernel created. */
  created: number;
  /** Entries refused because one with the same tuple existed (EEXIST). */
  clashes: number;
  /** Entries refused for lack of room (ENOMEM, ENOSPC). */
  tableFull: number;
  /** Entries refused for any other errno. */
  refused: number;
  /** Entries with no acknowledgement at all (ETIMEDOUT). */
  unanswered: number;
  /** Datagrams sent (a batch of N entries takes ceil(N / ~280)). */
  datagrams: number;
  /** Entries deleted by {@linkcode Conntrack.delete}. */
  deleted: number;
  /** Dumps run. */
  dumps: number;
}

/** Options of {@linkcode Conntrack}. */
export interface ConntrackOptions {
  /** Longest wait for an acknowledgement or a dump part, ms (default 2000). */
  timeoutMs?: number;
}

function reasonOf(errno: number): OffloadResult["reason"] {
  if (errno === 0) return "created";
  if (errno === ERRNO.EEXIST) return "exists";
  if (errno === ERRNO.ENOMEM || errno === ERRNO.ENOSPC) return "table-full";
  if (errno === ERRNO.EINVAL) return "invalid";
  return "error";
}

/** Calls `fn` on every netlink message of the `n` datagrams last received into `rx`. */
function eachMessage(
  rx: RxRing,
  n: number,
  fn: (pos: number, len: number, type: number, flags: number, seq: number) => void,
): void {
  const v = rx.view;
  for (let i = 0; i < n; i++) {
    const start = i * rx.slotSize;
    const end = start + rx.length(i);
    let pos = start;
    while (pos + NLMSG_HDRLEN <= end) {
      const len = v.getUint32(pos, true);
      if (len < NLMSG_HDRLEN || pos + len > end) break;
      fn(
        pos,
        len,
        v.getUint16(pos + 4, true),
        v.getUint16(pos + 6, true),
        v.getUint32(pos + 8, true),
      );
      pos += nlAlign(len);
    }
  }
}

/** The conntrack table of the network namespace the process is in. Needs CAP_NET_ADMIN. */
export class Conntrack {
  /** Live counters. */
  readonly counters: ConntrackCounters = {
    created: 0,
    clashes: 0,
    tableFull: 0,
    refused: 0,
    unanswered: 0,
    datagrams: 0,
    deleted: 0,
    dumps: 0,
  };
  readonly #sock: NetlinkSocket;
  readonly #rx = new RxRing(SLOTS, SLOT_BYTES);
  readonly #tx = new Uint8Array(DATAGRAM_BYTES + MAX_NEW_MESSAGE_BYTES);
  #seq = (Date.now() & 0x3fffffff) >>> 0;

  /** Opens the request socket; throws an Error saying what failed. */
  constructor(options: ConntrackOptions = {}) {
    const timeout = options.timeoutMs ?? 2000;
    if (!Number.isInteger(timeout) || timeout < 1) {
      throw new RangeError(`timeoutMs must be a positive integer, got ${timeout}`);
    }
    this.#sock = new NetlinkSocket();
    try {
      // Acks of a whole datagram must fit, or the kernel drops some (ENOBUFS) and the
      // fate of those entries is unknown.
      this.#sock.setBufferSize("rcv", 8 << 20);
      this.#sock.setBufferSize("snd", 1 << 20);
      // Error acks then carry the failed message's header only, not its 200 bytes.
      this.#sock.setInt(SOL_NETLINK, NETLINK_CAP_ACK, 1);
      const t = this.#sock.setReceiveTimeout(timeout);
      if (t < 0) throw new Error(`cannot set SO_RCVTIMEO: ${strerror(-t)}`);
    } catch (err) {
      this.#sock.close();
      throw err;
    }
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    if (this.#seq === 0) this.#seq = 1;
    return this.#seq;
  }

  /**
   * Creates `entries` (CT_NEW, CREATE|EXCL|ACK), as few datagrams as fit, and returns the
   * kernel's answer for each, in order. Throws, sending nothing, when an entry is malformed
   * (the message names the entry's index and field).
   */
  create(entries: readonly OffloadEntry[]): OffloadResult[] {
    if (!Array.isArray(entries)) throw new TypeError("create() takes an array of offload entries");
    entries.forEach((e, i) => {
      const p = entryProblem(e);
      if (p !== undefined) throw new RangeError(`offload entry ${i}: ${p}`);
    });
    const errnos = new Array<number>(entries.length).fill(-1);
    const w = new NlWriter(this.#tx);
    let first = 0;
    let firstSeq = 0;
    const flush = (end: number) => {
      if (end === first) return;
      this.#sendAndCollect(w.pos, first, end, firstSeq, errnos);
      w.pos = 0;
      first = end;
    };
    for (let i = 0; i < entries.length; i++) {
      if (w.pos + MAX_NEW_MESSAGE_BYTES > DATAGRAM_BYTES) flush(i);
      const seq = this.#nextSeq();
      if (i === first) firstSeq = seq;
      writeNew(w, entries[i], seq);
    }
    flush(entries.length);
    return errnos.map((errno) => {
      const c = this.counters;
      if (errno === 0) c.created++;
      else if (errno === ERRNO.EEXIST) c.clashes++;
      else if (errno === ERRNO.ENOMEM || errno === ERRNO.ENOSPC) c.tableFull++;
      else if (errno === ERRNO.ETIMEDOUT) c.unanswered++;
      else c.refused++;
      return { ok: errno === 0, errno, reason: reasonOf(errno) };
    });
  }

  /** Sends `tx[0, len)` holding entries [first, end) numbered from `seq0`; fills their errnos. */
  #sendAndCollect(len: number, first: number, end: number, seq0: number, errnos: number[]): void {
    this.counters.datagrams++;
    const sent = this.#sock.send(this.#tx, len);
    if (sent < 0) {
      for (let i = first; i < end; i++) errnos[i] = -sent;
      return;
    }
    let missing = end - first;
    const count = end - first;
    this.#collect(() => missing === 0, (_pos, _len, type, _flags, seq, error) => {
      if (type !== NLMSG_ERROR) return;
      const k = (seq - seq0) >>> 0;
      if (k < count && errnos[first + k] === -1) {
        errnos[first + k] = error;
        missing--;
      }
    });
    for (let i = first; i < end; i++) if (errnos[i] === -1) errnos[i] = ERRNO.ETIMEDOUT;
  }

  /**
   * Receives until `done()` or a timeout: non-blocking first (acks are already queued),
   * then blocking reads bounded by SO_RCVTIMEO. `fn` sees every message; for NLMSG_ERROR the
   * last argument is its errno (0 = ack).
   */
  #collect(
    done: () => boolean,
    fn: (pos: number, len: number, type: number, flags: number, seq: number, error: number) => void,
  ): boolean {
    const rx = this.#rx;
    let flags = MSG_DONTWAIT;
    for (let rounds = 0; !done(); rounds++) {
      const n = this.#sock.receive(rx.mmsgPtr, SLOTS, flags);
      if (n < 0) {
        if (-n === EINTR) continue;
        if (-n === EAGAIN && flags === MSG_DONTWAIT) {
          flags = MSG_WAITFORONE;
          continue;
        }
        if (-n === ENOBUFS) continue; // some answers lost; the rest still count
        return false; // EAGAIN after the timeout, or a hard error
      }
      flags = MSG_DONTWAIT;
      eachMessage(rx, n, (pos, len, type, f, seq) => {
        const error = type === NLMSG_ERROR && len >= NLMSG_HDRLEN + 4
          ? (-rx.view.getInt32(pos + NLMSG_HDRLEN, true)) | 0
          : 0;
        fn(pos, len, type, f, seq, error);
      });
    }
    return true;
  }

  /**
   * Every entry whose mark matches (`entry.mark & mask === mark & mask`; mask 0 for all), both
   * families, TCP and UDP. Throws when the kernel refuses the dump or does not finish it.
   */
  dump(mark: number, mask = 0xffffffff): CtEntry[] {
    for (const [n, what] of [[mark, "mark"], [mask, "mask"]] as const) {
      if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
        throw new RangeError(`${what} must be 0..4294967295, got ${n}`);
      }
    }
    const w = new NlWriter(this.#tx);
    const seq = this.#nextSeq();
    const len = writeDump(w, mark, mask, seq);
    this.counters.dumps++;
    const sent = this.#sock.send(this.#tx, len);
    if (sent < 0) throw new Error(`conntrack dump request failed: ${strerror(-sent)}`);
    const out: CtEntry[] = [];
    let finished = false;
    let failure = 0;
    const rx = this.#rx;
    const ok = this.#collect(() => finished, (pos, mlen, type, _flags, s, error) => {
      if (s !== seq) return;
      if (type === NLMSG_DONE) finished = true;
      else if (type === NLMSG_ERROR) {
        finished = true;
        failure = error;
      } else if (type === TYPE_NEW) {
        const e = parseEntry(rx.view, pos, mlen);
        if (e !== undefined) out.push(e);
      }
    });
    if (failure !== 0) {
      throw new Error(`the kernel refused the conntrack dump: ${strerror(failure)}`);
    }
    if (!ok) throw new Error("the conntrack dump did not finish (no answer from the kernel)");
    return out;
  }

  /**
   * Deletes the entry whose original tuple is `orig`. Returns 0, or the errno (ENOENT = no
   * such entry). Throws on a malformed tuple.
   */
  delete(orig: CtTuple): number {
    const p = tupleProblem(orig, "tuple");
    if (p !== undefined) throw new RangeError(p);
    const w = new NlWriter(this.#tx);
    const seq = this.#nextSeq();
    const len = writeDelete(w, orig, seq);
    const sent = this.#sock.send(this.#tx, len);
    if (sent < 0) return -sent;
    let result = -1;
    this.#collect(() => result !== -1, (_p, _l, type, _f, s, error) => {
      if (type === NLMSG_ERROR && s === seq) result = error;
    });
    if (result === 0) this.counters.deleted++;
    return result === -1 ? ERRNO.ETIMEDOUT : result;
  }

  /** Opens an event socket (see {@linkcode CtEvents}). */
  events(options: CtEventsOptions = {}): CtEvents {
    return new CtEvents(options);
  }

  /** Closes the socket. Idempotent. Entries created stay in the kernel. */
  close(): void {
    this.#sock.close();
  }
}

/** Options of {@linkcode CtEvents}. */
export interface CtEventsOptions {
  /** Event kinds to receive (default `["destroy"]`). */
  groups?: ReadonlyArray<"new" | "update" | "destroy">;
  /**
   * Reliable delivery (default true): `NETLINK_BROADCAST_ERROR` + `NETLINK_NO_ENOBUFS`, as
   * conntrackd's `NetlinkEventsReliable`. When our receive queue is full the kernel learns
   * that the destroy event was not delivered and keeps the dying entry to deliver it again
   * later, instead of losing it; we never see ENOBUFS. Unreliable: events are lost when the
   * queue overruns, counted in `overruns`, and a dump must reconcile.
   */
  reliable?: boolean;
  /** Receive buffer, bytes (default 8 MiB; the kernel doubles it). */
  receiveBufferBytes?: number;
  /** Longest wait of {@linkcode CtEvents.wait}, ms (default 200). */
  waitMs?: number;
}

/** A conntrack event listener of the current network namespace. */
export class CtEvents {
  /** Live counters. */
  readonly counters: CtEventCounters = { events: 0, overruns: 0, malformed: 0 };
  readonly #sock = new NetlinkSocket();
  readonly #rx = new RxRing(SLOTS, SLOT_BYTES);
  #waiting = false;

  /** Subscribes; throws an Error naming the failed step. */
  constructor(options: CtEventsOptions = {}) {
    try {
      const groups = options.groups ?? ["destroy"];
      if (groups.length === 0) throw new RangeError("an event socket needs at least one group");
      const s = this.#sock;
      s.setBufferSize("rcv", options.receiveBufferBytes ?? 8 << 20);
      if (options.reliable ?? true) {
        const r = s.setInt(SOL_NETLINK, NETLINK_BROADCAST_ERROR, 1);
        if (r < 0) throw new Error(`cannot set NETLINK_BROADCAST_ERROR: ${strerror(-r)}`);
        s.setNoEnobufs();
      }
      const t = s.setReceiveTimeout(options.waitMs ?? 200);
      if (t < 0) throw new Error(`cannot set SO_RCVTIMEO: ${strerror(-t)}`);
      for (const g of groups) {
        const num = g === "new"
          ? NFNLGRP.CONNTRACK_NEW
          : g === "update"
          ? NFNLGRP.CONNTRACK_UPDATE
          : g === "destroy"
          ? NFNLGRP.CONNTRACK_DESTROY
          : undefined;
        if (num === undefined) {
          throw new RangeError(`unknown conntrack event group ${JSON.stringify(g)}`);
        }
        const r = s.setInt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, num);
        if (r < 0) throw new Error(`cannot join the conntrack ${g} events: ${strerror(-r)}`);
      }
    } catch (err) {
      this.#sock.close();
      throw err;
    }
  }

  /** The socket's file descriptor. */
  get fd(): number {
    return this.#sock.fd;
  }

  /** The events queued now, without blocking (empty when none). */
  read(): CtEvent[] {
    if (this.#waiting) throw new Error("read() while wait() is pending");
    const out: CtEvent[] = [];
    for (;;) {
      const n = this.#sock.receive(this.#rx.mmsgPtr, SLOTS, MSG_DONTWAIT);
      if (n > 0) {
        this.#parse(n, out);
        continue;
      }
      if (n < 0 && -n === ENOBUFS) {
        this.counters.overruns++;
        continue;
      }
      if (n < 0 && -n === EINTR) continue;
      return out;
    }
  }

  /**
   * Waits (on a helper thread, so the event loop runs) up to the `waitMs` option for events,
   * then returns those queued (possibly none).
   */
  async wait(): Promise<CtEvent[]> {
    if (this.#waiting) throw new Error("wait() is already pending");
    this.#waiting = true;
    let n: number;
    try {
      n = await this.#sock.receiveBlocking(this.#rx.mmsgPtr, SLOTS, MSG_WAITFORONE);
    } finally {
      this.#waiting = false;
    }
    const out: CtEvent[] = [];
    if (n > 0) this.#parse(n, out);
    // -1: timeout, or an error whose errno is on the helper thread; read() reports ENOBUFS.
    return out.concat(this.read());
  }

  #parse(n: number, out: CtEvent[]): void {
    const rx = this.#rx;
    eachMessage(rx, n, (pos, len, type, flags) => {
      if (type !== TYPE_NEW && type !== TYPE_DELETE) return;
      const e = parseEntry(rx.view, pos, len);
      if (e === undefined) {
        this.counters.malformed++;
        return;
      }
      const kind = type === TYPE_DELETE
        ? "destroy"
        : (flags & (NLM_F.CREATE | NLM_F.EXCL)) !== 0
        ? "new"
        : "update";
      this.counters.events++;
      out.push({ ...e, type: kind });
    });
  }

  /** Closes the socket. Idempotent; not while {@linkcode wait} is pending. */
  close(): void {
    this.#sock.close();
  }
}
