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
  /**
   * A one-packet session (ipvsadm `-o`): only its out-entry is indexed, so the client's next
   * datagram is scheduled anew, and the reply it waits for ends it.
   */
  ONE_PACKET: 4,
  /**
   * Installed from a session-sync message (`src/sync/session_sync.ts`), as IPVS marks such a
   * connection `IP_VS_CONN_F_SYNC`: this box's own sync master sends it only once traffic here
   * changes it, so two boxes that sync each other do not echo each other's sessions back.
   */
  SYNCED: 8,
  /**
   * Counted against its client address in its service's per-source table
   * (`--source-sessions`, `admission.ts`): its end gives the count back.
   */
  SOURCE_COUNTED: 16,
  /**
   * Opened by the SYN proxy (`syn_proxy.ts`): the client's view of the real server's sequence
   * numbers (from the cookie) and timestamps differ from the real server's own, so both are
   * translated with `proxySeq`, `proxyTs` and `proxyWscale`.
   */
  SYN_PROXY: 32,
  /**
   * A SYN proxy session whose real server has not answered its SYN yet: the client's packets
   * are held (`syn_proxy_hold.ts`) and `proxySeq` holds the cookie, `proxyTs` the cookie
   * TSval, until the real server's SYN-ACK gives the deltas.
   */
  PROXY_WAIT: 64,
  /**
   * Handed to the kernel's conntrack (`offload.ts`, `--offload established`): its packets
   * normally no longer reach the queue. The session stays in the table, its local port
   * reserved, and the idle timer leaves it alone until the kernel's entry is gone.
   */
  OFFLOADED: 128,
} as const;

/**
 * Bits of {@linkcode SessionTable.handshake}: what the offload (`offload.ts`) needs of the
 * handshake and of what came after it, known only to the process that saw it.
 */
export const Handshake = {
  /** The client SYN's window scale plus one (0: none offered, or not seen). */
  CLIENT_WSCALE: 0x0f,
  /** The real server's SYN-ACK's window scale plus one, shifted by 4 (0: none, or not seen). */
  RS_WSCALE: 0xf0,
  /** The real server's SYN-ACK was seen: `rsIsn` holds its ISN. */
  RS_ISN: 0x100,
  /** An offloaded session's packet reached the engine anyway (the kernel let it through). */
  FELL_BACK: 0x200,
  /**
   * Came back from the kernel while its packets were already coming to the queue: not offered
   * again (its kernel entry may have ended with the connection's close, which the engine did
   * not see, and a new one would sit idle until the ESTABLISHED timeout).
   */
  RETURNED: 0x400,
  /**
   * An offloaded session whose kernel entry ended by idle timeout: the engine sent the real
   * server a probe for its sequence numbers and waits for the answer (`offload_expiry.ts`),
   * the session still OFFLOADED so that its packets take the out-of-line path.
   */
  PROBING: 0x800,
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
  /**
   * SYN proxy: the real server's ISN minus the cookie: subtracted from RS->client seq, added
   * to client->RS ack and SACK edges (`syn_proxy.ts`).
   */
  readonly proxySeq: Uint32Array;
  /** SYN proxy: the real server's TSval minus the cookie TSval (0 without timestamps). */
  readonly proxyTs: Uint32Array;
  /**
   * SYN proxy: the real server's window scale plus one (0: no window scaling), against the
   * balancer's announced `PROXY_WSCALE`.
   */
  readonly proxyWscale: Uint8Array;
  /** TCP: the last ack the real server sent, in its own space (seq of a RST to it). */
  readonly rsAck: Uint32Array;
  /** TCP: end of the real server's last segment (seq of a RST to the client). */
  readonly rsSeqEnd: Uint32Array;
  /** Per-session bits, {@linkcode SessionFlag}. */
  readonly flags: Uint8Array;
  /**
   * IPv6 sessions' addresses, 16 words per session id (client, virtual, local, real; see
   * {@linkcode A6}). Its pages are touched only by IPv6 sessions, so IPv4-only boxes do not pay
   * for it in resident memory.
   */
  readonly addr6: Uint32Array;
  /**
   * The IPv4 address arrays by slot (client, virtual, local, real server: the order of
   * `Slot` in `family.ts`), so that code picking a slot at run time reads one array element
   * instead of branching over four fields: it keeps the shared rewrite small enough for V8 to
   * inline its family calls (bench/engine_bench.ts).
   */
  readonly addrBySlot: readonly Uint32Array[];
  /** The port arrays by slot, in the order of {@linkcode addrBySlot}. */
  readonly portBySlot: readonly Uint16Array[];
  /**
   * {@linkcode Handshake} bits per session. The process's own memory, not the session
   * memory that outlives it: sessions taken over from a previous process read 0 (window
   * scales unknown, which the offload copes with) and the run-state layout stays as it is.
   */
  readonly handshake: Uint16Array;
  /** The real server's ISN (valid with `Handshake.RS_ISN`), for the offload's byte count. */
  readonly rsIsn: Uint32Array;

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

  /**
   * A table of `capacity` sessions. With `memory` (at least {@linkcode SessionTable.bytes}
   * bytes from byte `offset`), every per-session field lives there: memory that outlives the
   * process keeps the sessions (`src/runstate`), and {@linkcode reindex} then rebuilds the
   * index over them. The index itself is always the process's own, as it is rebuilt anyway.
   */
  constructor(capacity: number, memory?: ArrayBuffer, offset = 0) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 24) {
      throw new RangeError(`Session capacity must be an integer from 1 to ${1 << 24}`);
    }
    this.capacity = capacity;
    const m = new FieldCarver(memory ?? new ArrayBuffer(SessionTable.bytes(capacity)), offset);
    // Widest elements first, so each array starts aligned to its element size.
    this.expires = m.f64(capacity);
    this.caddr = m.u32(capacity);
    this.vaddr = m.u32(capacity);
    this.laddr = m.u32(capacity);
    this.daddr = m.u32(capacity);
    this.service = m.i32(capacity);
    this.server = m.i32(capacity);
    this.local = m.i32(capacity);
    this.clientIsn = m.u32(capacity);
    this.seqDelta = m.u32(capacity);
    this.rsAck = m.u32(capacity);
    this.rsSeqEnd = m.u32(capacity);
    this.addr6 = m.u32(capacity * 16);
    this.cport = m.u16(capacity);
    this.vport = m.u16(capacity);
    this.lport = m.u16(capacity);
    this.dport = m.u16(capacity);
    this.proto = m.u8(capacity);
    this.state = m.u8(capacity);
    this.method = m.u8(capacity);
    this.flags = m.u8(capacity);
    // Fields added since layout version 1 come after all of its fields (which end 4-aligned:
    // 132 bytes a session), so a version-1 table grows into this layout by its zero-filled
    // end (`run_state.ts`): an upgrade keeps the sessions, none of which is proxied.
    this.proxySeq = m.u32(capacity);
    this.proxyTs = m.u32(capacity);
    this.proxyWscale = m.u8(capacity);
    this.addrBySlot = [this.caddr, this.vaddr, this.laddr, this.daddr];
    this.portBySlot = [this.cport, this.vport, this.lport, this.dport];
    this.handshake = new Uint16Array(capacity);
    this.rsIsn = new Uint32Array(capacity);
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
    this.proxySeq[id] = 0;
    this.proxyTs[id] = 0;
    this.proxyWscale[id] = 0;
    this.flags[id] = 0;
    this.handshake[id] = 0;
    this.#count++;
    return id;
  }

  /** Indexes session `id` under the hashes of its in-tuple and its out-tuple. */
  link(id: number, inHash: number, outHash: number): void {
    this.#link(id * 2, inHash);
    this.#link(id * 2 + 1, outHash);
  }

  /**
   * Unindexes the in-entry of session `id` (client->virtual packets no longer find it); its
   * out-entry stays, so its real server's reply does. {@linkcode remove} copes with it.
   */
  unlinkIn(id: number): void {
    this.#unlink(id * 2);
    this.#bucketOf[id * 2] = -1;
  }

  /** The first entry (id * 2 + direction) of the chain tuples of `hash` land in, or -1. */
  head(hash: number): number {
    return this.#buckets[hash & this.#mask];
  }

  /** The entry after `entry` in its chain, or -1. */
  next(entry: number): number {
    return this.#next[entry];
  }

  /** Bytes the per-session fields of a table of `capacity` sessions take. */
  static bytes(capacity: number): number {
    // Layout version 1's fields, then the SYN proxy's two words and one byte.
    return SessionTable.bytesV1(capacity) + capacity * (2 * 4 + 1);
  }

  /** What the fields took in layout version 1 (before the SYN proxy's), for an upgrade. */
  static bytesV1(capacity: number): number {
    // expires; 4 addresses, 3 owners, 4 TCP words; 16 IPv6 words; 4 ports; 4 bytes.
    return capacity * (8 + 11 * 4 + 16 * 4 + 4 * 2 + 4);
  }

  /**
   * Rebuilds the index, the free slots and the counts from the per-session fields, as found
   * in memory that outlived the process. `keep(id)` is called for every slot that holds a
   * session: it links the session (with {@linkcode link}) and returns true, or returns false
   * to have the slot freed. Returns how many sessions were kept.
   */
  reindex(keep: (id: number) => boolean): number {
    this.#buckets.fill(-1);
    this.#next.fill(-1);
    this.#count = 0;
    this.#highWater = 0;
    for (let id = 0; id < this.capacity; id++) {
      if (this.proto[id] === 0) continue;
      if (keep(id)) {
        this.#count++;
        this.#highWater = id + 1;
      } else {
        this.proto[id] = 0;
        this.state[id] = 0;
      }
    }
    // Low ids on top of the stack, as the constructor hands them out.
    this.#freeTop = 0;
    for (let id = this.capacity - 1; id >= 0; id--) {
      if (this.proto[id] === 0) this.#free[this.#freeTop++] = id;
    }
    return this.#count;
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
    // An entry unlinked on its own (`unlinkIn`) is in no chain.
    if (b < 0) return;
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

/** Cuts consecutive typed arrays out of one buffer. */
class FieldCarver {
  constructor(readonly buffer: ArrayBuffer, public offset: number) {}

  #take(bytes: number): number {
    const at = this.offset;
    if (at + bytes > this.buffer.byteLength) {
      throw new RangeError(
        `session memory too small: needs more than ${this.buffer.byteLength} bytes`,
      );
    }
    this.offset += bytes;
    return at;
  }
  f64(n: number): Float64Array {
    return new Float64Array(this.buffer, this.#take(n * 8), n);
  }
  u32(n: number): Uint32Array {
    return new Uint32Array(this.buffer, this.#take(n * 4), n);
  }
  i32(n: number): Int32Array {
    return new Int32Array(this.buffer, this.#take(n * 4), n);
  }
  u16(n: number): Uint16Array {
    return new Uint16Array(this.buffer, this.#take(n * 2), n);
  }
  u8(n: number): Uint8Array {
    return new Uint8Array(this.buffer, this.#take(n), n);
  }
}
