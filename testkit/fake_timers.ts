/**
 * A clock and timers that move only when a test says so, for the health-check runner's
 * sequences (rounds, retries, rise and fall) without waiting for real seconds. Matches the
 * runner's `Timers` interface.
 *
 * @module
 */

interface Task {
  due: number;
  seq: number;
  fn: () => void;
}

/** Fake time: `advance(ms)` runs every timer due by then, in order, letting promises settle. */
export class FakeTimers {
  #now: number;
  #seq = 0;
  #tasks = new Map<number, Task>();

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now = (): number => this.#now;

  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.#seq;
    this.#tasks.set(id, { due: this.#now + Math.max(0, ms), seq: id, fn });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    this.#tasks.delete(handle as number);
  };

  /** Timers not yet run. */
  get pending(): number {
    return this.#tasks.size;
  }

  /** Moves time forward by `ms`, running timers as they fall due. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (;;) {
      let next: [number, Task] | undefined;
      for (const entry of this.#tasks) {
        const t = entry[1];
        if (t.due > target) continue;
        if (
          next === undefined || t.due < next[1].due ||
          (t.due === next[1].due && t.seq < next[1].seq)
        ) {
          next = entry;
        }
      }
      if (next === undefined) break;
      this.#tasks.delete(next[0]);
      this.#now = next[1].due;
      next[1].fn();
      await settle();
    }
    this.#now = target;
  }
}

/** Lets every promise chain that can move, move (one real macrotask turn, twice). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise((r) => setTimeout(r, 0));
}
