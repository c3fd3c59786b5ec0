/**
 * The session table: every field of every session lives in preallocated typed arrays (one slot
 * per session id), and each session is reachable from two entries of one chained hash index:
 * its in-entry, keyed by the tuple of client->virtual packets, and its out-entry, keyed by the
 * tuple of real-server->local packets. A lookup therefore yields the session and the packet's
 * direction in one probe, and nothing is allocated per packet.
 *
 * The table knows no address family: it hands out slots and keeps the index chains, and each
 * family (`family_ipv4.ts`, `family_ipv6.ts`) hashes, stores and compares its own addresses.
 * Every entry remembers the bucket it was linked in, so removing a session needs no family.
 *
 * @module
 */
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
  /** The bucket each entry is linked in, so unlinking needs neither the tuple nor its family. */
  #bucketOf: Int32Array;
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
    this.#bucketOf = new Int32Array(capacity * 2);
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
   * Takes a free slot for a session of `proto` (IPv6 ones `| V6`) and clears its per-session
   * fields. Returns the id, or {@linkcode NO_SESSION} when the table is full. The caller fills
   * the addresses and ports, then calls {@linkcode link}.
   */
  open(proto: number): number {
    if (this.#freeTop === 0) return NO_SESSION;
    const id = this.#free[--this.#freeTop];
    if (id >= this.#highWater) this.#highWater = id + 1;
    this.proto[id] = proto;
    this.clientIsn[id] = 0;
    this.seqDelta[id] = 0;
    this.rsAck[id] = 0;
    this.rsSeqEnd[id] = 0;
    this.flags[id] = 0;
    this.#count++;
    return id;
  }

  /** Indexes session `id` under the hashes of its in-tuple and its out-tuple. */
  link(id: number, inHash: number, outHash: number): void {
    this.#link(id * 2, inHash);
    this.#link(id * 2 + 1, outHash);
  }

  /** The first entry (id * 2 + direction) of the chain tuples of `hash` land in, or -1. */
  head(hash: number): number {
    return this.#buckets[hash & this.#mask];
  }

  /** The entry after `entry` in its chain, or -1. */
  next(entry: number): number {
    return this.#next[entry];
  }

  /** Allocates the IPv6 addresses' array with the first IPv6 session. */
  ensureAddr6(): Uint32Array {
    if (this.addr6.length === 0) this.addr6 = new Uint32Array(this.capacity * 16);
    return this.addr6;
  }

  /** Unlinks and frees slot `id`. */
  remove(id: number): void {
    if (this.proto[id] === 0) return;
    this.#unlink(id * 2);
    this.#unlink(id * 2 + 1);
    this.proto[id] = 0;
    this.state[id] = 0;
    this.#free[this.#freeTop++] = id;
    this.#count--;
  }

  #link(entry: number, hash: number): void {
    const b = hash & this.#mask;
    this.#bucketOf[entry] = b;
    this.#next[entry] = this.#buckets[b];
    this.#buckets[b] = entry;
  }

  #unlink(entry: number): void {
    const b = this.#bucketOf[entry];
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
