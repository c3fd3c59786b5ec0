/**
 * The session table: every field of every session lives in preallocated typed arrays (one slot
 * per session id), and each session is reachable from two entries of one chained hash index:
 * its in-entry, keyed by the tuple of client->virtual packets, and its out-entry, keyed by the
 * tuple of real-server->local packets. A lookup therefore yields the session and the packet's
 * direction in one probe, and nothing is allocated per packet.
 *
 * @module
 */
import { addr6Equal } from "../wire/ipv6.ts";

/** Direction of a packet relative to its session, as told by which index entry matched. */
export const Dir = {
  /** Client to virtual service (OUT2IN in the seed's words). */
  In: 0,
  /** Real server to local address (IN2OUT). */
  Out: 1,
} as const;
/** One of the {@linkcode Dir} values. */
export type Dir = typeof Dir[keyof typeof Dir];

/** Bits of {@linkcode SessionTable.flags}. */
export const SessionFlag = {
  /** The real server has sent payload: TOA is no longer added to client segments. */
  RS_DATA: 1,
  /** The real server has sent something, so rsAck and rsSeqEnd are meaningful. */
  RS_SEEN: 2,
} as const;

/**
 * Marks an IPv6 session in {@linkcode SessionTable.proto}: IPv6 sessions store `proto | V6`,
 * so IPv4 lookups, which compare the protocol first, never match one.
 */
export const V6 = 0x80;

/** Word offsets of the four addresses of an IPv6 session within its 16 words of `addr6`. */
export const A6 = { C: 0, V: 4, L: 8, D: 12 } as const;

/** Returned by lookups that found nothing. */
export const NO_SESSION = -1;

// Mixing constants of a 32-bit multiplicative hash; any odd constants with good avalanche do.
const M1 = 0x9e3779b1;
const M2 = 0x85ebca77;

/**
 * Hash of a packet tuple as it appears on the wire (source then destination), as a signed
 * 32-bit value: an unsigned one of 2^31 or more would be boxed on every call not inlined.
 */
export function tupleHash(
  proto: number,
  saddr: number,
  sport: number,
  daddr: number,
  dport: number,
): number {
  let h = Math.imul(saddr ^ proto, M1);
  h = Math.imul(h ^ (h >>> 15) ^ daddr, M2);
  h = Math.imul(h ^ (h >>> 13) ^ ((sport << 16) | dport), M1);
  return h ^ (h >>> 16);
}

/** {@linkcode tupleHash} over IPv6 addresses `s[so, so+4)` and `d[do_, do_+4)`. */
export function tupleHash6(
  proto: number,
  s: Uint32Array,
  so: number,
  sport: number,
  d: Uint32Array,
  do_: number,
  dport: number,
): number {
  let h = Math.imul(s[so] ^ proto, M1);
  h = Math.imul(h ^ (h >>> 15) ^ s[so + 1], M2);
  h = Math.imul(h ^ (h >>> 13) ^ s[so + 2], M1);
  h = Math.imul(h ^ (h >>> 15) ^ s[so + 3], M2);
  h = Math.imul(h ^ (h >>> 13) ^ d[do_], M1);
  h = Math.imul(h ^ (h >>> 15) ^ d[do_ + 1], M2);
  h = Math.imul(h ^ (h >>> 13) ^ d[do_ + 2], M1);
  h = Math.imul(h ^ (h >>> 15) ^ d[do_ + 3], M2);
  h = Math.imul(h ^ (h >>> 13) ^ ((sport << 16) | dport), M1);
  return h ^ (h >>> 16);
}

/**
 * A fixed-capacity table of sessions. Field arrays are public so the engine reads and writes
 * them directly on the hot path; the table itself only manages slots and the index.
 */
export class SessionTable {
  readonly capacity: number;
  /** IP protocol number; 0 marks a free slot. */
  readonly proto: Uint8Array;
  readonly state: Uint8Array;
  /** 0 FULLNAT, 1 NAT. */
  readonly method: Uint8Array;
  readonly caddr: Uint32Array;
  readonly vaddr: Uint32Array;
  readonly laddr: Uint32Array;
  readonly daddr: Uint32Array;
  readonly cport: Uint16Array;
  readonly vport: Uint16Array;
  readonly lport: Uint16Array;
  readonly dport: Uint16Array;
  /** Monotonic milliseconds at which the session expires unless refreshed. */
  readonly expires: Float64Array;
  /** Owner ids the engine maps to service and real-server objects. */
  readonly service: Int32Array;
  readonly server: Int32Array;
  /** Local-address owner id (-1 in NAT mode, where the client's address is kept). */
  readonly local: Int32Array;
  /** TCP: the client's ISN, to tell a retransmitted SYN from a new connection on the tuple. */
  readonly clientIsn: Uint32Array;
  /** TCP FULLNAT: our ISN minus the client's, added to client->RS seq (0 means none). */
  readonly seqDelta: Uint32Array;
  /** TCP: the last ack the real server sent, in its own space (seq of a RST to it). */
  readonly rsAck: Uint32Array;
  /** TCP: end of the real server's last segment (seq of a RST to the client). */
  readonly rsSeqEnd: Uint32Array;
  /** Per-session bits, {@linkcode SessionFlag}. */
  readonly flags: Uint8Array;
  /**
   * IPv6 sessions' addresses, 16 words per session id (client, virtual, local, real; see
   * {@linkcode A6}). Allocated with the first IPv6 session, so IPv4-only boxes never pay for it.
   */
  addr6: Uint32Array = new Uint32Array(0);
  /**
   * The IPv4 address arrays by slot (client, virtual, local, real server: the order of
   * `Slot` in `family.ts`), so that code picking a slot at run time reads one array element
   * instead of branching over four fields: it keeps the shared rewrite small enough for V8 to
   * inline its family calls (bench/engine_bench.ts).
   */
  readonly addrBySlot: readonly Uint32Array[];
  /** The port arrays by slot, in the order of {@linkcode addrBySlot}. */
  readonly portBySlot: readonly Uint16Array[];

  #buckets: Int32Array;
  #mask: number;
  /** Chain links per index entry; entry = id * 2 + direction. */
  #next: Int32Array;
  #free: Int32Array;
  #freeTop: number;
  #count = 0;
  /** One past the highest slot ever used, so scans skip the untouched tail. */
  #highWater = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 24) {
      throw new RangeError(`Session capacity must be an integer from 1 to ${1 << 24}`);
    }
    this.capacity = capacity;
    this.proto = new Uint8Array(capacity);
    this.state = new Uint8Array(capacity);
    this.method = new Uint8Array(capacity);
    this.caddr = new Uint32Array(capacity);
    this.vaddr = new Uint32Array(capacity);
    this.laddr = new Uint32Array(capacity);
    this.daddr = new Uint32Array(capacity);
    this.cport = new Uint16Array(capacity);
    this.vport = new Uint16Array(capacity);
    this.lport = new Uint16Array(capacity);
    this.dport = new Uint16Array(capacity);
    this.expires = new Float64Array(capacity);
    this.service = new Int32Array(capacity);
    this.server = new Int32Array(capacity);
    this.local = new Int32Array(capacity);
    this.clientIsn = new Uint32Array(capacity);
    this.seqDelta = new Uint32Array(capacity);
    this.rsAck = new Uint32Array(capacity);
    this.rsSeqEnd = new Uint32Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.addrBySlot = [this.caddr, this.vaddr, this.laddr, this.daddr];
    this.portBySlot = [this.cport, this.vport, this.lport, this.dport];
    let nb = 1;
    while (nb < capacity * 2) nb <<= 1;
    this.#buckets = new Int32Array(nb).fill(-1);
    this.#mask = nb - 1;
    this.#next = new Int32Array(capacity * 2).fill(-1);
    this.#free = new Int32Array(capacity);
    // Hand out low ids first so scans over [0, highWater) stay short.
    for (let i = 0; i < capacity; i++) this.#free[i] = capacity - 1 - i;
    this.#freeTop = capacity;
  }

  /** Sessions in use. */
  get size(): number {
    return this.#count;
  }

  /** One past the highest id ever handed out; every live id is below it. */
  get highWater(): number {
    return this.#highWater;
  }

  /** True when slot `id` holds a live session. */
  live(id: number): boolean {
    return this.proto[id] !== 0;
  }

  /**
   * Finds the session whose in- or out-tuple equals the packet tuple. Returns the entry
   * (id * 2 + direction) or {@linkcode NO_SESSION}.
   */
  lookup(proto: number, saddr: number, sport: number, daddr: number, dport: number): number {
    const s = saddr | 0;
    const d = daddr | 0;
    let e = this.#buckets[tupleHash(proto, s, sport, d, dport) & this.#mask];
    while (e !== -1) {
      const id = e >> 1;
      if (this.proto[id] === proto) {
        if ((e & 1) === Dir.In) {
          if (
            (this.caddr[id] | 0) === s && (this.vaddr[id] | 0) === d &&
            this.cport[id] === sport && this.vport[id] === dport
          ) return e;
        } else if (
          (this.daddr[id] | 0) === s && (this.laddr[id] | 0) === d &&
          this.dport[id] === sport && this.lport[id] === dport
        ) return e;
      }
      e = this.#next[e];
    }
    return NO_SESSION;
  }

  /**
   * Takes a free slot, fills its tuple and links both index entries. Returns the id, or
   * {@linkcode NO_SESSION} when the table is full. Other fields are the caller's to set.
   */
  insert(
    proto: number,
    caddr: number,
    cport: number,
    vaddr: number,
    vport: number,
    laddr: number,
    lport: number,
    daddr: number,
    dport: number,
    link = true,
  ): number {
    if (this.#freeTop === 0) return NO_SESSION;
    const id = this.#free[--this.#freeTop];
    if (id >= this.#highWater) this.#highWater = id + 1;
    this.proto[id] = proto;
    this.caddr[id] = caddr;
    this.cport[id] = cport;
    this.vaddr[id] = vaddr;
    this.vport[id] = vport;
    this.laddr[id] = laddr;
    this.lport[id] = lport;
    this.daddr[id] = daddr;
    this.dport[id] = dport;
    this.clientIsn[id] = 0;
    this.seqDelta[id] = 0;
    this.rsAck[id] = 0;
    this.rsSeqEnd[id] = 0;
    this.flags[id] = 0;
    if (link) {
      this.#link(id * 2, tupleHash(proto, caddr, cport, vaddr, vport));
      this.#link(id * 2 + 1, tupleHash(proto, daddr, dport, laddr, lport));
    }
    this.#count++;
    return id;
  }

  /**
   * {@linkcode lookup} for IPv6: the packet's source address is `s[so, so+4)` and its
   * destination `d[do_, do_+4)`; `proto` is the plain protocol number.
   */
  lookup6(
    proto: number,
    s: Uint32Array,
    so: number,
    sport: number,
    d: Uint32Array,
    do_: number,
    dport: number,
  ): number {
    const p6 = proto | V6;
    const a = this.addr6;
    let e = this.#buckets[tupleHash6(p6, s, so, sport, d, do_, dport) & this.#mask];
    while (e !== -1) {
      const id = e >> 1;
      if (this.proto[id] === p6) {
        const base = id << 4;
        if ((e & 1) === Dir.In) {
          if (
            this.cport[id] === sport && this.vport[id] === dport &&
            addr6Equal(a, base + A6.C, s, so) && addr6Equal(a, base + A6.V, d, do_)
          ) return e;
        } else if (
          this.dport[id] === sport && this.lport[id] === dport &&
          addr6Equal(a, base + A6.D, s, so) && addr6Equal(a, base + A6.L, d, do_)
        ) return e;
      }
      e = this.#next[e];
    }
    return NO_SESSION;
  }

  /**
   * {@linkcode insert} for IPv6: each address is four words of an array at an offset.
   * Returns the id or {@linkcode NO_SESSION}.
   */
  insert6(
    proto: number,
    c: Uint32Array,
    co: number,
    cport: number,
    v: Uint32Array,
    vo: number,
    vport: number,
    l: Uint32Array,
    lo: number,
    lport: number,
    d: Uint32Array,
    do_: number,
    dport: number,
  ): number {
    if (this.#freeTop === 0) return NO_SESSION;
    if (this.addr6.length === 0) this.addr6 = new Uint32Array(this.capacity * 16);
    const id = this.insert(
      proto | V6,
      c[co + 3],
      cport,
      v[vo + 3],
      vport,
      l[lo + 3],
      lport,
      d[do_ + 3],
      dport,
      false,
    );
    const base = id << 4;
    const a = this.addr6;
    for (let i = 0; i < 4; i++) {
      a[base + A6.C + i] = c[co + i];
      a[base + A6.V + i] = v[vo + i];
      a[base + A6.L + i] = l[lo + i];
      a[base + A6.D + i] = d[do_ + i];
    }
    this.#link(id * 2, tupleHash6(proto | V6, a, base + A6.C, cport, a, base + A6.V, vport));
    this.#link(id * 2 + 1, tupleHash6(proto | V6, a, base + A6.D, dport, a, base + A6.L, lport));
    return id;
  }

  /** Unlinks and frees slot `id`. */
  remove(id: number): void {
    const proto = this.proto[id];
    if (proto === 0) return;
    if (proto & V6) {
      const a = this.addr6;
      const base = id << 4;
      this.#unlink(
        id * 2,
        tupleHash6(proto, a, base + A6.C, this.cport[id], a, base + A6.V, this.vport[id]),
      );
      this.#unlink(
        id * 2 + 1,
        tupleHash6(proto, a, base + A6.D, this.dport[id], a, base + A6.L, this.lport[id]),
      );
    } else {
      this.#unlinkV4(id, proto);
    }
    this.proto[id] = 0;
    this.state[id] = 0;
    this.#free[this.#freeTop++] = id;
    this.#count--;
  }

  #unlinkV4(id: number, proto: number): void {
    // Signed, so the addresses are not boxed when tupleHash is not inlined.
    this.#unlink(
      id * 2,
      tupleHash(proto, this.caddr[id] | 0, this.cport[id], this.vaddr[id] | 0, this.vport[id]),
    );
    this.#unlink(
      id * 2 + 1,
      tupleHash(proto, this.daddr[id] | 0, this.dport[id], this.laddr[id] | 0, this.lport[id]),
    );
  }

  #link(entry: number, hash: number): void {
    const b = hash & this.#mask;
    this.#next[entry] = this.#buckets[b];
    this.#buckets[b] = entry;
  }

  #unlink(entry: number, hash: number): void {
    const b = hash & this.#mask;
    let e = this.#buckets[b];
    if (e === entry) {
      this.#buckets[b] = this.#next[entry];
    } else {
      while (e !== -1) {
        const n = this.#next[e];
        if (n === entry) {
          this.#next[e] = this.#next[entry];
          break;
        }
        e = n;
      }
    }
    this.#next[entry] = -1;
  }
}
