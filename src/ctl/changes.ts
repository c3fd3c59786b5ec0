/**
 * {@linkcode ConfigChanges}: the one "configuration changed" event of a daemon. Whatever applies
 * a change announces it here once it is in place; the listeners (the iptables diversion sync,
 * the save to the store) run in order and are awaited before the change's caller hears back.
 * A batch (applying a whole document, restoring the stored one) announces once at its end,
 * however many changes it made, so a document of 10,000 services costs one sync and one save.
 *
 * @module
 */
import {
  type ControlMethod,
  localRemote,
  type RemoteControl,
  type ServedControl,
} from "./remote.ts";

/** One announcement. */
export interface ConfigChange {
  /** What changed it: the control op, "configApply", "expiry", ... */
  reason: string;
  /**
   * False when only what must be diverted may have moved (sessions of a retired address
   * ended), not the configuration itself: nothing to save.
   */
  durable: boolean;
}

/** Hears about changes; awaited before the next listener and before the change completes. */
export type ChangeListener = (change: ConfigChange) => Promise<void> | void;

/** The configuration-changed event, its listeners, and the order changes run in. */
export class ConfigChanges {
  readonly #listeners: ChangeListener[] = [];
  #tail: Promise<unknown> = Promise.resolve();
  /** Set while a batch runs: what it changed so far, announced when it ends. */
  #batch?: { changed: boolean; durable: boolean };

  /** Adds a listener (listeners run in the order they were added). */
  on(listener: ChangeListener): void {
    this.#listeners.push(listener);
  }

  /**
   * Runs `fn` when every change queued before it has finished, and before any queued after
   * it starts, so each listener sees a settled configuration.
   */
  exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const next = this.#tail.then(fn, fn);
    this.#tail = next.catch(() => {});
    return next;
  }

  /** Waits for every queued change. */
  drain(): Promise<unknown> {
    return this.#tail;
  }

  /**
   * Announces a change that is in place. Inside a batch it is only noted; the batch
   * announces once when it ends.
   */
  async announce(reason: string, durable = true): Promise<void> {
    if (this.#batch !== undefined) {
      this.#batch.changed = true;
      this.#batch.durable ||= durable;
      return;
    }
    for (const listener of this.#listeners) await listener({ reason, durable });
  }

  /**
   * Runs `fn` exclusively; the changes it announces become one announcement under `reason`
   * when it ends (also when it fails part-way: what it did is live). `durable` false keeps
   * that announcement from being saved (restoring what the store already holds).
   */
  batch<T>(reason: string, fn: () => Promise<T>, durable = true): Promise<T> {
    return this.exclusive(async () => {
      const batch = { changed: false, durable: false };
      this.#batch = batch;
      try {
        return await fn();
      } finally {
        this.#batch = undefined;
        if (batch.changed) await this.announce(reason, durable && batch.durable);
      }
    });
  }
}

/** Runs one configuration-changing call of `method`; returns what the call returns. */
type Around = <T>(method: ControlMethod, call: () => Promise<T>) => Promise<T>;

/** `remote` with `around` put around each of its configuration-changing methods (`CONFIG_METHODS` of remote.ts). */
function wrapChanges(remote: RemoteControl, around: Around): RemoteControl {
  return {
    ...remote,
    addService: (...a) => around("addService", () => remote.addService(...a)),
    editService: (...a) => around("editService", () => remote.editService(...a)),
    deleteService: (...a) => around("deleteService", () => remote.deleteService(...a)),
    addRealServer: (...a) => around("addRealServer", () => remote.addRealServer(...a)),
    editRealServer: (...a) => around("editRealServer", () => remote.editRealServer(...a)),
    deleteRealServer: (...a) => around("deleteRealServer", () => remote.deleteRealServer(...a)),
    addLocalAddress: (...a) => around("addLocalAddress", () => remote.addLocalAddress(...a)),
    deleteLocalAddress: (...a) =>
      around("deleteLocalAddress", () => remote.deleteLocalAddress(...a)),
    clear: () => around("clear", () => remote.clear()),
    setTimeouts: (...a) => around("setTimeouts", () => remote.setTimeouts(...a)),
    setTunables: (...a) => around("setTunables", () => remote.setTunables(...a)),
  };
}

/**
 * `target` announcing on `changes` each configuration change it makes, named after its
 * method: for a target that does not announce by itself (a bare engine; the daemon's fan-out
 * announces its own).
 */
export function announcing(target: ServedControl, changes: ConfigChanges): RemoteControl {
  return wrapChanges(localRemote(target), async (method, call) => {
    const result = await call();
    await changes.announce(method);
    return result;
  });
}

/** `target` with its configuration changes run one at a time ({@linkcode ConfigChanges.exclusive}). */
export function exclusiveChanges(target: ServedControl, changes: ConfigChanges): RemoteControl {
  return wrapChanges(localRemote(target), (_method, call) => changes.exclusive(call));
}
