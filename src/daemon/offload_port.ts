/**
 * The port through which a packet worker hands established sessions to the kernel's
 * conntrack (`--offload established`): the narrow interface the offload step
 * (`offload_step.ts`) is written against, so that it is tested with {@linkcode FakeOffloadPort}
 * and glued to the ctnetlink module (`src/kernel/conntrack/`) by one adapter.
 *
 * Every call is synchronous (a netlink send and its acknowledgements), made from the worker's
 * timer, never from the packet path. A port sees only the entries whose conntrack mark carries
 * its worker's bits (`offloadWorkerMark`, under `OFFLOAD_MARK_WORKER_MASK`).
 *
 * @module
 */
import type { OffloadCounters, OffloadKey, OffloadRequest } from "../fullnat/offload.ts";
import { markSession } from "../fullnat/offload.ts";

export type {
  OffloadCounters,
  OffloadEndpoint,
  OffloadKey,
  OffloadRequest,
} from "../fullnat/offload.ts";

/**
 * What became of one request: `ok` (the entry exists: the kernel carries the session),
 * `clash` (an entry on one of its tuples exists, EEXIST), `full` (the conntrack table is
 * full, ENOMEM/ENOSPC), `error` (anything else; the port logs or counts the errno itself).
 */
export type OffloadOutcome = "ok" | "clash" | "full" | "error";

/** A kernel entry of the offload with its counters (from a destroy event or a dump). */
export interface OffloadEntry {
  key: OffloadKey;
  /** The entry's counters so far (conntrack accounting: `nf_conntrack_acct=1`). */
  counters: OffloadCounters;
  /**
   * A destroy event of an entry that ended by idle timeout while ESTABLISHED (its TCP state
   * ESTABLISHED and no time left: a deleted entry reports the time it had left, a closed one
   * its closing state). Such a session gets the resets of an expiry (`offload_expiry.ts`).
   */
  idleExpiry?: boolean;
  /**
   * A destroy event of an entry deleted while ESTABLISHED with time left (`conntrack -D`, a
   * flush): the connection is live and its next packets come to the queue, so the session
   * carries on in the engine even when none has arrived yet.
   */
  liveDeleted?: boolean;
}

/** The kernel side of one worker's offload. */
export interface OffloadPort {
  /**
   * Creates one conntrack entry per request (IPCTNL_MSG_CT_NEW, CREATE|EXCL, batched), as
   * `OffloadRequest` describes it; returns one outcome per request, in order.
   */
  offload(batch: readonly OffloadRequest[]): OffloadOutcome[];
  /** The entries of this worker destroyed since the last call (NFNLGRP_CONNTRACK_DESTROY). */
  gone(): OffloadEntry[];
  /** Every entry of this worker the kernel holds now (a CT_GET dump filtered by mark). */
  dump(): OffloadEntry[];
  /** Deletes the entry `key` names; no error when it is already gone. */
  remove(key: OffloadKey): void;
  /** Releases the sockets. */
  close(): void;
}

/**
 * A kernel in a map, for tests: entries keyed by mark, a clash on a request whose client
 * tuple is already held, `full` past `capacity`, destroy events only when a test calls
 * {@linkcode FakeOffloadPort.expire} (or {@linkcode FakeOffloadPort.expireQuietly} to lose one).
 */
export class FakeOffloadPort implements OffloadPort {
  readonly entries = new Map<number, OffloadEntry & { request: OffloadRequest }>();
  readonly removed: OffloadKey[] = [];
  #events: OffloadEntry[] = [];
  /** Outcomes forced for the next requests, in order (then the map decides). */
  readonly forced: OffloadOutcome[] = [];
  /** Called as a dump starts (a test's entry that goes while the kernel dumps). */
  beforeDump: (() => void) | undefined;
  constructor(readonly capacity = 1 << 20) {}

  offload(batch: readonly OffloadRequest[]): OffloadOutcome[] {
    return batch.map((r) => {
      const forced = this.forced.shift();
      if (forced !== undefined && forced !== "ok") return forced;
      const tuple = tupleText(r);
      for (const e of this.entries.values()) if (tupleText(e.key) === tuple) return "clash";
      if (this.entries.size >= this.capacity) return "full";
      this.entries.set(r.mark, {
        key: { family: r.family, proto: r.proto, client: r.client, vip: r.vip, mark: r.mark },
        counters: { inPackets: 0, inBytes: 0, outPackets: 0, outBytes: 0 },
        request: r,
      });
      return "ok";
    });
  }

  gone(): OffloadEntry[] {
    const out = this.#events;
    this.#events = [];
    return out;
  }

  dump(): OffloadEntry[] {
    this.beforeDump?.();
    return [...this.entries.values()].map((e) => ({ key: e.key, counters: { ...e.counters } }));
  }

  remove(key: OffloadKey): void {
    this.removed.push(key);
    this.entries.delete(key.mark);
  }

  close(): void {}

  /** Traffic the kernel carried for session `id`'s entry. */
  count(id: number, delta: OffloadCounters): void {
    const e = this.#entry(id);
    e.counters.inPackets += delta.inPackets;
    e.counters.inBytes += delta.inBytes;
    e.counters.outPackets += delta.outPackets;
    e.counters.outBytes += delta.outBytes;
  }

  /**
   * Session `id`'s entry goes, with a destroy event; `idleExpiry`: by idle timeout while
   * ESTABLISHED (otherwise a close, or a deletion).
   */
  expire(id: number, idleExpiry = false, liveDeleted = false): void {
    const e = this.#entry(id);
    this.entries.delete(e.key.mark);
    this.#events.push({
      key: e.key,
      counters: { ...e.counters },
      ...(idleExpiry && { idleExpiry }),
      ...(liveDeleted && { liveDeleted }),
    });
  }

  /** Session `id`'s entry goes and its destroy event is lost (a full socket buffer). */
  expireQuietly(id: number): void {
    this.entries.delete(this.#entry(id).key.mark);
  }

  #entry(id: number) {
    for (const e of this.entries.values()) if (markSession(e.key.mark) === id) return e;
    throw new Error(`no entry for session ${id}`);
  }
}

function tupleText(k: Pick<OffloadKey, "client" | "vip">): string {
  return `${k.client.addr.join(".")}:${k.client.port}>${k.vip.addr.join(".")}:${k.vip.port}`;
}
