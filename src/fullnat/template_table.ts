/**
 * One service's persistence templates, keyed by the whole masked client address. Seed 5.1,
 * IPVS's connection templates (`-p`): an open-addressing table keyed by the client's address,
 * masked by the service's granularity (`-M`), as four 32-bit words (an IPv4 address in the
 * first word, the others 0).
 * Two clients share a template only when their masked addresses are equal: no hash of the
 * address stands in for it, so unlike a key folded into one word no two IPv6 clients collide.
 *
 * Struct of arrays with linear probing and backward-shift deletion (no tombstones, so a table
 * that churns does not fill up with them). Nothing is allocated per lookup, insertion or
 * deletion; only growth (when more than half the slots are used) and shrinking (in
 * {@linkcode TemplateTable.compact}, from the expiry scan) make new arrays, each doubling or
 * halving, so a service with a steady set of clients stops allocating once it has grown.
 *
 * @module
 */
import type { RealServer } from "./service.ts";

/** Fewest slots a table has. */
const MIN_SLOTS = 16;

/**
 * Where a key's probe starts: the four words mixed (murmur3's constants), so addresses that
 * differ in any bit spread over the table.
 */
function hashKey(w: Uint32Array, o: number): number {
  let h = Math.imul(w[o] ^ 0x9e3779b9, 0xcc9e2d51);
  h = Math.imul((h << 15) | (h >>> 17), 0x1b873593) ^ w[o + 1];
  h = Math.imul((h << 13) | (h >>> 19), 0xe6546b64) ^ w[o + 2];
  h = Math.imul((h << 15) | (h >>> 17), 0x85ebca6b) ^ w[o + 3];
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) & 0x3fffffff;
}

/**
 * Templates by masked client address; slots are what {@linkcode TemplateTable.find} and
 * iteration hand out. Each template counts itself in its real server's `persistConns` (IPVS's
 * `persistconns`) for as long as it points there.
 */
export class TemplateTable {
  /** Key words, four per slot. */
  #keys: Uint32Array;
  /** The real server of each slot's template; undefined marks a free slot. */
  #servers: (RealServer | undefined)[];
  /** Monotonic milliseconds after which each slot's template may be forgotten. */
  #expires: Float64Array;
  /** Sessions each template placed that are still open (IPVS's `n_control`). */
  #controls: Int32Array;
  #mask: number;
  #size = 0;

  constructor(slots = MIN_SLOTS) {
    let n = MIN_SLOTS;
    while (n < slots) n *= 2;
    this.#keys = new Uint32Array(n * 4);
    this.#servers = new Array(n).fill(undefined);
    this.#expires = new Float64Array(n);
    this.#controls = new Int32Array(n);
    this.#mask = n - 1;
  }

  /** Templates held. */
  get size(): number {
    return this.#size;
  }

  /** Slots of the table (live or free): the bound of iteration by slot. */
  get slots(): number {
    return this.#mask + 1;
  }

  /** The slot of the template keyed `w[o, o+4)`, or -1. */
  find(w: Uint32Array, o: number): number {
    const keys = this.#keys;
    const servers = this.#servers;
    const mask = this.#mask;
    for (let i = hashKey(w, o) & mask;; i = (i + 1) & mask) {
      if (servers[i] === undefined) return -1;
      const k = i << 2;
      if (
        keys[k] === w[o] && keys[k + 1] === w[o + 1] && keys[k + 2] === w[o + 2] &&
        keys[k + 3] === w[o + 3]
      ) return i;
    }
  }

  /**
   * Adds the template keyed `w[o, o+4)` (not present: {@linkcode find} said so) for `rs`, with
   * no session placed yet and an expiry time of 0; returns its slot. The caller sets the time
   * in {@linkcode expiry} (a time passed as an argument would be boxed on the packet path).
   */
  insert(w: Uint32Array, o: number, rs: RealServer): number {
    if ((this.#size + 1) * 2 > this.slots) this.#resize(this.slots * 2);
    rs.persistConns++;
    return this.#place(w, o, rs, 0, 0);
  }

  /** Puts an entry into the first free slot of its probe run (room is known to exist). */
  #place(w: Uint32Array, o: number, rs: RealServer, expires: number, controls: number): number {
    const servers = this.#servers;
    const mask = this.#mask;
    let i = hashKey(w, o) & mask;
    while (servers[i] !== undefined) i = (i + 1) & mask;
    const k = i << 2;
    this.#keys[k] = w[o];
    this.#keys[k + 1] = w[o + 1];
    this.#keys[k + 2] = w[o + 2];
    this.#keys[k + 3] = w[o + 3];
    servers[i] = rs;
    this.#expires[i] = expires;
    this.#controls[i] = controls;
    this.#size++;
    return i;
  }

  /**
   * Removes the template in `slot`. Later entries of its probe run move back into the gap, so
   * a walk by slot that removes must look at `slot` again before going on (see
   * {@linkcode sweep}).
   */
  remove(slot: number): void {
    const servers = this.#servers;
    const keys = this.#keys;
    const mask = this.#mask;
    (servers[slot] as RealServer).persistConns--;
    let gap = slot;
    for (let j = (gap + 1) & mask; servers[j] !== undefined; j = (j + 1) & mask) {
      const home = hashKey(keys, j << 2) & mask;
      // j stays unless its home lies cyclically outside (gap, j]: then it may fill the gap.
      const stays = gap <= j ? gap < home && home <= j : gap < home || home <= j;
      if (stays) continue;
      keys.copyWithin(gap << 2, j << 2, (j << 2) + 4);
      servers[gap] = servers[j];
      this.#expires[gap] = this.#expires[j];
      this.#controls[gap] = this.#controls[j];
      gap = j;
    }
    servers[gap] = undefined;
    this.#size--;
  }

  /** True when `slot` holds a template. */
  live(slot: number): boolean {
    return this.#servers[slot] !== undefined;
  }

  /** The real server of the template in `slot`. */
  server(slot: number): RealServer {
    return this.#servers[slot] as RealServer;
  }

  /** Points the template in `slot` at another real server, with no session placed yet. */
  rebind(slot: number, rs: RealServer): void {
    (this.#servers[slot] as RealServer).persistConns--;
    rs.persistConns++;
    this.#servers[slot] = rs;
    this.#controls[slot] = 0;
  }

  /**
   * When each slot's template may be forgotten (monotonic ms), indexed by slot: read and written
   * in place on the packet path. The array is replaced when the table grows or shrinks, so it
   * is fetched anew after an {@linkcode insert}.
   */
  get expiry(): Float64Array {
    return this.#expires;
  }

  /** When the template in `slot` may be forgotten (monotonic ms). */
  expires(slot: number): number {
    return this.#expires[slot];
  }

  setExpires(slot: number, ms: number): void {
    this.#expires[slot] = ms;
  }

  /** Open sessions the template in `slot` placed. */
  controls(slot: number): number {
    return this.#controls[slot];
  }

  /** Counts one more (`+1`) or one fewer (`-1`) open session placed by the template in `slot`. */
  control(slot: number, by: 1 | -1): void {
    const n = this.#controls[slot] + by;
    this.#controls[slot] = n < 0 ? 0 : n;
  }

  /** Counts no open session in any template (before counting them anew). */
  resetControls(): void {
    this.#controls.fill(0);
  }

  /** Key word `i` (0-3) of the template in `slot`. */
  keyWord(slot: number, i: number): number {
    return this.#keys[(slot << 2) + i];
  }

  /**
   * Calls `visit` for every template (slot and server), removing those for which it returns
   * true. Entries moved back into a freed slot are visited there; an entry that wraps past the
   * end may be visited twice, which the caller's decision must tolerate (it is idempotent for a
   * given time). Returns how many were removed.
   */
  sweep(visit: (slot: number, rs: RealServer) => boolean): number {
    let removed = 0;
    for (let i = 0; i <= this.#mask; i++) {
      const rs = this.#servers[i];
      if (rs === undefined || !visit(i, rs)) continue;
      this.remove(i);
      removed++;
      i--;
    }
    return removed;
  }

  /** Forgets every template. */
  clear(): void {
    if (this.#size === 0) return;
    for (const rs of this.#servers) if (rs !== undefined) rs.persistConns--;
    this.#servers.fill(undefined);
    this.#size = 0;
    this.compact();
  }

  /** Shrinks the arrays when at most an eighth of the slots are used (never below 16 slots). */
  compact(): void {
    let n = this.slots;
    while (n > MIN_SLOTS && this.#size * 8 <= n) n /= 2;
    if (n < this.slots) this.#resize(n);
  }

  #resize(n: number): void {
    const oldKeys = this.#keys;
    const oldServers = this.#servers;
    const oldExpires = this.#expires;
    const oldControls = this.#controls;
    this.#keys = new Uint32Array(n * 4);
    this.#servers = new Array(n).fill(undefined);
    this.#expires = new Float64Array(n);
    this.#controls = new Int32Array(n);
    this.#mask = n - 1;
    this.#size = 0;
    for (let i = 0; i < oldServers.length; i++) {
      const rs = oldServers[i];
      if (rs !== undefined) this.#place(oldKeys, i << 2, rs, oldExpires[i], oldControls[i]);
    }
  }
}
