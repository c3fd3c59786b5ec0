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
import { Registry } from "./registry.ts";
import { RESET_LENGTH, writeResetReply } from "./reject.ts";
import { translate } from "./rewrite.ts";
import { schedule } from "./scheduler.ts";
import type { LocalAddress, RealServer, Service } from "./service.ts";
import { Dir, NO_SESSION, SessionTable } from "./session_table.ts";
import { nextTcpState, tcpEvent, TcpState, tcpTimeoutTable } from "./tcp_state.ts";
import { DEFAULT_TIMEOUTS, type PacketSink, type Timeouts, Verdict } from "./types.ts";
import { get16, get32 } from "./wire/bytes.ts";
import {
  IPPROTO,
  IPV4,
  ipv4HeaderLength,
  ipv4IsFragment,
  ipv4Problem,
  ipv4TotalLength,
} from "./wire/ipv4.ts";
import { TCP, TCP_FLAG, tcpProblem } from "./wire/tcp.ts";
import { udpProblem } from "./wire/udp.ts";

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
   * Never throws on packet content.
   */
  handle(b: Uint8Array, o: number, len: number, _cap: number): Verdict {
    const c = this.counters;
    c.packets++;
    if (len < 1 || b[o] >>> 4 !== 4) {
      c.notIpv4++;
      return Verdict.Accept;
    }
    if (ipv4Problem(b, o, len) !== undefined) {
      c.malformedIp++;
      return this.malformedPolicy === "drop" ? Verdict.Drop : Verdict.Accept;
    }
    if (ipv4IsFragment(b, o)) {
      c.fragments++;
      return Verdict.Drop;
    }
    const proto = b[o + IPV4.PROTOCOL];
    if (proto !== IPPROTO.TCP && proto !== IPPROTO.UDP) {
      c.otherProtocol++;
      return Verdict.Accept;
    }
    const ihl = ipv4HeaderLength(b, o);
    const total = ipv4TotalLength(b, o);
    const l4 = o + ihl;
    const l4Length = total - ihl;
    const bad = proto === IPPROTO.TCP
      ? tcpProblem(b, l4, l4Length) !== undefined
      : udpProblem(b, l4, l4Length) !== undefined;
    if (bad) {
      c.malformedL4++;
      return this.malformedPolicy === "drop" ? Verdict.Drop : Verdict.Accept;
    }

    const saddr = get32(b, o + IPV4.SRC);
    const daddr = get32(b, o + IPV4.DST);
    const sport = get16(b, l4);
    const dport = get16(b, l4 + 2);
    const t = this.table;
    let e = t.lookup(proto, saddr, sport, daddr, dport);
    if (e === NO_SESSION) {
      const svc = this.registry.find(proto, daddr, dport);
      if (svc === undefined) {
        c.passedThrough++;
        return Verdict.Accept;
      }
      if (
        proto === IPPROTO.TCP &&
        (b[l4 + TCP.FLAGS] & (TCP_FLAG.SYN | TCP_FLAG.ACK | TCP_FLAG.RST)) !== TCP_FLAG.SYN
      ) {
        c.tcpNoSession++;
        return Verdict.Drop;
      }
      const id = this.#newSession(svc, proto, saddr, sport, daddr, dport);
      if (id === NO_SESSION) return this.#refuse(b, o, ihl, total, proto);
      e = id * 2;
    }

    const id = e >> 1;
    const dir = e & 1;
    const now = this.#clock();
    const rs = this.registry.servers[t.server[id]] as RealServer;
    if (proto === IPPROTO.TCP) {
      const st = t.state[id] as TcpState;
      const ns = nextTcpState(st, tcpEvent(b[l4 + TCP.FLAGS]), dir === Dir.In);
      if (ns !== st) this.#setState(id, rs, st, ns);
      t.expires[id] = now + this.#tcpTimeoutMs[ns];
    } else {
      t.expires[id] = now + this.#udpTimeoutMs;
    }

    const svcStats = rs.service.stats;
    if (dir === Dir.In) {
      if (t.method[id] === METHOD_NAT) {
        translate(b, o, l4, proto, saddr, sport, t.daddr[id], t.dport[id]);
      } else translate(b, o, l4, proto, t.laddr[id], t.lport[id], t.daddr[id], t.dport[id]);
      svcStats.inPackets++;
      svcStats.inBytes += total;
      rs.stats.inPackets++;
      rs.stats.inBytes += total;
    } else {
      translate(b, o, l4, proto, t.vaddr[id], t.vport[id], t.caddr[id], t.cport[id]);
      svcStats.outPackets++;
      svcStats.outBytes += total;
      rs.stats.outPackets++;
      rs.stats.outBytes += total;
    }
    c.forwarded++;
    this.outLength = total;
    return Verdict.Rewritten;
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
      if (t.lookup(proto, rs.addr, rs.port, caddr, cport) !== NO_SESSION) {
        c.natTupleInUse++;
        return NO_SESSION;
      }
    } else {
      const pool = svc.localAddresses;
      if (pool.length === 0) {
        c.noLocalAddress++;
        return NO_SESSION;
      }
      for (let i = 0; i < this.portTries; i++) {
        const cand = pool[svc.localCursor++ % pool.length];
        if (svc.localCursor >= pool.length) svc.localCursor = 0;
        const p = cand.takePort();
        if (t.lookup(proto, rs.addr, rs.port, cand.addr, p) === NO_SESSION) {
          la = cand;
          laddr = cand.addr;
          lport = p;
          break;
        }
        cand.portConflicts++;
      }
      if (la === undefined) {
        c.portExhausted++;
        return NO_SESSION;
      }
    }
    const id = t.insert(proto, caddr, cport, vaddr, vport, laddr, lport, rs.addr, rs.port);
    if (id === NO_SESSION) {
      c.tableFull++;
      return NO_SESSION;
    }
    t.method[id] = rs.method === "nat" ? METHOD_NAT : METHOD_FULLNAT;
    t.state[id] = TcpState.NONE;
    t.service[id] = svc.id;
    t.server[id] = rs.id;
    t.local[id] = la ? la.id : -1;
    t.expires[id] = now;
    rs.inactiveConns++;
    if (la) la.conns++;
    svc.stats.conns++;
    rs.stats.conns++;
    c.sessionsCreated++;
    return id;
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
    t.remove(id);
    this.registry.releaseSession(rs, la);
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

  /** Removes every session of `svc` (its service is being deleted). Returns how many. */
  flushService(svc: Service): number {
    const t = this.table;
    let n = 0;
    for (let id = 0, hw = t.highWater; id < hw; id++) {
      if (t.proto[id] !== 0 && t.service[id] === svc.id) {
        this.removeSession(id);
        n++;
      }
    }
    this.counters.sessionsFlushed += n;
    return n;
  }

  /** Milliseconds a session may stay idle in its current state. */
  timeoutMs(id: number): number {
    return this.table.proto[id] === IPPROTO.TCP
      ? this.#tcpTimeoutMs[this.table.state[id]]
      : this.#udpTimeoutMs;
  }
}
