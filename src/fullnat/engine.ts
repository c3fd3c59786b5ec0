/**
 * The FULLNAT packet engine: a pure, synchronous function from an IPv4 packet to a verdict,
 * rewriting the packet in place. Clock is injected; there is no I/O. The hot path (lookup,
 * state update, rewrite) allocates nothing.
 *
 * Per packet: find the session by the packet tuple (the matching index entry says the
 * direction); a client SYN to a service with no session schedules a real server, picks a
 * local address and port and creates one; then the TCP state advances, the expiry is
 * refreshed, and addresses and ports are translated.
 *
 * @module
 */
import { type EngineCounters, newEngineCounters } from "./counters.ts";
import { ISN_TICKS_PER_MS, isnV4, isnV6 } from "./isn.ts";
import { readQuote6, translateIcmp6Error, writePacketTooBig } from "./icmp6_translate.ts";
import { writeFragNeeded } from "./icmp_reply.ts";
import { type QuoteView, readQuote, translateIcmpError } from "./icmp_translate.ts";
import {
  ICMP,
  ICMP4_FRAG_NEEDED,
  icmp4IsTranslatedError,
  icmp6IsTranslatedError,
} from "../wire/icmp.ts";
import { IPV6, type Ipv6Walk, ipv6Walk, readAddr6 } from "../wire/ipv6.ts";
import { shiftSeq, unshiftAck } from "./seq_translate.ts";
import { clampMss, stripTimestamp, stripToa } from "./tcp_option_edit.ts";
import { writeReset, writeReset6 } from "./tcp_reset.ts";
import { insertToaV4, insertToaV6, ToaSkip } from "./toa.ts";
import { Registry } from "./registry.ts";
import { RESET_LENGTH, writeResetReply, writeResetReply6 } from "./reject.ts";
import { translate, translate6 } from "./rewrite.ts";
import { schedule } from "./scheduler.ts";
import type { LocalAddress, RealServer, Service } from "./service.ts";
import { A6, Dir, NO_SESSION, SessionFlag, SessionTable, V6 } from "./session_table.ts";
import { nextTcpState, tcpEvent, TcpState, tcpTimeoutTable } from "./tcp_state.ts";
import { DEFAULT_TIMEOUTS, type PacketSink, type Timeouts, Verdict } from "./types.ts";
import { get16, get32 } from "../wire/bytes.ts";

/** What {@linkcode Engine} `#sessionless` returns for a packet that may open a session. */
const OPENS_SESSION = -1 as const;

/** `NFQA_SKB_GSO` of the queue's skb info: the packet is a GSO super-packet. */
const SKB_GSO = 2;

/** The IPv4 Don't Fragment flag in the flags/fragment-offset word. */
const IPV4_DF = 0x4000;
import {
  IPPROTO,
  IPV4,
  ipv4HeaderLength,
  ipv4IsFragment,
  ipv4Problem,
  ipv4TotalLength,
} from "../wire/ipv4.ts";
import { TCP, TCP_FLAG, tcpHeaderLength, tcpProblem } from "../wire/tcp.ts";
import { TCPOPT_LENGTH } from "../wire/tcp_options.ts";
import { udpProblem } from "../wire/udp.ts";

/** Session method codes stored in the table. */
export const METHOD_FULLNAT = 0;
/** NAT mode: only the destination is translated; the client address is kept. */
export const METHOD_NAT = 1;

/** What to do with a packet the engine cannot parse. */
export type MalformedPolicy = "drop" | "accept";
/** What to do with a client SYN the engine cannot place (no server, no local port, ...). */
export type RejectPolicy = "drop" | "reset";

/** Engine construction options; everything has a default but the clock. */
export interface EngineOptions {
  /** Monotonic milliseconds (injected so tests control time). */
  clock: () => number;
  /** Maximum concurrent sessions (default 1,048,576). */
  capacity?: number;
  /** Local ports handed out per local address, inclusive (default 1025..65535). */
  localPortRange?: [number, number];
  /** Port choices tried before a new connection is refused (default 64). */
  portTries?: number;
  malformedPolicy?: MalformedPolicy;
  rejectPolicy?: RejectPolicy;
  timeouts?: Partial<Timeouts>;
  /** Receives packets the engine originates (RSTs when an ESTABLISHED session expires). */
  emit?: PacketSink;
  /** Reset both ends of an ESTABLISHED session that expires (default on; needs `emit`). */
  resetOnExpiry?: boolean;
  /**
   * Largest packet the engine lets a TOA grow a segment to (default 1500, the usual MTU of
   * the real-server side). Segments that would exceed it are forwarded without TOA.
   */
  mtu?: number;
  /**
   * 64-bit secret of the ISN hash (two words). Defaults to random words drawn once here, so a
   * daemon that forgets to pass one still gets unpredictable ISNs; tests pass a fixed one.
   */
  isnSecret?: Uint32Array;
}

/** Called for each session the expiry scan removes, before its slot is freed. */
export type ExpiryHook = (engine: Engine, id: number) => void;

/** The FULLNAT/NAT engine. */
export class Engine {
  readonly table: SessionTable;
  readonly registry = new Registry();
  readonly counters: EngineCounters = newEngineCounters();
  readonly localPortRange: readonly [number, number];
  readonly portTries: number;
  malformedPolicy: MalformedPolicy;
  rejectPolicy: RejectPolicy;
  /** After `handle()` returned `Verdict.Rewritten`: the packet's new length. */
  outLength = 0;
  /** Reset both ends of ESTABLISHED sessions that expire (needs an `emit` sink). */
  resetOnExpiry: boolean;
  readonly mtu: number;
  #emit: PacketSink | undefined;
  /** Scratch space for packets the engine originates; reused, never reallocated. */
  #emitBuf = new Uint8Array(64);
  #isnSecret: Uint32Array;
  /** The port {@linkcode Engine} `#takeLocal` chose with the address it returned. */
  #lport = 0;
  /** IPv6 source and destination of the packet in hand, four words each; reused. */
  #pkt6 = new Uint32Array(8);
  /** Where the IPv6 packet in hand has its transport header; reused. */
  #walk: Ipv6Walk = { proto: 0, l4: 0, end: 0, fragment: false };
  /** Where the quote of the ICMP error in hand lies; reused for every error. */
  #quote: QuoteView = { ip: 0, l4: 0, end: 0 };
  #clock: () => number;
  #timeouts: Timeouts;
  #tcpTimeoutMs: Float64Array;
  #udpTimeoutMs: number;

  constructor(options: EngineOptions) {
    this.#clock = options.clock;
    this.table = new SessionTable(options.capacity ?? 1 << 20);
    const [lo, hi] = options.localPortRange ?? [1025, 65535];
    if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 1 && lo <= hi && hi <= 65535)) {
      throw new RangeError(
        `Local port range ${lo}-${hi} is invalid: use 1 <= low <= high <= 65535`,
      );
    }
    this.localPortRange = [lo, hi];
    this.portTries = options.portTries ?? 64;
    this.malformedPolicy = options.malformedPolicy ?? "drop";
    this.rejectPolicy = options.rejectPolicy ?? "reset";
    this.#emit = options.emit;
    this.resetOnExpiry = options.resetOnExpiry ?? true;
    this.mtu = options.mtu ?? 1500;
    if (!(Number.isInteger(this.mtu) && this.mtu >= 576 && this.mtu <= 65535)) {
      throw new RangeError(`MTU ${this.mtu} is invalid: use 576 to 65535`);
    }
    this.#isnSecret = options.isnSecret ?? crypto.getRandomValues(new Uint32Array(2));
    if (this.#isnSecret.length !== 2) throw new RangeError("isnSecret must hold two 32-bit words");
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.#tcpTimeoutMs = tcpTimeoutTable(this.#timeouts);
    this.#udpTimeoutMs = this.#timeouts.udp * 1000;
  }

  /** Current timeouts in seconds. */
  get timeouts(): Timeouts {
    return { ...this.#timeouts };
  }

  /** Replaces the timeouts; sessions pick up the new values on their next packet. */
  set timeouts(t: Timeouts) {
    this.#timeouts = { ...t };
    this.#tcpTimeoutMs = tcpTimeoutTable(t);
    this.#udpTimeoutMs = t.udp * 1000;
  }

  /** The engine's notion of now, in monotonic milliseconds. */
  now(): number {
    return this.#clock();
  }

  /**
   * Handles the IP packet at `b[o, o+len)`; may rewrite it in place using up to `cap` bytes.
   * Never throws on packet content. `skbInfo` holds the queue's `NFQA_SKB_*` bits: a GSO
   * super-packet is longer than the MTU by design (the kernel segments it afterwards), so the
   * TOA's MTU check does not apply to it.
   */
  handle(b: Uint8Array, o: number, len: number, cap: number, skbInfo = 0): Verdict {
    const c = this.counters;
    c.packets++;
    const version = len < 1 ? 0 : b[o] >>> 4;
    // A GSO super-packet may grow up to the buffer; the kernel's segments of it fit the MTU
    // because the client's MSS was lowered by the TOA length in the SYN-ACK.
    const limit = (skbInfo & SKB_GSO) !== 0 ? cap : Math.min(cap, this.mtu);
    if (version === 6) return this.#handle6(b, o, len, limit);
    if (version !== 4) {
      c.notIp++;
      return Verdict.Accept;
    }
    if (ipv4Problem(b, o, len) !== undefined) {
      c.malformedIp++;
      return this.#malformed();
    }
    if (ipv4IsFragment(b, o)) {
      c.fragments++;
      return Verdict.Drop;
    }
    const proto = b[o + IPV4.PROTOCOL];
    const ihl = ipv4HeaderLength(b, o);
    const total = ipv4TotalLength(b, o);
    if (proto !== IPPROTO.TCP && proto !== IPPROTO.UDP) {
      if (proto === IPPROTO.ICMP) return this.#icmp(b, o, ihl, total);
      // AH, ESP, GRE...: no session can say where they belong, so none reaches a real server
      // and none is answered by the balancer's own stack on the VIP's behalf.
      if (this.registry.isVip(get32(b, o + IPV4.DST))) {
        c.otherProtocolDropped++;
        return Verdict.Drop;
      }
      c.otherProtocol++;
      return Verdict.Accept;
    }
    const l4 = o + ihl;
    if (this.#l4Unsound(b, l4, total - ihl, proto)) return this.#malformed();

    // Addresses cross calls as signed 32-bit values: an unsigned one of 2^31 or more (any
    // address from 128.0.0.0 up) is not a small integer, and every call that is not inlined
    // would box it into a new heap number. The table and registry compare either form.
    const saddr = get32(b, o + IPV4.SRC) | 0;
    const daddr = get32(b, o + IPV4.DST) | 0;
    const sport = get16(b, l4);
    const dport = get16(b, l4 + 2);
    const t = this.table;
    let e = t.lookup(proto, saddr, sport, daddr, dport);
    if (e === NO_SESSION) {
      const svc = this.registry.find(proto, daddr, dport);
      const refusal = this.#sessionless(b, l4, proto, svc);
      if (refusal !== OPENS_SESSION) return refusal;
      const id = this.#newSession(svc!, proto, saddr, sport, daddr, dport);
      if (id === NO_SESSION) return this.#refuse(b, o, ihl, total, proto);
      e = id * 2;
    }
    return this.#forward(b, o, l4, total, limit, proto, e, false);
  }

  /** The verdict for a packet the engine cannot parse, per malformed policy. */
  #malformed(): Verdict {
    return this.malformedPolicy === "drop" ? Verdict.Drop : Verdict.Accept;
  }

  /** Checks the TCP or UDP header at `l4`; counts and says so when it is unsound. */
  #l4Unsound(b: Uint8Array, l4: number, l4Length: number, proto: number): boolean {
    const bad = proto === IPPROTO.TCP
      ? tcpProblem(b, l4, l4Length) !== undefined
      : udpProblem(b, l4, l4Length) !== undefined;
    if (bad) this.counters.malformedL4++;
    return bad;
  }

  /**
   * A packet that matches no session: passed on when no service wants it, dropped (and
   * counted) when it is TCP but not a SYN, else {@linkcode OPENS_SESSION}.
   */
  #sessionless(
    b: Uint8Array,
    l4: number,
    proto: number,
    svc: Service | undefined,
  ): Verdict | typeof OPENS_SESSION {
    if (svc === undefined) {
      this.counters.passedThrough++;
      return Verdict.Accept;
    }
    if (
      proto === IPPROTO.TCP &&
      (b[l4 + TCP.FLAGS] & (TCP_FLAG.SYN | TCP_FLAG.ACK | TCP_FLAG.RST)) !== TCP_FLAG.SYN
    ) {
      this.counters.tcpNoSession++;
      return Verdict.Drop;
    }
    return OPENS_SESSION;
  }

  /** {@linkcode handle} for an IPv6 packet. */
  #handle6(b: Uint8Array, o: number, len: number, limit: number): Verdict {
    const c = this.counters;
    const w = this.#walk;
    if (ipv6Walk(b, o, len, w) !== undefined) {
      c.malformedIp++;
      return this.#malformed();
    }
    if (w.fragment) {
      c.fragments++;
      return Verdict.Drop;
    }
    const proto = w.proto;
    const l4 = w.l4;
    const total = w.end - o;
    const a = this.#pkt6;
    readAddr6(b, o + IPV6.SRC, a, 0);
    readAddr6(b, o + IPV6.DST, a, 4);
    if (proto !== IPPROTO.TCP && proto !== IPPROTO.UDP) {
      if (proto === IPPROTO.ICMPV6) return this.#icmp6(b, o, l4, w.end);
      if (this.registry.isVip6(a, 4)) {
        c.otherProtocolDropped++;
        return Verdict.Drop;
      }
      c.otherProtocol++;
      return Verdict.Accept;
    }
    if (this.#l4Unsound(b, l4, w.end - l4, proto)) return this.#malformed();
    const sport = get16(b, l4);
    const dport = get16(b, l4 + 2);
    let e = this.table.lookup6(proto, a, 0, sport, a, 4, dport);
    if (e === NO_SESSION) {
      const svc = this.registry.find6(proto, a, 4, dport);
      const refusal = this.#sessionless(b, l4, proto, svc);
      if (refusal !== OPENS_SESSION) return refusal;
      const id = this.#newSession6(svc!, proto, sport, dport);
      if (id === NO_SESSION) {
        if (this.rejectPolicy === "reset" && proto === IPPROTO.TCP) {
          this.outLength = writeResetReply6(b, o, l4, total, a);
          c.resetsSent++;
          return Verdict.Rewritten;
        }
        return Verdict.Drop;
      }
      e = id * 2;
    }
    return this.#forward(b, o, l4, total, limit, proto, e, true);
  }

  /**
   * The per-session part of {@linkcode handle}, for both families: state, expiry, the TCP
   * edits, address translation and counters for the packet at `o` whose session entry is `e`.
   * The packet may grow to `limit` bytes.
   */
  #forward(
    b: Uint8Array,
    o: number,
    l4: number,
    total: number,
    limit: number,
    proto: number,
    e: number,
    v6: boolean,
  ): Verdict {
    const c = this.counters;
    const t = this.table;
    const id = e >> 1;
    const dir = e & 1;
    const now = this.#clock();
    const rs = this.registry.servers[t.server[id]] as RealServer;
    let out = total;
    if (proto === IPPROTO.TCP) {
      const flags = b[l4 + TCP.FLAGS];
      const st = t.state[id] as TcpState;
      const ns = nextTcpState(st, tcpEvent(flags), dir === Dir.In);
      if (dir === Dir.In && (flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === TCP_FLAG.SYN) {
        // The ISN clock in 4-microsecond ticks, computed here: a double passed to a call that
        // is not inlined is boxed into a new heap number.
        this.#clientSyn(b, l4, id, st, ns, Math.floor(now * ISN_TICKS_PER_MS) | 0, v6);
      }
      if (ns !== st) this.#setState(id, rs, st, ns);
      t.expires[id] = now + this.#tcpTimeoutMs[ns];
      if (dir === Dir.In) {
        out = this.#tcpIn(b, o, l4, total, limit, id, rs.service, flags, v6);
        if (out < 0) {
          // The segment became an ICMP error back to the client.
          this.outLength = -out;
          return Verdict.Rewritten;
        }
      } else this.#tcpOut(b, l4, total - (l4 - o), id, rs.service, flags, v6);
    } else {
      t.expires[id] = now + this.#udpTimeoutMs;
    }

    const svcStats = rs.service.stats;
    const base = id << 4;
    if (dir === Dir.In) {
      if (v6) {
        const from = t.method[id] === METHOD_NAT ? A6.C : A6.L;
        const fromPort = t.method[id] === METHOD_NAT ? t.cport[id] : t.lport[id];
        translate6(b, o, l4, proto, t.addr6, base + from, fromPort, base + A6.D, t.dport[id]);
      } else if (t.method[id] === METHOD_NAT) {
        translate(b, o, l4, proto, t.caddr[id] | 0, t.cport[id], t.daddr[id] | 0, t.dport[id]);
      } else translate(b, o, l4, proto, t.laddr[id] | 0, t.lport[id], t.daddr[id] | 0, t.dport[id]);
      svcStats.inPackets++;
      svcStats.inBytes += out;
      rs.stats.inPackets++;
      rs.stats.inBytes += out;
    } else {
      if (v6) {
        translate6(b, o, l4, proto, t.addr6, base + A6.V, t.vport[id], base + A6.C, t.cport[id]);
      } else translate(b, o, l4, proto, t.vaddr[id] | 0, t.vport[id], t.caddr[id] | 0, t.cport[id]);
      svcStats.outPackets++;
      svcStats.outBytes += out;
      rs.stats.outPackets++;
      rs.stats.outBytes += out;
    }
    c.forwarded++;
    this.outLength = out;
    return Verdict.Rewritten;
  }

  /**
   * A client SYN: a new session, or a SYN that reopens a session in a SYN or closing state
   * with a new ISN, gets a fresh sequence mapping; a retransmitted SYN keeps its mapping.
   */
  #clientSyn(
    b: Uint8Array,
    l4: number,
    id: number,
    st: TcpState,
    ns: TcpState,
    ticks: number,
    v6: boolean,
  ) {
    const t = this.table;
    const seq = get32(b, l4 + TCP.SEQ);
    if (st !== TcpState.NONE) {
      if (seq === t.clientIsn[id]) {
        this.counters.synRetransmits++;
        return;
      }
      if (ns !== TcpState.SYN_RECV) return;
      this.counters.seqMappingsRenewed++;
    }
    t.clientIsn[id] = seq;
    t.flags[id] = 0;
    if (t.method[id] === METHOD_FULLNAT) {
      const base = id << 4;
      const isn = v6
        ? isnV6(this.#isnSecret, t.addr6, base + A6.L, t.lport[id], base + A6.D, t.dport[id], ticks)
        : isnV4(this.#isnSecret, t.laddr[id] | 0, t.lport[id], t.daddr[id] | 0, t.dport[id], ticks);
      t.seqDelta[id] = (isn - seq) >>> 0;
    }
  }

  /**
   * Client->RS TCP edits before address translation: sequence shift, option removals, TOA.
   * Returns the segment's new total length, or minus the length of the "fragmentation
   * needed" error that replaced a DF segment too big to take its TOA.
   */
  #tcpIn(
    b: Uint8Array,
    o: number,
    l4: number,
    total: number,
    limit: number,
    id: number,
    svc: Service,
    flags: number,
    v6: boolean,
  ): number {
    const t = this.table;
    const c = this.counters;
    const base = id << 4;
    const toaLen = v6 ? TCPOPT_LENGTH.TOA_V6 : TCPOPT_LENGTH.TOA_V4;
    const wantsToa = t.method[id] === METHOD_FULLNAT && svc.toa && (flags & TCP_FLAG.RST) === 0 &&
      (t.flags[id] & SessionFlag.RS_DATA) === 0;
    if (
      wantsToa && total + toaLen > limit && tcpHeaderLength(b, l4) + toaLen <= 60 &&
      (v6 || (get16(b, o + IPV4.FLAGS_FRAG) & IPV4_DF) !== 0)
    ) {
      // Tell the client a path MTU its segments still fit in once TOA is added (IPv6 routers
      // never fragment, so there it is always the answer).
      c.toaFragNeeded++;
      const mtu = this.mtu - toaLen;
      return -(v6
        ? writePacketTooBig(b, o, l4, t.addr6, base + A6.V, base + A6.C, mtu)
        : writeFragNeeded(b, o, l4 - o, t.vaddr[id], t.caddr[id], mtu));
    }
    const delta = t.seqDelta[id];
    if (delta !== 0) shiftSeq(b, l4, delta | 0);
    if (tcpHeaderLength(b, l4) > TCP.MIN_HEADER) {
      const spoofed = stripToa(b, l4);
      if (spoofed !== 0) c.toaSpoofRemoved += spoofed;
      if (
        (flags & TCP_FLAG.SYN) !== 0 && svc.stripTimestamps && t.method[id] === METHOD_FULLNAT &&
        stripTimestamp(b, l4)
      ) c.timestampsStripped++;
    }
    if (!wantsToa) return total;
    const r = v6
      ? insertToaV6(b, o, l4, total, limit, t.addr6, base + A6.C, t.cport[id])
      : insertToaV4(b, o, l4, total, limit, t.caddr[id] | 0, t.cport[id]);
    if (r > 0) {
      c.toaInserted++;
      return r;
    }
    if (r === ToaSkip.NoOptionSpace) c.toaNoOptionSpace++;
    else c.toaTooBig++;
    return total;
  }

  /**
   * RS->client TCP edits before address translation: remembers where the real server's
   * sequence space stands (for resets on expiry), shifts ack and SACK back, clamps the MSS.
   */
  #tcpOut(
    b: Uint8Array,
    l4: number,
    l4Length: number,
    id: number,
    svc: Service,
    flags: number,
    v6: boolean,
  ): void {
    const t = this.table;
    const c = this.counters;
    const payload = l4Length - tcpHeaderLength(b, l4);
    // SYN and FIN each take one sequence number.
    const span = payload + (flags & TCP_FLAG.SYN ? 1 : 0) + (flags & TCP_FLAG.FIN ? 1 : 0);
    t.rsSeqEnd[id] = (get32(b, l4 + TCP.SEQ) + span) >>> 0;
    if (flags & TCP_FLAG.ACK) t.rsAck[id] = get32(b, l4 + TCP.ACK);
    t.flags[id] |= payload > 0 ? SessionFlag.RS_SEEN | SessionFlag.RS_DATA : SessionFlag.RS_SEEN;
    const delta = t.seqDelta[id];
    if (delta !== 0) {
      const blocks = unshiftAck(b, l4, delta | 0);
      if (blocks !== 0) c.sackBlocksTranslated += blocks;
    }
    if (
      (flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === (TCP_FLAG.SYN | TCP_FLAG.ACK) &&
      svc.clampMss && t.method[id] === METHOD_FULLNAT &&
      clampMss(b, l4, v6 ? TCPOPT_LENGTH.TOA_V6 : TCPOPT_LENGTH.TOA_V4)
    ) c.mssClamped++;
  }

  /**
   * ICMP: errors about a session are translated into the other end's view; everything else
   * (echo to a VIP, errors about the box's own traffic) goes on to the kernel unchanged.
   */
  #icmp(b: Uint8Array, o: number, ihl: number, total: number): Verdict {
    const c = this.counters;
    const icmp = o + ihl;
    if (total - ihl < ICMP.QUOTE) {
      c.malformedL4++;
      return this.#malformed();
    }
    if (!icmp4IsTranslatedError(b[icmp + ICMP.TYPE])) {
      c.icmpPassed++;
      return Verdict.Accept;
    }
    const q = this.#quote;
    if (!readQuote(b, icmp, o + total, q)) {
      c.icmpMalformedQuote++;
      return this.#malformed();
    }
    const qProto = b[q.ip + IPV4.PROTOCOL];
    if (qProto !== IPPROTO.TCP && qProto !== IPPROTO.UDP) {
      c.icmpPassed++;
      return Verdict.Accept;
    }
    // The quote is a datagram sent towards the error's source; its reverse is a packet of the
    // session travelling the other way, which the table knows.
    const t = this.table;
    const e = t.lookup(
      qProto,
      get32(b, q.ip + IPV4.DST),
      get16(b, q.l4 + 2),
      get32(b, q.ip + IPV4.SRC),
      get16(b, q.l4),
    );
    if (e === NO_SESSION) {
      c.icmpNoSession++;
      return Verdict.Accept;
    }
    const id = e >> 1;
    const delta = qProto === IPPROTO.TCP ? t.seqDelta[id] : 0;
    if ((e & 1) === Dir.Out) {
      // From the real-server side about a datagram we sent it: tell the client, in its terms.
      const rs = this.registry.servers[t.server[id]];
      const grows = qProto === IPPROTO.TCP && t.method[id] === METHOD_FULLNAT && rs?.service.toa;
      translateIcmpError(
        b,
        o,
        ihl,
        total,
        q,
        t.vaddr[id],
        t.caddr[id],
        t.caddr[id],
        t.cport[id],
        t.vaddr[id],
        t.vport[id],
        -delta | 0,
        0,
        grows && b[icmp + ICMP.CODE] === ICMP4_FRAG_NEEDED ? TCPOPT_LENGTH.TOA_V4 : 0,
      );
    } else {
      // From the client side about a datagram we sent the client: tell the real server.
      translateIcmpError(
        b,
        o,
        ihl,
        total,
        q,
        t.laddr[id],
        t.daddr[id],
        t.daddr[id],
        t.dport[id],
        t.laddr[id],
        t.lport[id],
        0,
        delta,
        0,
      );
    }
    c.icmpErrorsTranslated++;
    this.outLength = total;
    return Verdict.Rewritten;
  }

  /**
   * ICMPv6: errors about a session are translated into the other end's view; everything
   * else (echo to a VIP, errors about the box's own traffic) goes on to the kernel.
   */
  #icmp6(b: Uint8Array, o: number, icmp: number, end: number): Verdict {
    const c = this.counters;
    if (end - icmp < ICMP.QUOTE) {
      c.malformedL4++;
      return this.#malformed();
    }
    if (!icmp6IsTranslatedError(b[icmp + ICMP.TYPE])) {
      c.icmpPassed++;
      return Verdict.Accept;
    }
    const q = this.#quote;
    if (!readQuote6(b, icmp, end, q)) {
      c.icmpMalformedQuote++;
      return this.#malformed();
    }
    const qProto = b[q.ip + IPV6.NEXT_HEADER];
    if (qProto !== IPPROTO.TCP && qProto !== IPPROTO.UDP) {
      c.icmpPassed++;
      return Verdict.Accept;
    }
    const a = this.#pkt6;
    readAddr6(b, q.ip + IPV6.SRC, a, 0);
    readAddr6(b, q.ip + IPV6.DST, a, 4);
    const t = this.table;
    const e = t.lookup6(qProto, a, 4, get16(b, q.l4 + 2), a, 0, get16(b, q.l4));
    if (e === NO_SESSION) {
      c.icmpNoSession++;
      return Verdict.Accept;
    }
    const id = e >> 1;
    const base = id << 4;
    const delta = qProto === IPPROTO.TCP ? t.seqDelta[id] : 0;
    if ((e & 1) === Dir.Out) {
      const rs = this.registry.servers[t.server[id]];
      const grows = qProto === IPPROTO.TCP && t.method[id] === METHOD_FULLNAT && rs?.service.toa;
      translateIcmp6Error(
        b,
        o,
        icmp,
        end,
        q,
        t.addr6,
        base + A6.V,
        base + A6.C,
        base + A6.C,
        t.cport[id],
        base + A6.V,
        t.vport[id],
        -delta | 0,
        0,
        grows ? TCPOPT_LENGTH.TOA_V6 : 0,
      );
    } else {
      translateIcmp6Error(
        b,
        o,
        icmp,
        end,
        q,
        t.addr6,
        base + A6.L,
        base + A6.D,
        base + A6.D,
        t.dport[id],
        base + A6.L,
        t.lport[id],
        0,
        delta,
        0,
      );
    }
    c.icmpErrorsTranslated++;
    this.outLength = end - o;
    return Verdict.Rewritten;
  }

  /**
   * {@linkcode #newSession} for IPv6: the client and virtual addresses are `#pkt6[0..4)` and
   * `#pkt6[4..8)`.
   */
  #newSession6(svc: Service, proto: number, cport: number, vport: number): number {
    const c = this.counters;
    const now = this.#clock();
    const a = this.#pkt6;
    const rs = this.#pickServer(svc, a[0] ^ a[1] ^ a[2] ^ a[3], now);
    if (rs === undefined || rs.addr6 === undefined) {
      c.noRealServer++;
      return NO_SESSION;
    }
    const t = this.table;
    let la: LocalAddress | undefined;
    let id: number;
    if (rs.method === "nat") {
      if (t.lookup6(proto, rs.addr6, 0, rs.port, a, 0, cport) !== NO_SESSION) {
        c.natTupleInUse++;
        return NO_SESSION;
      }
      id = t.insert6(proto, a, 0, cport, a, 4, vport, a, 0, cport, rs.addr6, 0, rs.port);
    } else {
      la = this.#takeLocal(svc, proto, rs, true);
      if (la === undefined) return NO_SESSION;
      const lport = this.#lport;
      id = t.insert6(proto, a, 0, cport, a, 4, vport, la.addr6!, 0, lport, rs.addr6, 0, rs.port);
    }
    if (id === NO_SESSION) {
      c.tableFull++;
      return NO_SESSION;
    }
    this.#initSession(id, svc, rs, la, now);
    return id;
  }

  /** Answers or drops a connection attempt the engine could not place, per reject policy. */
  #refuse(b: Uint8Array, o: number, ihl: number, total: number, proto: number): Verdict {
    if (this.rejectPolicy === "reset" && proto === IPPROTO.TCP) {
      this.outLength = writeResetReply(b, o, ihl, total);
      this.counters.resetsSent++;
      return this.outLength === RESET_LENGTH ? Verdict.Rewritten : Verdict.Drop;
    }
    return Verdict.Drop;
  }

  /** Schedules a real server and a local endpoint and creates the session; counts failures. */
  #newSession(
    svc: Service,
    proto: number,
    caddr: number,
    cport: number,
    vaddr: number,
    vport: number,
  ): number {
    const c = this.counters;
    const now = this.#clock();
    const rs = this.#pickServer(svc, caddr, now);
    if (rs === undefined) {
      c.noRealServer++;
      return NO_SESSION;
    }
    const t = this.table;
    let laddr = caddr;
    let lport = cport;
    let la: LocalAddress | undefined;
    if (rs.method === "nat") {
      if (t.lookup(proto, rs.addr | 0, rs.port, caddr, cport) !== NO_SESSION) {
        c.natTupleInUse++;
        return NO_SESSION;
      }
    } else {
      la = this.#takeLocal(svc, proto, rs, false);
      if (la === undefined) return NO_SESSION;
      laddr = la.addr | 0;
      lport = this.#lport;
    }
    const id = t.insert(proto, caddr, cport, vaddr, vport, laddr, lport, rs.addr | 0, rs.port);
    if (id === NO_SESSION) {
      c.tableFull++;
      return NO_SESSION;
    }
    this.#initSession(id, svc, rs, la, now);
    return id;
  }

  /**
   * Picks a local address (round robin over the service's pool) and a port on it such that no
   * session already uses (RS address, RS port, local address, local port, proto), within
   * `portTries` choices. Returns the address with the port in `#lport`, or undefined having
   * counted why.
   */
  #takeLocal(
    svc: Service,
    proto: number,
    rs: RealServer,
    v6: boolean,
  ): LocalAddress | undefined {
    const pool = svc.localAddresses;
    if (pool.length === 0) {
      this.counters.noLocalAddress++;
      return undefined;
    }
    const t = this.table;
    for (let i = 0; i < this.portTries; i++) {
      const cand = pool[svc.localCursor++ % pool.length];
      if (svc.localCursor >= pool.length) svc.localCursor = 0;
      const p = cand.takePort();
      const taken = v6
        ? t.lookup6(proto, rs.addr6!, 0, rs.port, cand.addr6!, 0, p)
        : t.lookup(proto, rs.addr | 0, rs.port, cand.addr | 0, p);
      if (taken === NO_SESSION) {
        this.#lport = p;
        return cand;
      }
      cand.portConflicts++;
    }
    this.counters.portExhausted++;
    return undefined;
  }

  /** Fills a new session's owners and state and counts it. */
  #initSession(
    id: number,
    svc: Service,
    rs: RealServer,
    la: LocalAddress | undefined,
    now: number,
  ): void {
    const t = this.table;
    t.method[id] = rs.method === "nat" ? METHOD_NAT : METHOD_FULLNAT;
    t.state[id] = TcpState.NONE;
    t.service[id] = svc.id;
    t.server[id] = rs.id;
    t.local[id] = la ? la.id : -1;
    t.expires[id] = now;
    rs.inactiveConns++;
    if (la) la.conns++;
    svc.sessions++;
    svc.stats.conns++;
    rs.stats.conns++;
    this.counters.sessionsCreated++;
  }

  /** The persistent choice for this client if it still stands, else the scheduler's. */
  #pickServer(svc: Service, caddr: number, now: number): RealServer | undefined {
    if (svc.persistence > 0) {
      const tpl = svc.templates.get(caddr);
      if (tpl && tpl.expires > now && !tpl.server.removed && tpl.server.weight > 0) {
        tpl.expires = now + svc.persistence * 1000;
        return tpl.server;
      }
      const rs = schedule(svc);
      if (rs) svc.templates.set(caddr, { server: rs, expires: now + svc.persistence * 1000 });
      return rs;
    }
    return schedule(svc);
  }

  #setState(id: number, rs: RealServer, from: TcpState, to: TcpState): void {
    this.table.state[id] = to;
    if (from === TcpState.ESTABLISHED) {
      rs.activeConns--;
      rs.inactiveConns++;
    } else if (to === TcpState.ESTABLISHED) {
      rs.activeConns++;
      rs.inactiveConns--;
    }
  }

  /** Removes session `id`, keeping server and local-address accounting right. */
  removeSession(id: number): void {
    const t = this.table;
    if (!t.live(id)) return;
    const rs = this.registry.servers[t.server[id]];
    const la = t.local[id] >= 0 ? this.registry.locals[t.local[id]] : undefined;
    if (rs) {
      if (t.state[id] === TcpState.ESTABLISHED) rs.activeConns--;
      else rs.inactiveConns--;
    }
    if (la) la.conns--;
    const svc = this.registry.services[t.service[id]];
    if (svc) svc.sessions--;
    t.remove(id);
    this.registry.releaseSession(rs, la, svc);
  }

  /**
   * Removes every session whose time is up, calling `hook` first for each; also forgets
   * stale persistence templates. Returns how many sessions expired.
   */
  expire(hook?: ExpiryHook): number {
    const now = this.#clock();
    const t = this.table;
    let n = 0;
    for (let id = 0, hw = t.highWater; id < hw; id++) {
      if (t.proto[id] !== 0 && t.expires[id] <= now) {
        hook?.(this, id);
        if ((t.proto[id] & ~V6) === IPPROTO.TCP && t.state[id] === TcpState.ESTABLISHED) {
          this.#resetExpired(id);
        }
        this.removeSession(id);
        n++;
      }
    }
    this.counters.sessionsExpired += n;
    for (const svc of this.registry.services) {
      if (svc === undefined || svc.templates.size === 0) continue;
      for (const [client, tpl] of svc.templates) {
        if (tpl.expires <= now) svc.templates.delete(client);
      }
    }
    return n;
  }

  /**
   * Resets both ends of expiring ESTABLISHED session `id` (seed 4.8): the real server at the
   * last ack it sent, the client at the end of the real server's last segment (the RS's
   * sequence numbers are the client's too). Both acks are 0, as LVS sends them.
   */
  #resetExpired(id: number): void {
    const emit = this.#emit;
    if (!this.resetOnExpiry || emit === undefined) return;
    const t = this.table;
    if ((t.flags[id] & SessionFlag.RS_SEEN) === 0) {
      this.counters.expiryResetsSkipped++;
      return;
    }
    const buf = this.#emitBuf;
    const rst = TCP_FLAG.RST;
    if (t.proto[id] & V6) {
      const a = t.addr6;
      const base = id << 4;
      const lport = t.lport[id], dport = t.dport[id], vport = t.vport[id], cport = t.cport[id];
      emit(
        buf,
        0,
        writeReset6(buf, 0, a, base + A6.L, lport, base + A6.D, dport, t.rsAck[id], 0, rst),
      );
      emit(
        buf,
        0,
        writeReset6(buf, 0, a, base + A6.V, vport, base + A6.C, cport, t.rsSeqEnd[id], 0, rst),
      );
      this.counters.expiryResets++;
      return;
    }
    emit(
      buf,
      0,
      writeReset(buf, 0, t.laddr[id], t.lport[id], t.daddr[id], t.dport[id], t.rsAck[id], 0, rst),
    );
    emit(
      buf,
      0,
      writeReset(
        buf,
        0,
        t.vaddr[id],
        t.vport[id],
        t.caddr[id],
        t.cport[id],
        t.rsSeqEnd[id],
        0,
        rst,
      ),
    );
    this.counters.expiryResets++;
  }

  /** Milliseconds a session may stay idle in its current state. */
  timeoutMs(id: number): number {
    return (this.table.proto[id] & ~V6) === IPPROTO.TCP
      ? this.#tcpTimeoutMs[this.table.state[id]]
      : this.#udpTimeoutMs;
  }
}
