/**
 * Per-source-address limits of one service (`--source-rate`, `--source-sessions`): how many
 * new connections per second and how many open sessions one client address may have. A
 * bounded table keyed by the whole client address (four words, as `template_table.ts`), with a
 * token bucket (the rate; a burst of one second's worth) and a session count per entry.
 *
 * The table never grows: a flood from random sources must not make it allocate. An address
 * hashes to a window of {@linkcode WINDOW} slots; a new address takes a free slot of its window,
 * else the entry there that is worth least: an idle one (no session, a full bucket) first,
 * which forgets nothing, else the one with the fewest sessions, which is counted
 * (`sourceEvictions`): that source's count starts again from zero. Nothing is allocated per
 * packet; the clock's fractional milliseconds come in a typed array (a double passed to a call
 * that is not inlined would be boxed).
 *
 * @module
 */
import type { EngineCounters } from "./counters.ts";

/** Slots of a service's table: 65,536 sources tracked at once, about 2.4 MB. */
export const SOURCE_TABLE_SLOTS = 1 << 16;

/** Slots an address may occupy, from its hash on. */
const WINDOW = 8;

/** {@linkcode SourceTable.admit}: refused, the source is over its rate. */
export const OVER_RATE = -1;
/** {@linkcode SourceTable.admit}: refused, the source holds its limit of sessions. */
export const OVER_SESSIONS = -2;

/** The time new connections are admitted at, in monotonic ms (one element). */
export const sourceTime: Float64Array = new Float64Array(1);

/** Where an address's window starts: the four words mixed (murmur3's constants). */
function hashKey(w: Uint32Array): number {
  let h = Math.imul(w[0] ^ 0x9e3779b9, 0xcc9e2d51);
  h = Math.imul((h << 15) | (h >>> 17), 0x1b873593) ^ w[1];
  h = Math.imul((h << 13) | (h >>> 19), 0xe6546b64) ^ w[2];
  h = Math.imul((h << 15) | (h >>> 17), 0x85ebca6b) ^ w[3];
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  // 30 bits: a small integer, never boxed when returned from a call that is not inlined.
  return (h ^ (h >>> 16)) & 0x3fffffff;
}

/** One service's per-source counts. */
export class SourceTable {
  /** Key words, four per slot (signed, so no word is boxed). */
  readonly #keys: Int32Array;
  /** 1 where a slot holds a source. */
  readonly #used: Uint8Array;
  /** Open sessions each source holds. */
  readonly #sessions: Int32Array;
  /** Tokens left in each source's bucket, as of `#stamps`. */
  readonly #tokens: Float64Array;
  /** When each bucket was last filled (monotonic ms). */
  readonly #stamps: Float64Array;
  readonly #mask: number;
  /** Sources held. */
  size = 0;

  constructor(slots = SOURCE_TABLE_SLOTS) {
    let n = WINDOW;
    while (n < slots) n *= 2;
    this.#keys = new Int32Array(n * 4);
    this.#used = new Uint8Array(n);
    this.#sessions = new Int32Array(n);
    this.#tokens = new Float64Array(n);
    this.#stamps = new Float64Array(n);
    this.#mask = n - 1;
  }

  /** Slots of the table. */
  get slots(): number {
    return this.#mask + 1;
  }

  /** The slot of address `w[0, 4)`, or -1. */
  find(w: Uint32Array): number {
    const keys = this.#keys;
    const used = this.#used;
    const mask = this.#mask;
    const a = w[0] | 0, b = w[1] | 0, c = w[2] | 0, d = w[3] | 0;
    const home = hashKey(w);
    for (let j = 0; j < WINDOW; j++) {
      const i = (home + j) & mask;
      const k = i << 2;
      if (
        used[i] !== 0 && keys[k] === a && keys[k + 1] === b && keys[k + 2] === c &&
        keys[k + 3] === d
      ) return i;
    }
    return -1;
  }

  /** Open sessions the source in `slot` holds. */
  sessions(slot: number): number {
    return this.#sessions[slot];
  }

  /**
   * Whether the source `w[0, 4)` may open a connection now ({@linkcode sourceTime}): its slot
   * when it may (a token taken), else {@linkcode OVER_RATE} or {@linkcode OVER_SESSIONS}.
   * `rate` (new connections per second) and `limit` (open sessions) of 0 are no limit. The
   * caller counts the session with {@linkcode opened} once it exists.
   */
  admit(w: Uint32Array, rate: number, limit: number, c: EngineCounters): number {
    const now = sourceTime[0];
    const i = this.slotOf(w, rate, c);
    if (limit !== 0 && this.#sessions[i] >= limit) return OVER_SESSIONS;
    if (rate !== 0) {
      const tokens = Math.min(rate, this.#tokens[i] + (now - this.#stamps[i]) * rate / 1000);
      this.#stamps[i] = now;
      if (tokens < 1) {
        this.#tokens[i] = tokens;
        return OVER_RATE;
      }
      this.#tokens[i] = tokens - 1;
    }
    return i;
  }

  /**
   * The slot of source `w[0, 4)`, taken for it (a full bucket for `rate`, no session) if it has
   * none, at {@linkcode sourceTime}.
   */
  slotOf(w: Uint32Array, rate: number, c: EngineCounters): number {
    const i = this.find(w);
    return i >= 0 ? i : this.#insert(w, rate, c);
  }

  /** A session of the source in `slot` (just admitted) was opened. */
  opened(slot: number): void {
    this.#sessions[slot]++;
  }

  /** A session of source `w[0, 4)` ended. */
  release(w: Uint32Array): void {
    const i = this.find(w);
    if (i >= 0 && this.#sessions[i] > 0) this.#sessions[i]--;
  }

  /** Takes a slot of `w`'s window for it, with a full bucket and no session. */
  #insert(w: Uint32Array, rate: number, c: EngineCounters): number {
    const now = sourceTime[0];
    const mask = this.#mask;
    const home = hashKey(w);
    let victim = -1;
    let victimIdle = false;
    for (let j = 0; j < WINDOW; j++) {
      const i = (home + j) & mask;
      if (this.#used[i] === 0) {
        victim = i;
        this.size++;
        break;
      }
      const idle = this.#sessions[i] === 0 &&
        (rate === 0 || this.#tokens[i] + (now - this.#stamps[i]) * rate / 1000 >= rate);
      if (idle) {
        victim = i;
        victimIdle = true;
        break;
      }
      if (
        victim < 0 || this.#sessions[i] < this.#sessions[victim] ||
        (this.#sessions[i] === this.#sessions[victim] && this.#stamps[i] < this.#stamps[victim])
      ) victim = i;
    }
    if (this.#used[victim] !== 0 && !victimIdle) c.sourceEvictions++;
    const k = victim << 2;
    this.#keys[k] = w[0] | 0;
    this.#keys[k + 1] = w[1] | 0;
    this.#keys[k + 2] = w[2] | 0;
    this.#keys[k + 3] = w[3] | 0;
    this.#used[victim] = 1;
    this.#sessions[victim] = 0;
    this.#tokens[victim] = rate;
    this.#stamps[victim] = now;
    return victim;
  }
}
