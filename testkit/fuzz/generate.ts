/**
 * The fuzzer's packet source: valid packets of live flows to every service of the plan
 * (client handshakes and data with option lists, the real server's answers learned from what
 * the engine wrote, ICMP errors quoting the flows' own packets), fragments, IPv6 extension
 * headers, other protocols, stray traffic and random bytes; then, for most, mutations
 * (`mutate.ts`). Flows outlive packets, so mutations hit established sessions, not only the
 * no-session path. Everything comes from one {@linkcode Prng}: a seed replays a run.
 *
 * @module
 */
import {
  CLIENTS4,
  CLIENTS6,
  PLAN_ADDRESSES4,
  PLAN_ADDRESSES6,
  type PlanService,
  ROUTER4,
  ROUTER6,
  SERVICES,
} from "./plan.ts";
import { inner, locate, repair } from "./packet_check.ts";
import { mutate } from "./mutate.ts";
import type { Prng } from "./prng.ts";
import {
  EXT,
  get16,
  get32,
  type IpShape,
  PLAIN,
  put32,
  writeIp,
  writeTcp,
  writeTcpOptions,
  writeUdp,
} from "./wire_write.ts";

const TCP = 6;
const UDP = 17;
const F = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32 } as const;

/** Largest ICMP error the generator writes (a quote is cut to fit). */
export const MAX_ICMP = 1600;

/** The far end's side of a flow, learned from the engine's rewrite of a client packet. */
interface Reply {
  src: Uint8Array;
  dst: Uint8Array;
  sport: number;
  dport: number;
  /** The server's next sequence number, in its own space. */
  seq: number;
  /** What the server acknowledges: the client's sequence as the engine rewrote it. */
  ack: number;
  synAcked: boolean;
}

/** A client's conversation with one service. */
interface Flow {
  svc: PlanService;
  client: Uint8Array;
  cport: number;
  /** The client's next sequence number. */
  seq: number;
  /** What the client acknowledges, in its own view of the server's space. */
  ack: number;
  synSent: boolean;
  reply: Reply | undefined;
  /** The engine's last rewrite of a packet of this flow, each way (for ICMP quotes). */
  lastIn: Uint8Array | undefined;
  lastOut: Uint8Array | undefined;
}

/** What the last generated packet was, so {@linkcode Generator.learn} can follow the flow. */
const enum From {
  Other,
  Client,
  Server,
}

/** Per-kind packet tallies of a run, for the report. */
export interface GeneratedKinds {
  client: number;
  server: number;
  icmpQuote: number;
  fragment: number;
  otherProtocol: number;
  stray: number;
  random: number;
  mutated: number;
}

/** Makes packets into a scratch buffer, one at a time. */
export class Generator {
  /** The packet in hand: `buf[0, length)`. */
  readonly buf = new Uint8Array(16384);
  length = 0;
  /** `NFQA_SKB_*` bits to hand the engine with it (2: a GSO super-packet). */
  skbInfo = 0;
  readonly kinds: GeneratedKinds = {
    client: 0,
    server: 0,
    icmpQuote: 0,
    fragment: 0,
    otherProtocol: 0,
    stray: 0,
    random: 0,
    mutated: 0,
  };
  readonly #rng: Prng;
  readonly #flows: Flow[] = [];
  #flow: Flow | undefined;
  #from = From.Other;
  #mutated = false;

  constructor(rng: Prng, readonly maxFlows = 96) {
    this.#rng = rng;
  }

  /** Writes the next packet into {@linkcode buf}. */
  next(): void {
    const rng = this.#rng;
    this.#flow = undefined;
    this.#from = From.Other;
    this.skbInfo = rng.chance(0.03) ? 2 : 0;
    const k = rng.int(100);
    if (k < 40) this.#client();
    else if (k < 62) this.#server();
    else if (k < 72) this.#icmpQuote();
    else if (k < 78) this.#fragment();
    else if (k < 82) this.#otherProtocol();
    else if (k < 92) this.#stray();
    else this.#random();
    this.#mutated = false;
    if (this.length > 0 && rng.chance(0.55)) {
      this.length = mutate(this.buf, this.length, rng);
      this.#mutated = true;
      this.kinds.mutated++;
      if (rng.chance(0.6)) repair(this.buf, 0, this.length);
    }
  }

  /**
   * Follows the flow of the packet just handled from the engine's rewrite of it at
   * `out[o, o+len)` (Rewritten or Marked): the tuple and sequence numbers the other end
   * would answer with. Mutated packets teach nothing.
   */
  learn(out: Uint8Array, o: number, len: number): void {
    const f = this.#flow;
    if (f === undefined || this.#mutated || this.#from === From.Other) return;
    const outer = locate(out, o, len);
    if (outer === undefined) return;
    // A tunnelled packet: the server answers from its own address to the inner source.
    const at = outer.proto === 4 || outer.proto === 41 ? inner(out, outer) : outer;
    if (at === undefined || (at.proto !== TCP && at.proto !== UDP)) return;
    const copy = out.slice(o, o + len);
    const l4 = at.l4;
    const sport = get16(out, l4);
    const dport = get16(out, l4 + 2);
    if (this.#from === From.Client) {
      f.lastIn = copy;
      if (f.reply === undefined) {
        const src = out.slice(outer.dst, outer.dst + (outer.v6 ? 16 : 4));
        f.reply = {
          src,
          dst: out.slice(at.src, at.src + (at.v6 ? 16 : 4)),
          sport: dport,
          dport: sport,
          seq: this.#rng.next(),
          ack: 0,
          synAcked: false,
        };
      }
      if (at.proto === TCP) f.reply.ack = (get32(out, l4 + 4) + span(out, at.l4, at.end)) >>> 0;
    } else {
      f.lastOut = copy;
      if (at.proto === TCP) f.ack = (get32(out, l4 + 4) + span(out, at.l4, at.end)) >>> 0;
    }
  }

  /** A flow: an existing one mostly, else a new one to a random service. */
  #pickFlow(): Flow {
    const rng = this.#rng;
    if (this.#flows.length > 0 && rng.chance(0.8)) return rng.pick(this.#flows);
    const svc = rng.pick(SERVICES);
    const f: Flow = {
      svc,
      client: svc.v6 ? rng.pick(CLIENTS6) : rng.pick(CLIENTS4),
      cport: rng.range(1024, 65535),
      seq: rng.next(),
      ack: 0,
      synSent: false,
      reply: undefined,
      lastIn: undefined,
      lastOut: undefined,
    };
    if (this.#flows.length < this.maxFlows) this.#flows.push(f);
    else this.#flows[rng.int(this.maxFlows)] = f;
    return f;
  }

  /** An IP shape: plain mostly, sometimes IPv4 options or IPv6 extension headers. */
  #shape(v6: boolean): IpShape {
    const rng = this.#rng;
    if (rng.chance(0.85)) return { ...PLAIN, df: rng.chance(0.8) };
    if (!v6) return { ...PLAIN, ipOptions: rng.range(1, 10) * 4, df: rng.chance(0.5) };
    const ext = [];
    const n = rng.range(1, 3);
    for (let i = 0; i < n; i++) ext.push(rng.pick([EXT.HOP_BY_HOP, EXT.DEST_OPTS, EXT.ROUTING]));
    return { ...PLAIN, ext };
  }

  /** A payload size: none, small, or close to the MTU (TOA and tunnel growth limits). */
  #payload(): number {
    const rng = this.#rng;
    // A GSO super-packet is longer than the MTU by design: up to the buffer.
    if (this.skbInfo === 2 && rng.chance(0.5)) return rng.range(1500, 12000);
    const k = rng.int(10);
    return k < 4 ? 0 : k < 8 ? rng.int(200) : rng.range(1300, 1500);
  }

  /** A packet of a flow from its client. */
  #client(): void {
    const f = this.#pickFlow();
    this.#flow = f;
    this.#from = From.Client;
    this.kinds.client++;
    this.#clientPacket(f, this.#shape(f.svc.v6));
  }

  #clientPacket(f: Flow, shape: IpShape): void {
    const rng = this.#rng;
    const b = this.buf;
    const svc = f.svc;
    const v6 = svc.v6;
    const hl = v6 ? 40 + shape.ext.length * 8 : 20 + shape.ipOptions;
    if (svc.protocol === "udp") {
      const n = writeUdp(b, hl, f.cport, svc.vport, this.#payload(), rng);
      writeIp(b, f.client, svc.vip, UDP, n, shape, rng);
      this.#finish(hl + n);
      return;
    }
    let flags: number;
    if (!f.synSent || rng.chance(0.05)) {
      flags = F.SYN;
      if (rng.chance(0.3)) f.seq = rng.next();
      f.synSent = true;
    } else {
      flags = rng.pick([F.ACK, F.ACK | F.PSH, F.ACK | F.PSH, F.ACK | F.FIN, F.RST, F.RST | F.ACK]);
    }
    const syn = flags === F.SYN;
    const opt = writeTcpOptions(b, hl + 20, rng, syn, v6, f.ack);
    const payload = syn ? 0 : (flags & F.PSH) !== 0 ? this.#payload() : 0;
    const n = writeTcp(b, hl, f.cport, svc.vport, f.seq, syn ? 0 : f.ack, flags, opt, payload, rng);
    writeIp(b, f.client, svc.vip, TCP, n, shape, rng);
    f.seq = (f.seq + payload + (syn || (flags & F.FIN) !== 0 ? 1 : 0)) >>> 0;
    if ((flags & F.RST) !== 0 && rng.chance(0.5)) f.synSent = false;
    this.#finish(hl + n);
  }

  /** A packet of a flow from its server, to the tuple the engine's rewrite showed. */
  #server(): void {
    const rng = this.#rng;
    const f = this.#pickFlow();
    const r = f.reply;
    if (r === undefined) {
      this.#client();
      return;
    }
    this.#flow = f;
    this.#from = From.Server;
    this.kinds.server++;
    const b = this.buf;
    const v6 = r.src.length === 16;
    const shape = this.#shape(v6);
    const hl = v6 ? 40 + shape.ext.length * 8 : 20 + shape.ipOptions;
    if (f.svc.protocol === "udp") {
      const n = writeUdp(b, hl, r.sport, r.dport, this.#payload(), rng);
      writeIp(b, r.src, r.dst, UDP, n, shape, rng);
      this.#finish(hl + n);
      return;
    }
    let flags: number;
    if (!r.synAcked || rng.chance(0.03)) {
      flags = rng.chance(0.9) ? F.SYN | F.ACK : F.ACK; // a bare ACK: an orphan's challenge
      r.synAcked = true;
    } else {
      flags = rng.pick([F.ACK, F.ACK | F.PSH, F.ACK | F.PSH, F.ACK | F.FIN, F.RST]);
    }
    const syn = (flags & F.SYN) !== 0;
    const opt = writeTcpOptions(b, hl + 20, rng, syn, v6, r.ack);
    const payload = syn ? 0 : (flags & F.PSH) !== 0 ? this.#payload() : 0;
    const n = writeTcp(b, hl, r.sport, r.dport, r.seq, r.ack, flags, opt, payload, rng);
    writeIp(b, r.src, r.dst, TCP, n, shape, rng);
    r.seq = (r.seq + payload + (syn || (flags & F.FIN) !== 0 ? 1 : 0)) >>> 0;
    this.#finish(hl + n);
  }

  /**
   * An ICMP error about a packet the engine wrote for a flow: from its destination (or a
   * router) back to its source, quoting it whole, cut, or followed by garbage.
   */
  #icmpQuote(): void {
    const rng = this.#rng;
    const f = this.#pickFlow();
    const q = rng.chance(0.5) ? f.lastIn ?? f.lastOut : f.lastOut ?? f.lastIn;
    if (q === undefined) {
      this.#client();
      return;
    }
    this.kinds.icmpQuote++;
    const at = locate(q, 0, q.length);
    if (at === undefined) return this.#random();
    const v6 = at.v6;
    const b = this.buf;
    const src = rng.chance(0.5) ? q.slice(at.dst, at.dst + (v6 ? 16 : 4)) : v6 ? ROUTER6 : ROUTER4;
    const dst = q.subarray(at.src, at.src + (v6 ? 16 : 4));
    const shape = { ...PLAIN, df: false };
    const hl = v6 ? 40 : 20;
    const k = rng.int(10);
    let quoteLength = k < 5 ? q.length : k < 8 ? at.l4 + 8 : rng.int(q.length + 1);
    quoteLength = Math.min(quoteLength, MAX_ICMP - hl - 8 - 64);
    const garbage = rng.chance(0.2) ? rng.int(64) : 0;
    // Types: the translated errors mostly, sometimes any type.
    const type = rng.chance(0.85)
      ? v6 ? rng.pick([1, 2, 3, 4]) : rng.pick([3, 3, 3, 11, 4, 12])
      : rng.int(256);
    b[hl] = type;
    b[hl + 1] = rng.chance(0.7) ? (v6 ? 0 : 4) : rng.int(16);
    b[hl + 2] = 0;
    b[hl + 3] = 0;
    put32(b, hl + 4, rng.pick([0, 576, 1280, 1400, 1492, 68, 0xffff]));
    b.set(q.subarray(0, quoteLength), hl + 8);
    rng.fill(b, hl + 8 + quoteLength, hl + 8 + quoteLength + garbage);
    const n = 8 + quoteLength + garbage;
    writeIp(b, src, dst, v6 ? 58 : 1, n, shape, rng);
    this.#finish(hl + n);
  }

  /** A client packet of a flow sent as a fragment: first, middle or last. */
  #fragment(): void {
    const rng = this.#rng;
    const f = this.#pickFlow();
    this.kinds.fragment++;
    const first = rng.chance(0.5);
    const shape: IpShape = {
      ...PLAIN,
      df: false,
      mf: first || rng.chance(0.5),
      fragOffset: first ? 0 : rng.range(1, 180),
      ext: f.svc.v6 ? [EXT.FRAGMENT] : [],
    };
    this.#clientPacket(f, shape);
  }

  /** GRE, ESP, AH, ICMP echo or an unassigned protocol, to a VIP or another plan address. */
  #otherProtocol(): void {
    const rng = this.#rng;
    this.kinds.otherProtocol++;
    const v6 = rng.chance(0.4);
    const b = this.buf;
    const hl = v6 ? 40 : 20;
    const proto = rng.pick([47, 50, 51, 132, 253, v6 ? 58 : 1]);
    const n = rng.range(8, 120);
    rng.fill(b, hl, hl + n);
    if (proto === 1 || proto === 58) b[hl] = v6 ? rng.pick([128, 129]) : rng.pick([0, 8]);
    writeIp(
      b,
      v6 ? rng.pick(CLIENTS6) : rng.pick(CLIENTS4),
      v6 ? rng.pick(PLAN_ADDRESSES6) : rng.pick(PLAN_ADDRESSES4),
      proto,
      n,
      PLAIN,
      rng,
    );
    this.#finish(hl + n);
  }

  /** TCP or UDP between plan addresses and clients on ports no service has. */
  #stray(): void {
    const rng = this.#rng;
    this.kinds.stray++;
    const v6 = rng.chance(0.4);
    const b = this.buf;
    const hl = v6 ? 40 : 20;
    const src = v6
      ? rng.pick([...CLIENTS6, ...PLAN_ADDRESSES6])
      : rng.pick([...CLIENTS4, ...PLAN_ADDRESSES4]);
    const dst = v6 ? rng.pick(PLAN_ADDRESSES6) : rng.pick(PLAN_ADDRESSES4);
    const dport = rng.pick([80, 53, 443, 8080, 20000 + rng.int(400), rng.int(65536)]);
    let n: number;
    let proto: number;
    if (rng.chance(0.5)) {
      proto = UDP;
      n = writeUdp(b, hl, rng.int(65536), dport, rng.int(64), rng);
    } else {
      proto = TCP;
      const opt = writeTcpOptions(b, hl + 20, rng, false, v6, 0);
      n = writeTcp(
        b,
        hl,
        rng.int(65536),
        dport,
        rng.next(),
        rng.next(),
        rng.int(256),
        opt,
        rng.int(64),
        rng,
      );
    }
    writeIp(b, src, dst, proto, n, PLAIN, rng);
    this.#finish(hl + n);
  }

  /** Random bytes, sometimes with an IP version nibble. */
  #random(): void {
    const rng = this.#rng;
    this.kinds.random++;
    const n = rng.chance(0.1) ? rng.int(4) : rng.int(300);
    rng.fill(this.buf, 0, n);
    if (n > 0 && rng.chance(0.7)) {
      this.buf[0] = (rng.chance(0.5) ? 0x40 : 0x60) | (this.buf[0] & 15);
    }
    this.length = n;
  }

  /** Sets the packet's length and its checksums. */
  #finish(length: number): void {
    this.length = length;
    repair(this.buf, 0, length);
  }
}

/** The sequence space a TCP segment at `l4` (ending at `end`) takes: payload, SYN, FIN. */
function span(b: Uint8Array, l4: number, end: number): number {
  const flags = b[l4 + 13];
  const payload = end - l4 - ((b[l4 + 12] >>> 4) << 2);
  return Math.max(0, payload) + (flags & F.SYN ? 1 : 0) + (flags & F.FIN ? 1 : 0);
}
