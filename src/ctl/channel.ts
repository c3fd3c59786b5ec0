/**
 * {@linkcode Channel}: hands values from a producer to one async-iterating consumer, one at a
 * time. The producer's `push` resolves once the consumer has taken the value, so a producer
 * that awaits it never runs more than one value ahead (backpressure from a slow consumer).
 *
 * @module
 */

/** A one-consumer handoff with backpressure. */
export class Channel<T> implements AsyncIterable<T> {
  #queue: { value: T; taken: () => void }[] = [];
  #wake?: () => void;
  #ended = false;
  #error: unknown;
  #failed = false;
  #abandoned = false;

  /** Offers a value; resolves when it is taken (at once if the consumer stopped iterating). */
  push(value: T): Promise<void> {
    if (this.#abandoned) return Promise.resolve();
    return new Promise((taken) => {
      this.#queue.push({ value, taken });
      this.#wake?.();
    });
  }

  /** Ends the stream after the values pushed so far; with an error, the consumer gets it. */
  end(...error: [] | [unknown]): void {
    this.#ended = true;
    if (error.length > 0) {
      this.#failed = true;
      this.#error = error[0];
    }
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    try {
      while (true) {
        const item = this.#queue.shift();
        if (item !== undefined) {
          item.taken();
          yield item.value;
          continue;
        }
        if (this.#ended) {
          if (this.#failed) throw this.#error;
          return;
        }
        await new Promise<void>((wake) => this.#wake = wake);
        this.#wake = undefined;
      }
    } finally {
      // The consumer stopped early: release the producer, now and for later pushes.
      this.#abandoned = true;
      for (const item of this.#queue) item.taken();
      this.#queue = [];
    }
  }
}
