/**
 * The offload step of a packet worker (`--offload established`): on a timer, it hands the
 * engine's offloadable sessions to the kernel's conntrack in one batch through an
 * {@linkcode OffloadPort}, marks those the kernel took, leaves the refused ones to the engine
 * (counted), deletes the entries of sessions the engine ended, and turns the kernel's destroy
 * events into the end of their sessions (local port freed, final counts added to the
 * service's and real server's stats). A periodic dump reconciles both sides, so a lost
 * destroy event leaks no session and no port, and brings the live counts of long offloaded
 * connections into the stats.
 *
 * @module
 */
import type { Engine } from "../fullnat/engine.ts";
import {
  collectOffloadCandidates,
  keyMatches,
  markOffloaded,
  markSession,
  offloadCounted,
  type OffloadCounters,
  offloadFailed,
  offloadGone,
  offloadKey,
  offloadRequest,
  recallOffloaded,
  takeBackClosing,
} from "../fullnat/offload.ts";
import { Handshake, SessionFlag } from "../fullnat/session_table.ts";
import type { OffloadEntry, OffloadKey, OffloadPort } from "./offload_port.ts";

/** Settings of one worker's offload step. */
export interface OffloadStepOptions {
  /** This worker's index (0..63): its entries' marks carry it. */
  worker: number;
  /** Bytes (both ways together) a session must have carried before it is offloaded. */
  minBytes: number;
  /** Most sessions offloaded per step (one netlink batch). */
  batch: number;
  /** Most session slots the candidate scan looks at per step. */
  scanBudget: number;
}

/** What the offload step did, beyond the engine's own offload counters. */
export interface OffloadStepCounters {
  /** Steps run. */
  steps: number;
  /** Requests sent to the kernel. */
  requests: number;
  /** Calls to the port that threw (the step carries on; the sessions stay in the engine). */
  portErrors: number;
  /** Dumps compared with the table. */
  reconciles: number;
  /** Offloaded sessions missing from a dump without a destroy event: ended by the dump. */
  lostEvents: number;
  /** Kernel entries of this worker naming no offloaded session: deleted. */
  orphansRemoved: number;
}

/** One worker's offload step; see the module doc. */
export class OffloadStep {
  readonly counters: OffloadStepCounters = {
    steps: 0,
    requests: 0,
    portErrors: 0,
    reconciles: 0,
    lostEvents: 0,
    orphansRemoved: 0,
  };
  /** The kernel's counts already added to the stats, per offloaded session id. */
  readonly #counted = new Map<number, OffloadCounters>();
  /** False until the first dump: a restarted daemon's stats already hold the counts so far. */
  #baselined = false;
  readonly #ids: Int32Array;

  constructor(
    readonly engine: Engine,
    readonly port: OffloadPort,
    readonly options: OffloadStepOptions,
  ) {
    this.#ids = new Int32Array(options.batch);
    engine.offloadWorker = options.worker;
  }

  /**
   * One round: the destroy events first (they free ports and slots), then the entries of
   * sessions the engine ended, then one batch of new offloads. Returns how many the kernel
   * took.
   */
  step(): number {
    this.counters.steps++;
    this.events();
    this.#withdraw();
    for (const key of takeBackClosing(this.engine, this.options.worker)) {
      this.#counted.delete(markSession(key.mark));
      this.#removeKey(key);
    }
    const e = this.engine;
    const o = this.options;
    const n = collectOffloadCandidates(e, this.#ids, o.minBytes, o.scanBudget);
    if (n === 0) return 0;
    const requests = Array.from(this.#ids.subarray(0, n), (id) => offloadRequest(e, id, o.worker));
    this.counters.requests += n;
    let outcomes;
    try {
      outcomes = this.port.offload(requests);
    } catch (err) {
      this.#portError("offload", err);
      for (let i = 0; i < n; i++) offloadFailed(e, "error");
      return 0;
    }
    let took = 0;
    for (let i = 0; i < n; i++) {
      const id = requests[i].sessionId;
      const outcome = outcomes[i] ?? "error";
      if (outcome === "ok") {
        markOffloaded(e, id);
        this.#counted.set(id, { inPackets: 0, inBytes: 0, outPackets: 0, outBytes: 0 });
        took++;
      } else offloadFailed(e, outcome);
    }
    return took;
  }

  /** Ends the sessions whose kernel entries the destroy events report gone. */
  events(): number {
    let entries: OffloadEntry[];
    try {
      entries = this.port.gone();
    } catch (err) {
      this.#portError("destroy events", err);
      return 0;
    }
    for (const g of entries) this.#gone(g);
    return entries.length;
  }

  /**
   * Compares a dump of the kernel's entries with the table: live counts go to the stats,
   * offloaded sessions the kernel no longer holds end (their destroy event was lost), and
   * entries of this worker that name no offloaded session are deleted.
   */
  reconcile(): void {
    const e = this.engine;
    const t = e.table;
    let dumped: OffloadEntry[];
    try {
      dumped = this.port.dump();
    } catch (err) {
      this.#portError("dump", err);
      return;
    }
    this.counters.reconciles++;
    const held = new Set<number>();
    for (const d of dumped) {
      const id = markSession(d.key.mark);
      if (!keyMatches(e, id, d.key) || (t.flags[id] & SessionFlag.OFFLOADED) === 0) {
        this.#remove(d);
        continue;
      }
      held.add(id);
      if (this.#baselined) offloadCounted(e, id, this.#delta(id, d.counters));
      this.#counted.set(id, { ...d.counters });
    }
    this.#baselined = true;
    // Entries that went while the dump ran have their events queued by now: read them first,
    // so that only a session with neither an entry nor an event counts as a lost event.
    this.events();
    for (let id = 0, hw = t.highWater; id < hw; id++) {
      if (!t.live(id) || (t.flags[id] & SessionFlag.OFFLOADED) === 0 || held.has(id)) continue;
      // Its entry went already: the engine waits for the answer to its expiry probe.
      if ((t.handshake[id] & Handshake.PROBING) !== 0) continue;
      this.counters.lostEvents++;
      // The final counts went with the event; what the last dump saw is in already.
      this.#gone({
        key: offloadKey(e, id, this.options.worker),
        counters: this.#counted.get(id) ?? { inPackets: 0, inBytes: 0, outPackets: 0, outBytes: 0 },
      });
    }
  }

  /**
   * Deletes every entry of this worker (the daemon stops and takes its rules away: entries
   * left behind would keep matching packets the NAT hooks no longer translate), or the fast
   * path is switched off. The sessions stay in the engine, under its idle timer again.
   */
  withdrawAll(): number {
    let n = 0;
    try {
      this.#withdraw();
      for (const d of this.port.dump()) {
        this.port.remove(d.key);
        n++;
      }
    } catch (err) {
      this.#portError("withdraw", err);
    }
    recallOffloaded(this.engine);
    this.#counted.clear();
    return n;
  }

  /** Releases the port. */
  close(): void {
    this.port.close();
  }

  #gone(g: OffloadEntry): void {
    const id = markSession(g.key.mark);
    // A stale report (the id serves another session now) must not touch that one's counts.
    const outcome = offloadGone(
      this.engine,
      g.key,
      this.#delta(id, g.counters),
      g.idleExpiry,
      g.liveDeleted,
    );
    if (outcome !== "stale") {
      this.#counted.delete(id);
    }
  }

  /** `now` less what was already added for session `id` (all of it for an unknown one). */
  #delta(id: number, now: OffloadCounters): OffloadCounters {
    const before = this.#counted.get(id);
    if (before === undefined) return { ...now };
    return {
      inPackets: Math.max(0, now.inPackets - before.inPackets),
      inBytes: Math.max(0, now.inBytes - before.inBytes),
      outPackets: Math.max(0, now.outPackets - before.outPackets),
      outBytes: Math.max(0, now.outBytes - before.outBytes),
    };
  }

  /** Deletes the kernel entries of offloaded sessions the engine removed. */
  #withdraw(): void {
    const w = this.engine.offloadWithdrawn;
    while (w.length > 0) {
      const key = w.shift()!;
      this.#counted.delete(markSession(key.mark));
      this.#removeKey(key);
    }
  }

  #removeKey(key: OffloadKey): void {
    try {
      this.port.remove(key);
    } catch (err) {
      this.#portError("remove", err);
    }
  }

  #remove(d: OffloadEntry): void {
    this.counters.orphansRemoved++;
    try {
      this.port.remove(d.key);
    } catch (err) {
      this.#portError("remove", err);
    }
  }

  #portError(what: string, err: unknown): void {
    this.counters.portErrors++;
    if (this.counters.portErrors === 1) {
      console.error(`worker ${this.options.worker}: offload ${what} failed: ${err}`);
    }
  }
}
