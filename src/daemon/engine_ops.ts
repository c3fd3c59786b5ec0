/**
 * What a packet worker's engine answers to a call from the main thread: the control contract
 * and pages of sessions encoded as JSON. The worker serves these; a test can stand an engine
 * in for a worker by calling the same {@linkcode EngineOps}.
 *
 * @module
 */
import type { EngineControl } from "../fullnat/control.ts";
import { callControl, isControlMethod, type OpArgs } from "../ctl/remote.ts";
import { ConnectionJsonWriter, encodeConnectionPage } from "./connection_json.ts";
import {
  WORKER_END_SESSIONS_OP,
  WORKER_HEALTH_OP,
  WORKER_PAGE_OP,
  WORKER_SYNC_INSTALL_OP,
  WORKER_SYNC_SCAN_OP,
  type WorkerArgs,
} from "./worker_protocol.ts";
import { type InstallOutcome, installSession, SyncScanner } from "../sync/session_sync.ts";

/** An answer, and the buffers to transfer with it rather than copy. */
export interface EngineReply {
  result: unknown;
  transfer: ArrayBuffer[];
}

/** The ops an engine answers, with the one reusable buffer its session pages are written in. */
export class EngineOps {
  readonly #writer = new ConnectionJsonWriter();
  /** What this engine last sent to the sync backups, made when a master first asks. */
  #scanner: SyncScanner | undefined;

  constructor(readonly control: EngineControl) {}

  /**
   * Answers `op`; undefined when it is not an engine op. The main thread sends the arguments
   * of each op as {@linkcode WorkerArgs} types them, already checked at the control socket.
   */
  answer(op: string, args: unknown[]): EngineReply | undefined {
    if (op === WORKER_PAGE_OP) {
      const [cursor, max] = args as WorkerArgs<typeof WORKER_PAGE_OP>;
      const page = encodeConnectionPage(this.control, this.#writer, cursor, max);
      return { result: page, transfer: [page.json.buffer] };
    }
    if (op === WORKER_END_SESSIONS_OP) {
      const [key, server] = args as WorkerArgs<typeof WORKER_END_SESSIONS_OP>;
      return { result: this.control.endServerSessions(key, server), transfer: [] };
    }
    if (op === WORKER_HEALTH_OP) {
      const [key, update] = args as WorkerArgs<typeof WORKER_HEALTH_OP>;
      this.control.setHealth(key, update);
      return { result: null, transfer: [] };
    }
    if (op === WORKER_SYNC_SCAN_OP) {
      const [maxSlots, maxEntries, restart, refreshMs] = args as WorkerArgs<
        typeof WORKER_SYNC_SCAN_OP
      >;
      this.#scanner ??= new SyncScanner(this.control.engine);
      if (restart) this.#scanner.reset();
      return { result: this.#scanner.scan(maxSlots, maxEntries, refreshMs).conns, transfer: [] };
    }
    if (op === WORKER_SYNC_INSTALL_OP) {
      const [conns] = args as WorkerArgs<typeof WORKER_SYNC_INSTALL_OP>;
      const outcomes: Partial<Record<InstallOutcome, number>> = {};
      for (const c of conns) {
        const o = installSession(this.control.engine, c, (id) => this.#scanner?.markSent(id));
        outcomes[o] = (outcomes[o] ?? 0) + 1;
      }
      return { result: outcomes, transfer: [] };
    }
    if (!isControlMethod(op)) return undefined;
    return { result: callControl(this.control, op, args as OpArgs<typeof op>), transfer: [] };
  }
}
