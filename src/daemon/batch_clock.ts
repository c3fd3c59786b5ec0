/**
 * {@linkcode BatchClock}: the engine's clock in a packet worker. `performance.now()` costs
 * about 80 ns here, as much as a third of what the engine spends on an established packet,
 * and the engine reads the clock once or twice per packet; so the queue loop reads it once
 * per batch ({@linkcode BatchClock.start}) and every packet of the batch gets that reading.
 * A batch takes well under a millisecond: far below the one-second granularity of every
 * timeout, and the ISN's 4-microsecond clock stays monotonic. Outside a batch (the expiry
 * timer, control calls) the clock reads the time afresh.
 *
 * @module
 */

import type { BatchHooks } from "../nfqueue/handler.ts";

/** A monotonic millisecond clock frozen for the length of each batch. */
export class BatchClock implements BatchHooks {
  #frozen = -1;

  constructor(readonly source: () => number = () => performance.now()) {}

  /** The engine's clock: the batch's reading inside a batch, the current time outside. */
  readonly now = (): number => (this.#frozen >= 0 ? this.#frozen : this.source());

  /** A batch begins: read the time once. */
  start(): void {
    this.#frozen = this.source();
  }

  /** The batch is done: back to reading the time on every call. */
  end(): void {
    this.#frozen = -1;
  }
}
