/**
 * The FULLNAT packet engine: a pure, synchronous function from an IP packet to a verdict,
 * rewriting the packet in place. Clock, ISN secret and the sink for packets it originates are
 * injected; there is no I/O. The hot path (lookup, state update, rewrite) allocates nothing.
 *
 * One lookup path serves every forwarding mode (seed 4.1): the packet's family
 * (`family_ipv4.ts`, `family_ipv6.ts`) parses it; its protocol's handler (`proto_tcp.ts`,
 * `proto_udp.ts`) checks it; the session table finds its session, and the matching index
 * entry says the direction; a packet that may open a session to a service gets one
 * (`session_open.ts`); then the protocol handler advances the state and applies the session's
 * forwarding mode's edits (`xmit_fullnat.ts`, `xmit_nat.ts`), and the mode writes it out.
 * ICMP errors about sessions are translated (`icmp_translate.ts`); expiry and its resets are
 * `expiry.ts`. A service with the SYN proxy answers SYNs itself and opens sessions on cookie
 * ACKs (`syn_proxy.ts`, whose doc comment draws the packet flow).
 *
 * @example
 * ```ts
 * import { Engine } from "./engine.ts";
 * import { EngineControl } from "./control.ts";
 * import { Verdict } from "../nfqueue/handler.ts";
 *
 * const engine = new Engine({ clock: () => performance.now() });
 * const ctl = new EngineControl(engine);
 * const key = { protocol: "tcp" as const, address: "198.51.100.10", port: 80 };
 * ctl.addService(key, { scheduler: "rr", persistence: 0 });
 * ctl.addRealServer(key, { address: "203.0.113.11", port: 8080, weight: 1, method: "fullnat" });
 * ctl.addLocalAddress(key, "203.0.113.201");
 * // A packet that is not IP at all is left to the kernel.
 * const verdict = engine.handle(new Uint8Array(64), 0, 0, 64);
 * if (verdict !== Verdict.Accept) throw new Error("expected Accept");
 * ```
 *
 * @module
 */
import { get16, get32 } from "../wire/bytes.ts";
import { type PacketSink, Verdict } from "../nfqueue/handler.ts";
import { type EngineCounters, newEngineCounters } from "./counters.ts";
import { endServerSessions, expireSessions, type ExpiryHook } from "./expiry.ts";
import type { AddressFamily, PacketView } from "./family.ts";
import { INET } from "./family_ipv4.ts";
import { INET6 } from "./family_ipv6.ts";
import { handleIcmp, IcmpOutcome, icmpSession } from "./icmp_translate.ts";
import { tunnelOverhead } from "./xmit_tunnel.ts";
import { type ProtocolHandler, PROTOCOLS } from "./proto.ts";
import type { OwnerLog } from "./owner_log.ts";
import { Registry } from "./registry.ts";
import type { RealServer, Service } from "./service.ts";
import {
  admit,
  ADMITTED,
  countSource,
  l4ChecksumOk,
  NOT_ADMITTED,
  releaseSource,
} from "./admission.ts";
import {
  ackToSyn,
  answerSyn,
  checkCookieAck,
  cookieKey,
  fillTcpChecksum,
  forwardHop,
  learnServer,
} from "./syn_proxy.ts";
import { NO_SLOT, ProxyHold } from "./syn_proxy_hold.ts";
import { BAD_COOKIE, COOKIE_TICK_MS } from "./syn_cookie.ts";
import { writeSessionSegment } from "./tcp_reset.ts";
import { TCP_HANDLER } from "./proto_tcp.ts";
import { METHOD_FULLNAT } from "./xmit.ts";
import { sourceTime } from "./source_table.ts";
import { openSession } from "./session_open.ts";
import { releaseTemplate } from "./persistence.ts";
import { Dir, Handshake, NO_SESSION, SessionFlag, SessionTable, V6 } from "./session_table.ts";
import { writeResetReply } from "./tcp_reset.ts";
import { TcpState, tcpTimeoutTable } from "./tcp_state.ts";
import { DEFAULT_TIMEOUTS, type Timeouts } from "./timeouts.ts";
import { outOfService } from "./health_state.ts";
import { offloadFallback, type OffloadKey, offloadKey } from "./offload.ts";
import { expiryProbeAnswer, startExpiryProbe } from "./offload_expiry.ts";
import { unbindOverload } from "./thresholds.ts";
import { DEFAULT_TUNABLES, type OffloadMode, offloadMode, type Tunables } from "./tunables.ts";
import { DEFAULT_LOCAL_PORT_RANGE, isPortRange, type PortRange } from "../vocab/port.ts";
import { isUnicast, parseAddress } from "../vocab/address.ts";
import { IPPROTO } from "../wire/ipv4.ts";
import { TCP, TCP_FLAG } from "../wire/tcp.ts";
import { TRANSMITS } from "./xmit_modes.ts";

export { METHOD_DR, METHOD_FULLNAT, METHOD_NAT, METHOD_TUNNEL } from "./xmit.ts";
export type { ExpiryHook } from "./expiry.ts";

/** `NFQA_SKB_GSO` of the queue's skb info: the packet is a GSO super-packet. */
const SKB_GSO = 2;
/** `NFQA_SKB_CSUMNOTREADY`: the transport checksum holds only the pseudo-header's sum. */
const SKB_CSUM_NOT_READY = 1;
/**
 * Session flags that send a packet through {@linkcode Engine}'s out-of-line checks first: the
 * SYN proxy's, and the count of an offloaded session's packet that came back to the queue.
 */
const PROXIED = SessionFlag.SYN_PROXY | SessionFlag.PROXY_WAIT | SessionFlag.OFFLOADED;
/** `#proxied`: the packet goes on the session's ordinary way. */
const PROXY_PASS = -1;
/** Scratch space of the SYN proxy's bare third ACK (an IPv6 one is 60 bytes). */
const proxyAckBuf = new Uint8Array(64);

/** Where the packet in hand has its transport header; reused for every packet. */
const packet: PacketView = { proto: 0, l4: 0, end: 0, fragment: false };

/** What to do with a packet the engine cannot parse. */
export type MalformedPolicy = "drop" | "accept";
/** What to do with a client SYN the engine cannot place (no server, no local port, ...). */
export type RejectPolicy = "drop" | "reset";
/**
 * What to do with a TCP segment other than a SYN that is sent to a service and matches no
 * session (its session was lost: a refused table, an expiry while no daemon ran): answer it
 * with a RST, so the client learns at once instead of retrying for minutes, or drop it.
 */
export type NoSessionPolicy = "drop" | "reset";

/** Engine construction options; everything has a default but the clock. */
export interface EngineOptions {
  /** Monotonic milliseconds (injected so tests control time). */
  clock: () => number;
  /** Maximum concurrent sessions (default 1,048,576). */
  capacity?: number;
  /** Local ports handed out per local address, inclusive (default {@linkcode DEFAULT_LOCAL_PORT_RANGE}). */
  localPortRange?: PortRange;
  /** Port choices tried before a new connection is refused (default 64). */
  portTries?: number;
  /** What to do with a packet that cannot be parsed (default "drop"). */
  malformedPolicy?: MalformedPolicy;
  /** What to do with a client SYN that cannot be placed (default "reset"). */
  rejectPolicy?: RejectPolicy;
  /** What to do with a non-SYN segment to a service that matches no session (default "reset"). */
  noSessionPolicy?: NoSessionPolicy;
  /** Session timeouts in seconds; missing ones take {@linkcode DEFAULT_TIMEOUTS}. */
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
   * The balancer's addresses TUNNEL sessions' outer headers leave from, at most one IPv4 and
   * one IPv6 (the daemon's `--tunnel-source`). A TUNNEL packet of a family without one is
   * dropped and counted (`tunnelNoSource`).
   */
  tunnelSources?: readonly string[];
  /**
   * 64-bit secret of the ISN hash (two words). Defaults to random words drawn once here, so a
   * daemon that forgets to pass one still gets unpredictable ISNs; tests pass a fixed one.
   */
  isnSecret?: Uint32Array;
  /**
   * Memory for the sessions' fields ({@linkcode SessionTable.bytes} of `capacity` from
   * `offset`), when they must outlive the process (`src/runstate`); default process memory.
   */
  sessionMemory?: { buffer: ArrayBuffer; offset: number };
  /** Where the registry records the owner ids sessions store (`owner_log.ts`). */
  owners?: OwnerLog;
  /** Engine-wide switches (IPVS's sysctls); missing ones take {@linkcode DEFAULT_TUNABLES}. */
  tunables?: Partial<Tunables>;
  /**
   * How many engines share one configuration (a daemon's packet workers, default 1): each
   * counts only its own sessions, so each enforces this share of a server's connection
   * thresholds (`thresholds.ts`).
   */
  thresholdShares?: number;
}

/** The FULLNAT/NAT engine. */
export class Engine {
  /** Every session, reachable from its in- and out-tuple. */
  readonly table: SessionTable;
  /** Services, real servers and local addresses. */
  readonly registry: Registry = new Registry();
  /** What the engine saw and did, by cause. */
  readonly counters: EngineCounters = newEngineCounters();
  /** Local ports handed out per local address, inclusive. */
  readonly localPortRange: readonly [number, number];
  /** Port choices tried before a new connection is refused. */
  readonly portTries: number;
  /** What to do with a packet that cannot be parsed. */
  malformedPolicy: MalformedPolicy;
  /** What to do with a client SYN that cannot be placed. */
  rejectPolicy: RejectPolicy;
  /**
   * What to do with a non-SYN segment to a service that matches no session; mutable, so an HA
   * backup can drop them while it catches up with its peer's sessions.
   */
  noSessionPolicy: NoSessionPolicy;
  /** After `handle()` returned `Verdict.Rewritten`: the packet's new length. */
  outLength = 0;
  /** After `handle()` returned `Verdict.Marked`: the mark of the packet's real server (DR). */
  outMark = 0;
  /**
   * After `handle()` returned `Verdict.Rewritten`: where the client's packet starts in it when
   * TUNNEL wrapped it (the outer headers' length), else 0. A checksum the client's offload left
   * pending is the inner packet's, so the queue completes it there, then the encapsulation's.
   */
  outInner = 0;
  /** Reset both ends of ESTABLISHED sessions that expire (needs an `emit` sink). */
  resetOnExpiry: boolean;
  /**
   * Largest packet a TOA may grow a segment to, and a TUNNEL packet with its outer header:
   * the MTU of the real-server side.
   */
  readonly mtu: number;
  /** Outer source of IPv4 TUNNEL packets (IPIP), if the daemon was given one. */
  readonly tunnelSource4: number | undefined;
  /** Outer source of IPv6 TUNNEL packets, as four words, if the daemon was given one. */
  readonly tunnelSource6: Uint32Array | undefined;
  /** The ISN hash's secret (for the transmit modes). */
  readonly isnSecret: Uint32Array;
  /** Idle timeout per TCP state in milliseconds (for the protocol handlers). */
  tcpTimeoutMs: Float64Array;
  /** Idle timeout of UDP sessions in milliseconds (for the protocol handlers). */
  udpTimeoutMs: number;
  /** IPVS's `expire_nodest_conn` (see {@linkcode Tunables}); a field for the packet path. */
  expireNodestConn: boolean;
  /** IPVS's `expire_quiescent_template` (see {@linkcode Tunables}); a field for new connections. */
  expireQuiescentTemplate: boolean;
  /** How many engines share the configuration (see {@linkcode EngineOptions.thresholdShares}). */
  readonly thresholdShares: number;
  #emit: PacketSink | undefined;
  /** The SYN cookies' secret, derived from the ISN secret (`syn_proxy.ts`). */
  #cookieKey: Uint32Array;
  /** Client packets of SYN proxy sessions whose real server has not answered yet. */
  readonly proxyHold: ProxyHold = new ProxyHold();
  /**
   * The kernel fast path's mode (the tunable `offload`): the daemon's offload step runs while
   * it is `established`, and the diversion follows it.
   */
  offload: OffloadMode = "off";
  /** Where the offload's candidate scan resumes (`offload.ts`). */
  offloadScanAt = 0;
  /** The packet worker this engine is, for the conntrack marks of its offloads (0..63). */
  offloadWorker = 0;
  /**
   * Offloaded sessions the engine removed (service or server deleted, drain, `-C`, ...): the
   * kernel's entries the daemon must delete. Filled on that rare path, emptied by the daemon.
   */
  readonly offloadWithdrawn: OffloadKey[] = [];
  /**
   * Offloaded sessions whose packets came back to the engine (once each): the daemon takes
   * back those that close here (`takeBackClosing`). Filled on that rare path.
   */
  readonly offloadFellBack: number[] = [];
  #clock: () => number;
  #timeouts: Timeouts;
  #tunnelIpId = 0;

  constructor(options: EngineOptions) {
    this.#clock = options.clock;
    const mem = options.sessionMemory;
    this.table = new SessionTable(options.capacity ?? 1 << 20, mem?.buffer, mem?.offset);
    this.registry.owners = options.owners;
    const range = options.localPortRange ?? DEFAULT_LOCAL_PORT_RANGE;
    const [lo, hi] = range;
    if (!isPortRange(range)) {
      throw new RangeError(
        `Local port range ${lo}-${hi} is invalid: use 1 <= low <= high <= 65535`,
      );
    }
    this.localPortRange = [lo, hi];
    this.portTries = options.portTries ?? 64;
    this.malformedPolicy = options.malformedPolicy ?? "drop";
    this.rejectPolicy = options.rejectPolicy ?? "reset";
    this.noSessionPolicy = options.noSessionPolicy ?? "reset";
    this.#emit = options.emit;
    this.resetOnExpiry = options.resetOnExpiry ?? true;
    this.mtu = options.mtu ?? 1500;
    if (!(Number.isInteger(this.mtu) && this.mtu >= 576 && this.mtu <= 65535)) {
      throw new RangeError(`MTU ${this.mtu} is invalid: use 576 to 65535`);
    }
    const sources = parseTunnelSources(options.tunnelSources ?? []);
    this.tunnelSource4 = sources.v4;
    this.tunnelSource6 = sources.v6;
    this.isnSecret = options.isnSecret ?? crypto.getRandomValues(new Uint32Array(2));
    if (this.isnSecret.length !== 2) throw new RangeError("isnSecret must hold two 32-bit words");
    this.#cookieKey = cookieKey(this.isnSecret);
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.tcpTimeoutMs = tcpTimeoutTable(this.#timeouts);
    this.udpTimeoutMs = this.#timeouts.udp * 1000;
    this.registry.timeouts = this.#timeouts;
    const tunables = { ...DEFAULT_TUNABLES, ...options.tunables };
    this.expireNodestConn = tunables.expireNodestConn;
    this.expireQuiescentTemplate = tunables.expireQuiescentTemplate;
    this.offload = offloadMode(tunables);
    this.thresholdShares = options.thresholdShares ?? 1;
    if (!(Number.isInteger(this.thresholdShares) && this.thresholdShares >= 1)) {
      throw new RangeError(`thresholdShares ${this.thresholdShares} is invalid: use 1 or more`);
    }
  }

  /** Current timeouts in seconds. */
  get timeouts(): Timeouts {
    return { ...this.#timeouts };
  }

  /**
   * Replaces the timeouts; services without their own take them, and sessions pick up the new
   * values on their next packet.
   */
  set timeouts(t: Timeouts) {
    this.#timeouts = { ...t };
    this.tcpTimeoutMs = tcpTimeoutTable(t);
    this.udpTimeoutMs = t.udp * 1000;
    this.registry.timeouts = this.#timeouts;
    for (const svc of this.registry.services) svc?.applyTimeouts(this.#timeouts);
  }

  /** The engine-wide switches. */
  get tunables(): Tunables {
    return {
      expireNodestConn: this.expireNodestConn,
      expireQuiescentTemplate: this.expireQuiescentTemplate,
      ...(this.offload !== "off" && { offload: this.offload }),
    };
  }

  /** Replaces the engine-wide switches; they apply from the next packet. */
  set tunables(t: Tunables) {
    this.expireNodestConn = t.expireNodestConn;
    this.expireQuiescentTemplate = t.expireQuiescentTemplate;
    this.offload = offloadMode(t);
  }

  /** The IPv4 identification of the next IPIP outer header (TUNNEL), wrapping at 16 bits. */
  nextTunnelIpId(): number {
    this.#tunnelIpId = (this.#tunnelIpId + 1) & 0xffff;
    return this.#tunnelIpId;
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
    const fam = version === 4 ? INET : version === 6 ? INET6 : undefined;
    if (fam === undefined) {
      c.notIp++;
      return Verdict.Accept;
    }
    const p = packet;
    if (!fam.parse(b, o, len, p)) {
      c.malformedIp++;
      return this.#malformed();
    }
    // Diverted traffic is NOTRACK, so nothing reassembles fragments before the queue; a
    // fragment carries no ports to find its session by.
    if (p.fragment) {
      c.fragments++;
      return Verdict.Drop;
    }
    const proto = p.proto;
    const l4 = p.l4;
    const ph = PROTOCOLS[proto];
    if (ph === undefined) return this.#sessionlessProtocol(fam, b, o, proto, l4, p.end, cap);
    if (!ph.sound(b, l4, p.end - l4)) {
      c.malformedL4++;
      return this.#malformed();
    }
    const total = p.end - o;
    const sport = get16(b, l4);
    const dport = get16(b, l4 + 2);
    let e = fam.lookup(this.table, b, o, proto, sport, dport);
    // IPVS's expire_nodest_conn: a client packet of a deleted server's session ends it and is
    // then taken as a packet with no session (a new datagram or SYN is scheduled afresh).
    if (this.expireNodestConn && e !== NO_SESSION && (e & 1) === Dir.In && this.#nodest(e >> 1)) {
      e = NO_SESSION;
    }
    if (e === NO_SESSION) {
      const svc = fam.service(this.registry, b, o, proto, dport);
      if (svc === undefined) {
        c.passedThrough++;
        return Verdict.Accept;
      }
      if (svc.synProxy && proto === IPPROTO.TCP) {
        return this.#synProxy(fam, svc, b, o, l4, p.end, sport, dport, cap, skbInfo);
      }
      if (!ph.opens(b, l4)) {
        c.tcpNoSession++;
        return this.#noSession(fam, b, o, l4, total);
      }
      const id = this.#open(fam, svc, proto, b, o, l4, p.end, sport, dport, skbInfo);
      if (id < 0) {
        return id === NO_SESSION ? this.#refuse(fam, b, o, l4, total, proto) : Verdict.Drop;
      }
      e = id * 2;
    } else if ((this.table.flags[e >> 1] & PROXIED) !== 0) {
      const v = this.#proxied(fam, b, o, l4, p.end, e, sport, dport, cap, skbInfo);
      if (v !== PROXY_PASS) return v as Verdict;
    } else if ((e & 1) === Dir.Out && proto === IPPROTO.TCP) {
      // A real server that answers a new session's SYN with a bare ACK, before any SYN-ACK,
      // still holds a connection on this tuple that the balancer lost: RFC 5961 4.2's
      // challenge ACK to a SYN on an established connection.
      const id = e >> 1;
      const t = this.table;
      if (
        t.state[id] === TcpState.SYN_RECV && (t.flags[id] & SessionFlag.RS_SEEN) === 0 &&
        (b[l4 + TCP.FLAGS] & (TCP_FLAG.SYN | TCP_FLAG.ACK | TCP_FLAG.RST)) === TCP_FLAG.ACK &&
        !TRANSMITS[t.method[id]].inputOnly
      ) return this.#resetOrphan(fam, b, o, l4, total);
    }
    // A GSO super-packet may grow up to the buffer; the kernel's segments of it fit the MTU
    // because the client's MSS was lowered by the TOA length in the SYN-ACK.
    const limit = (skbInfo & SKB_GSO) !== 0 ? cap : Math.min(cap, this.mtu);
    return this.#forward(fam, ph, b, o, l4, total, limit, e, cap, skbInfo);
  }

  /**
   * Opens the session of the opening packet at `o` (transport at `l4`, ending at `end`) to
   * `svc`, once it passed its checksum, the service's lists and per-source limits
   * (`admission.ts`). Returns its id, `NO_SESSION` when it could not be placed (answered per
   * reject policy), or {@linkcode NOT_ADMITTED} when it was refused before (dropped); both
   * counted.
   */
  #open(
    fam: AddressFamily,
    svc: Service,
    proto: number,
    b: Uint8Array,
    o: number,
    l4: number,
    end: number,
    sport: number,
    dport: number,
    skbInfo: number,
  ): number {
    // Read through now(), as openSession reads it: V8 inlines that small method here, where a
    // direct call of the clock closure was left out of line once the engine grew, and its
    // fractional milliseconds then came back boxed (16 B per SYN; the probe's engine+guard).
    if (svc.sources !== undefined) sourceTime[0] = this.now();
    const slot = admit(this.counters, fam, svc, b, o, l4, end, proto, skbInfo);
    if (slot === NOT_ADMITTED) return NOT_ADMITTED;
    const id = openSession(this, fam, svc, proto, b, o, sport, dport);
    if (id !== NO_SESSION && slot !== ADMITTED) countSource(this.table, svc, id, slot);
    return id;
  }

  /**
   * A TCP segment with no session to SYN proxy service `svc` (`syn_proxy.ts`): a SYN is
   * answered with a cookie SYN-ACK; an ACK with a good cookie opens the session and becomes
   * the SYN to its real server; a bad cookie (a forged ACK, or a lost session's segment) and
   * anything else meet the no-session path.
   */
  #synProxy(
    fam: AddressFamily,
    svc: Service,
    b: Uint8Array,
    o: number,
    l4: number,
    end: number,
    sport: number,
    dport: number,
    cap: number,
    skbInfo: number,
  ): Verdict {
    const c = this.counters;
    const flags = b[l4 + TCP.FLAGS] & (TCP_FLAG.SYN | TCP_FLAG.ACK | TCP_FLAG.RST | TCP_FLAG.FIN);
    const total = end - o;
    if (flags === TCP_FLAG.SYN) {
      if (
        (skbInfo & SKB_CSUM_NOT_READY) === 0 && !l4ChecksumOk(fam, b, o, l4, end, IPPROTO.TCP)
      ) {
        c.badChecksum++;
        return Verdict.Drop;
      }
      c.synProxyCookiesSent++;
      // Whole numbers from the clock here: a fraction crossing a call would be boxed.
      const now = this.now();
      this.outLength = answerSyn(
        fam,
        svc,
        this.#cookieKey,
        b,
        o,
        l4,
        Math.floor(now / COOKIE_TICK_MS) | 0,
        Math.floor(now) | 0,
        this.mtu,
      );
      this.outInner = 0;
      return Verdict.Rewritten;
    }
    if (flags !== TCP_FLAG.ACK) {
      c.tcpNoSession++;
      return this.#noSession(fam, b, o, l4, total);
    }
    const mssIndex = checkCookieAck(
      fam,
      this.#cookieKey,
      b,
      o,
      l4,
      Math.floor(this.now() / COOKIE_TICK_MS) | 0,
    );
    if (mssIndex === BAD_COOKIE) {
      // A segment of a session the balancer lost (expired, a restart without the table, a
      // failover without sync) carries no cookie either: answered per no-session policy as a
      // non-proxied service answers it, and as DPVS and the real server's own Linux answer an
      // ACK whose cookie fails (a RST; Alibaba's LVS drops it): the client gives up at once.
      c.synProxyCookieInvalid++;
      return this.#noSession(fam, b, o, l4, total);
    }
    c.synProxyCookieValid++;
    const id = this.#open(fam, svc, IPPROTO.TCP, b, o, l4, end, sport, dport, skbInfo);
    if (id < 0) {
      c.synProxyOpenRefused++;
      return id === NO_SESSION ? this.#refuse(fam, b, o, l4, total, IPPROTO.TCP) : Verdict.Drop;
    }
    const t = this.table;
    if (t.method[id] !== METHOD_FULLNAT) {
      this.removeSession(id);
      c.synProxyNotFullnat++;
      c.sessionsExpired++;
      return Verdict.Drop;
    }
    // The ACK itself goes to the server as the third ACK once the server answered (without a
    // slot, a bare ACK does: `#replay`). Not counted as held: this packet's outcome is the SYN.
    this.#hold(fam, id, b, o, l4, total, skbInfo);
    const length = ackToSyn(fam, t, id, b, o, l4, mssIndex);
    const limit = (skbInfo & SKB_GSO) !== 0 ? cap : Math.min(cap, this.mtu);
    const v = this.#forward(
      fam,
      TCP_HANDLER,
      b,
      o,
      o + fam.headerLength,
      length,
      limit,
      id * 2,
      cap,
      skbInfo,
    );
    // After the forward: a client SYN clears the session's flags but these.
    t.flags[id] |= SessionFlag.SYN_PROXY | SessionFlag.PROXY_WAIT;
    return v;
  }

  /**
   * A packet of SYN proxy session entry `e`: while the server has not answered, see
   * `#proxyWait`; a client's SYN on the tuple of a proxied session (a new connection from a
   * port the client used before, the old session closing) is a new connection: the old session
   * ends and the SYN gets its cookie, as Alibaba's `synproxy_conn_reuse`. Anything else:
   * {@linkcode PROXY_PASS}.
   */
  #proxied(
    fam: AddressFamily,
    b: Uint8Array,
    o: number,
    l4: number,
    end: number,
    e: number,
    sport: number,
    dport: number,
    cap: number,
    skbInfo: number,
  ): number {
    const id = e >> 1;
    const t = this.table;
    if ((t.flags[id] & SessionFlag.OFFLOADED) !== 0) {
      if ((t.handshake[id] & Handshake.PROBING) !== 0) {
        return expiryProbeAnswer(this, this.#emit, b, l4, end, (e & 1) as Dir, id);
      }
      offloadFallback(this, id);
      if ((t.flags[id] & (SessionFlag.SYN_PROXY | SessionFlag.PROXY_WAIT)) === 0) return PROXY_PASS;
    }
    if ((t.flags[id] & SessionFlag.PROXY_WAIT) !== 0) {
      return this.#proxyWait(fam, b, o, l4, end - o, e, skbInfo);
    }
    if (
      (e & 1) !== Dir.In ||
      (b[l4 + TCP.FLAGS] & (TCP_FLAG.SYN | TCP_FLAG.ACK | TCP_FLAG.RST)) !== TCP_FLAG.SYN
    ) return PROXY_PASS;
    const svc = this.registry.services[t.service[id]];
    if (svc === undefined || !svc.synProxy) return PROXY_PASS;
    this.counters.synProxyReused++;
    this.counters.sessionsExpired++;
    this.removeSession(id);
    return this.#synProxy(fam, svc, b, o, l4, end, sport, dport, cap, skbInfo);
  }

  /**
   * A packet of SYN proxy session `e >> 1` before its real server answered: the client's are
   * held; the server's SYN-ACK completes the connection (the held packets go on, or a bare
   * ACK), its RST resets the client; anything else from it is dropped.
   */
  #proxyWait(
    fam: AddressFamily,
    b: Uint8Array,
    o: number,
    l4: number,
    total: number,
    e: number,
    skbInfo: number,
  ): Verdict {
    const c = this.counters;
    const t = this.table;
    const id = e >> 1;
    if ((e & 1) === Dir.In) {
      if (this.#hold(fam, id, b, o, l4, total, skbInfo)) c.synProxyHeld++;
      else c.synProxyHoldFull++;
      return Verdict.Drop;
    }
    const flags = b[l4 + TCP.FLAGS];
    if ((flags & TCP_FLAG.RST) !== 0) {
      c.synProxyServerRefused++;
      // The client's view: the server's sequence space is the cookie's.
      const seq = (t.proxySeq[id] + 1) >>> 0;
      this.outLength = writeSessionSegment(fam, b, o, t, id, Dir.Out, seq, 0, TCP_FLAG.RST, 0);
      this.outInner = 0;
      this.removeSession(id);
      c.sessionsExpired++;
      return Verdict.Rewritten;
    }
    if (
      (flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) !== (TCP_FLAG.SYN | TCP_FLAG.ACK) ||
      !learnServer(t, id, b, l4)
    ) {
      c.synProxyServerDropped++;
      return Verdict.Drop;
    }
    c.synProxyServerAnswered++;
    t.rsSeqEnd[id] = (get32(b, l4 + TCP.SEQ) + 1) >>> 0;
    t.rsAck[id] = get32(b, l4 + TCP.ACK);
    t.flags[id] = (t.flags[id] & ~SessionFlag.PROXY_WAIT) | SessionFlag.RS_SEEN;
    // The server's ISN is read back from the table: a value of 2^31 or more passed to a call
    // that is not inlined is boxed.
    this.#replay(fam, id);
    return Verdict.Drop;
  }

  /**
   * Holds a copy of the client packet at `o` (transport at `l4`) for proxy session `id`, its
   * checksum completed when the queue says the client's offload left it pending; false when
   * no slot took it.
   */
  #hold(
    fam: AddressFamily,
    id: number,
    b: Uint8Array,
    o: number,
    l4: number,
    total: number,
    skbInfo: number,
  ): boolean {
    const hold = this.proxyHold;
    const s = hold.put(id, b, o, total, 128);
    if (s === NO_SLOT) return false;
    if ((skbInfo & SKB_CSUM_NOT_READY) !== 0) {
      const at = s * hold.slotSize;
      fillTcpChecksum(fam, hold.buf, at, at + (l4 - o), at + total);
    }
    return true;
  }

  /**
   * Sends on the packets proxy session `id` held, oldest first, through the engine again; with
   * none (the hold was full), a bare ACK of the server's SYN-ACK.
   */
  #replay(fam: AddressFamily, id: number): void {
    const emit = this.#emit;
    const hold = this.proxyHold;
    const c = this.counters;
    const t = this.table;
    let sent = 0;
    for (let s = hold.first(id); s !== NO_SLOT; s = hold.first(id)) {
      const at = s * hold.slotSize;
      if (emit !== undefined && t.live(id) && !forwardHop(hold.buf, at)) {
        c.synProxyHopLimitExceeded++;
      } else if (emit !== undefined && t.live(id)) {
        const v = this.handle(hold.buf, at, hold.length(s), hold.slotSize);
        if (v === Verdict.Rewritten) {
          emit(hold.buf, at, this.outLength);
          c.synProxyReplayed++;
          sent++;
        } else c.synProxyReplayDropped++;
      }
      hold.release(s);
    }
    if (sent === 0 && emit !== undefined && t.live(id)) {
      const seq = (t.clientIsn[id] + 1 + t.seqDelta[id]) >>> 0;
      const len = writeSessionSegment(
        fam,
        proxyAckBuf,
        0,
        t,
        id,
        Dir.In,
        seq,
        t.rsSeqEnd[id],
        TCP_FLAG.ACK,
        // A modest window: the client's next segment brings its own.
        1024,
      );
      emit(proxyAckBuf, 0, len);
      c.synProxyAcksSent++;
    }
  }

  /**
   * True, having ended session `id`, when its real server was deleted or taken out of the
   * service by its health checks (not inhibited; keepalived would have removed it from IPVS):
   * `expireNodestConn`. The session goes without resets, as in IPVS; the packet in hand meets
   * the no-session path.
   */
  #nodest(id: number): boolean {
    const rs = this.registry.servers[this.table.server[id]];
    if (rs !== undefined && !outOfService(rs)) return false;
    this.removeSession(id);
    this.counters.nodestExpired++;
    this.counters.sessionsExpired++;
    return true;
  }

  /** The verdict for a packet the engine cannot parse, per malformed policy. */
  #malformed(): Verdict {
    return this.malformedPolicy === "drop" ? Verdict.Drop : Verdict.Accept;
  }

  /**
   * A protocol without sessions: ICMP errors about a session are translated; AH, ESP, GRE...
   * to a VIP are dropped (no session can say where they belong, and the balancer's own stack
   * must not answer on the VIP's behalf); everything else goes on to the kernel.
   */
  #sessionlessProtocol(
    fam: AddressFamily,
    b: Uint8Array,
    o: number,
    proto: number,
    l4: number,
    end: number,
    cap: number,
  ): Verdict {
    const c = this.counters;
    if (proto === fam.icmpProto) {
      const r = handleIcmp(fam, b, o, l4, end, this.table, this.registry, c);
      if (r === IcmpOutcome.Translated) {
        this.outLength = end - o;
        this.outInner = 0;
        return Verdict.Rewritten;
      }
      if (r === IcmpOutcome.Forward) return this.#forwardIcmp(fam, b, o, l4, end, cap);
      return r === IcmpOutcome.Passed ? Verdict.Accept : this.#malformed();
    }
    if (fam.isVip(this.registry, b, o)) {
      c.otherProtocolDropped++;
      return Verdict.Drop;
    }
    c.otherProtocol++;
    return Verdict.Accept;
  }

  /**
   * An ICMP error about the replies of a DR or TUNNEL session (`icmpSession`), sent on whole
   * to its real server: DR with the server's mark, TUNNEL wrapped. An error is never answered
   * with another, so one that would outgrow the MTU once wrapped is dropped, counted.
   */
  #forwardIcmp(
    fam: AddressFamily,
    b: Uint8Array,
    o: number,
    l4: number,
    end: number,
    cap: number,
  ): Verdict {
    const id = icmpSession.id;
    const rs = this.registry.servers[this.table.server[id]] as RealServer;
    const xmit = TRANSMITS[this.table.method[id]];
    const c = this.counters;
    if (xmit.marks) {
      this.outMark = rs.mark;
      c.icmpErrorsRouted++;
      return Verdict.Marked;
    }
    const total = end - o;
    if (total + tunnelOverhead(rs, fam.name === "ipv6") > this.mtu) {
      c.icmpErrorsNotForwarded++;
      return Verdict.Drop;
    }
    const length = xmit.wrap!(this, fam, b, o, l4, total, cap, false, id);
    if (length <= 0) return Verdict.Drop;
    c.icmpErrorsTunnelled++;
    this.outLength = length;
    this.outInner = length - total;
    return Verdict.Rewritten;
  }

  /** Answers or drops a connection attempt the engine could not place, per reject policy. */
  #refuse(
    fam: AddressFamily,
    b: Uint8Array,
    o: number,
    l4: number,
    total: number,
    proto: number,
  ): Verdict {
    if (this.rejectPolicy === "reset" && proto === IPPROTO.TCP) {
      this.counters.resetsSent++;
      return this.#resetReply(fam, b, o, l4, total);
    }
    return Verdict.Drop;
  }

  /** Replaces the TCP segment in hand with the RST that answers it, back to its sender. */
  #resetReply(fam: AddressFamily, b: Uint8Array, o: number, l4: number, total: number): Verdict {
    this.outLength = writeResetReply(fam, b, o, l4, total);
    this.outInner = 0;
    return Verdict.Rewritten;
  }

  /**
   * A TCP segment other than a SYN to a service, with no session: answered with a RST per
   * no-session policy, so the client of a lost session gives up now rather than after minutes
   * of retries. A RST is never answered.
   */
  #noSession(fam: AddressFamily, b: Uint8Array, o: number, l4: number, total: number): Verdict {
    if (this.noSessionPolicy === "drop" || (b[l4 + TCP.FLAGS] & TCP_FLAG.RST) !== 0) {
      return Verdict.Drop;
    }
    this.counters.noSessionResets++;
    return this.#resetReply(fam, b, o, l4, total);
  }

  /**
   * Turns a real server's challenge ACK into a RST to it at the sequence number it expects,
   * ending the orphan of a lost session; the client's SYN retransmission then finds the
   * tuple free (README "When a session really is gone").
   */
  #resetOrphan(fam: AddressFamily, b: Uint8Array, o: number, l4: number, total: number): Verdict {
    this.counters.orphansReset++;
    return this.#resetReply(fam, b, o, l4, total);
  }

  /**
   * A packet on the reply tuple of a session whose replies bypass the balancer (TUNNEL):
   * not the session's to rewrite or to move its state; passed on as the kernel routes it.
   */
  #bypassingReply(): Verdict {
    this.counters.tunnelReplySeen++;
    return Verdict.Accept;
  }

  /**
   * The per-session part of {@linkcode handle}: the protocol's state and the mode's edits,
   * then the mode's transmit and the counters, for the packet at `o` whose session entry is
   * `e`. The packet may grow to `limit` bytes; a mode that wraps it (TUNNEL) has `cap` bytes
   * and the queue's `skbInfo`.
   */
  #forward(
    fam: AddressFamily,
    ph: ProtocolHandler,
    b: Uint8Array,
    o: number,
    l4: number,
    total: number,
    limit: number,
    e: number,
    cap: number,
    skbInfo: number,
  ): Verdict {
    const t = this.table;
    const id = e >> 1;
    const dir = (e & 1) as Dir;
    const rs = this.registry.servers[t.server[id]] as RealServer;
    const xmit = TRANSMITS[t.method[id]];
    if (dir === Dir.Out && xmit.inputOnly) return this.#bypassingReply();
    const out = ph.conn(this, fam, xmit, b, o, l4, total, limit, id, dir, rs);
    if (out < 0) {
      // The segment became a reply to its sender: an ICMP error back to the client, or a RST
      // to a real server's orphan.
      this.outLength = -out;
      this.outInner = 0;
      return Verdict.Rewritten;
    }
    xmit.xmit(fam, b, o, l4, ph.proto, t, id, dir);
    let length = out;
    if (xmit.wrap !== undefined) {
      length = xmit.wrap(this, fam, b, o, l4, out, cap, (skbInfo & SKB_GSO) !== 0, id);
      if (length <= 0) {
        if (length === 0) return Verdict.Drop;
        this.outLength = -length;
        this.outInner = 0;
        return Verdict.Rewritten;
      }
    }
    const svcStats = rs.service.stats;
    // DR: unchanged, with the mark of the server's policy route (xmit_dr.ts).
    const verdict = xmit.marks ? this.#marked(rs) : Verdict.Rewritten;
    if (dir === Dir.In) {
      svcStats.inPackets++;
      svcStats.inBytes += out;
      rs.stats.inPackets++;
      rs.stats.inBytes += out;
    } else {
      svcStats.outPackets++;
      svcStats.outBytes += out;
      rs.stats.outPackets++;
      rs.stats.outBytes += out;
    }
    this.counters.forwarded++;
    this.outLength = length;
    this.outInner = length - out;
    // A one-packet session's reply is the one it waited for: the session ends with it.
    if (dir === Dir.Out && (t.flags[id] & SessionFlag.ONE_PACKET) !== 0) this.#answered(id);
    return verdict;
  }

  /** Sets the verdict's mark to real server `rs`'s (DR) and counts the packet. */
  #marked(rs: RealServer): Verdict {
    this.outMark = rs.mark;
    this.counters.drRouted++;
    return Verdict.Marked;
  }

  /** Ends one-packet session `id`, answered: its local port is free again. */
  #answered(id: number): void {
    this.removeSession(id);
    this.counters.onePacketAnswered++;
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
      if (rs.overloaded) unbindOverload(rs);
    }
    if (la) la.conns--;
    if ((t.flags[id] & SessionFlag.PROXY_WAIT) !== 0) this.proxyHold.forget(id);
    if ((t.flags[id] & SessionFlag.OFFLOADED) !== 0) this.#withdraw(id);
    const svc = this.registry.services[t.service[id]];
    if (svc) {
      svc.sessions--;
      if ((t.flags[id] & SessionFlag.SOURCE_COUNTED) !== 0) releaseSource(t, svc, id);
      if (rs && svc.persistence > 0) releaseTemplate(t, id, svc, rs);
    }
    t.remove(id);
    this.registry.releaseSession(rs, la, svc);
  }

  /** Queues the kernel entry of offloaded session `id`, which is being removed, for deletion. */
  #withdraw(id: number): void {
    this.offloadWithdrawn.push(offloadKey(this, id, this.offloadWorker));
    this.counters.offloadWithdrawn++;
  }

  /**
   * Removes every session whose time is up, calling `hook` first for each, resetting both
   * ends of ESTABLISHED ones (seed 4.8, `expiry.ts`); also forgets stale persistence
   * templates. Returns how many sessions expired.
   */
  expire(hook?: ExpiryHook): number {
    return expireSessions(this, this.#emit, hook);
  }

  /**
   * Ends every session of real server `rs` now (the end of a drain): TCP sessions the server
   * has spoken in are reset at both ends, as on expiry; the rest just end. Returns how many
   * sessions ended and how many were reset.
   */
  endServerSessions(rs: RealServer): { ended: number; reset: number } {
    return endServerSessions(this, this.#emit, rs);
  }

  /**
   * Offloaded session `id`'s kernel entry ended by idle timeout: sends its real server the
   * probe whose answer gives the numbers for the resets of an expiry (`offload_expiry.ts`).
   * False when nothing was sent (resets on expiry off, or no `emit` sink).
   */
  probeOffloadExpiry(id: number): boolean {
    return startExpiryProbe(this, this.#emit, id);
  }

  /** Milliseconds a session may stay idle in its current state. */
  timeoutMs(id: number): number {
    return PROTOCOLS[this.table.proto[id] & ~V6]!.timeoutMs(this, id);
  }
}

/**
 * Reads the tunnel source addresses (`--tunnel-source`): at most one per family, each a
 * unicast address; throws a RangeError saying what is wrong.
 */
export function parseTunnelSources(
  texts: readonly string[],
): { v4: number | undefined; v6: Uint32Array | undefined } {
  let v4: number | undefined;
  let v6: Uint32Array | undefined;
  for (const text of texts) {
    const a = parseAddress(text);
    if (a === undefined || !isUnicast(a)) {
      throw new RangeError(`Tunnel source ${text} is not a unicast IPv4 or IPv6 address`);
    }
    if ((a.family === 4 ? v4 : v6) !== undefined) {
      throw new RangeError(
        `Tunnel source ${text}: one IPv${a.family} tunnel source already given (one per family)`,
      );
    }
    if (a.family === 4) v4 = a.v4;
    else v6 = Uint32Array.from(a.v6);
  }
  return { v4, v6 };
}
