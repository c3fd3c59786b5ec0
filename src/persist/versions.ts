/**
 * The stored versions as the admin sees them: `config history`, `config show N`, `config
 * rollback N`, and commit-confirm (`config apply FILE --confirm-within SECONDS` then `config
 * confirm`). A rollback is an apply of the old version's document, all or nothing like any
 * other, saved as a new version with reason "rollback to N".
 *
 * Commit-confirm: the change is applied and saved at once, and the daemon itself arms a timer;
 * unless confirmed in time it applies the version from before the change again. The timer lives
 * in the daemon, so a shell that disconnects (the change cut the admin off) does not matter.
 * What to go back to is kept in the store too: a daemon that restarts (or a box that reboots)
 * before the change was confirmed rolls back as it starts, whatever time is left, since nobody
 * confirmed the change and the restart may be what it broke.
 *
 * @module
 */
import { ControlError } from "../fullnat/types.ts";
import type { ApplyResult } from "./apply.ts";
import type { ConfigStore, PendingConfirm, StoredVersion } from "./store.ts";

/** Longest confirmation window, seconds (a day). */
export const MAX_CONFIRM_SECONDS = 86_400;

/** What {@linkcode ConfigVersions} needs from the persistence around it. */
export interface VersionsOptions {
  /** The store, or undefined when persistence is off (no history; confirm still works). */
  store(): ConfigStore | undefined;
  /** Runs `fn` as one durable change announced (and saved) under `reason`. */
  batch<T>(reason: string, fn: () => Promise<T>): Promise<T>;
  /** Applies a document's text to the running configuration; call inside `batch`. */
  applyText(text: string): Promise<ApplyResult>;
  /** The running configuration as document text; call inside `batch`. */
  runningText(): Promise<string>;
  log(message: string): void;
  /** Wall clock, ms (tests inject one). */
  now?: () => number;
}

/** The answer of `configHistory`. */
export interface HistoryView {
  /** Newest first. */
  versions: StoredVersion[];
  /** The newest version's id (the one restored at start), if any. */
  current: number | null;
  pending: PendingView | null;
}

/** A change waiting for `config confirm`. */
export interface PendingView {
  previousId: number | null;
  appliedId: number | null;
  deadline: string;
  secondsLeft: number;
}

/** The counters and state `status` shows. */
export interface VersionsStatus {
  pendingConfirm: PendingView | null;
  /** Unconfirmed changes rolled back (by the timer or at start). */
  confirmRollbacks: number;
  /** `config rollback N` done. */
  rollbacks: number;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

function invalid(text: string): ControlError {
  return new ControlError("invalid-argument", text);
}

/** Checks a version id given over the control socket. */
export function checkVersionId(id: unknown): number {
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 1) {
    throw invalid(`a configuration version is a whole number from 1 (got ${JSON.stringify(id)})`);
  }
  return id;
}

/** Checks a confirmation window given over the control socket. */
export function checkConfirmSeconds(s: unknown): number {
  if (typeof s !== "number" || !Number.isSafeInteger(s) || s < 1 || s > MAX_CONFIRM_SECONDS) {
    throw invalid(
      `confirmWithin must be whole seconds from 1 to ${MAX_CONFIRM_SECONDS} ` +
        `(got ${JSON.stringify(s)})`,
    );
  }
  return s;
}

/** History, rollback and commit-confirm over a daemon's store; see the module doc. */
export class ConfigVersions {
  readonly #o: VersionsOptions;
  readonly #now: () => number;
  #pending: PendingConfirm | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #confirmRollbacks = 0;
  #rollbacks = 0;

  constructor(options: VersionsOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  #store(): ConfigStore {
    const store = this.#o.store();
    if (store === undefined) {
      throw new ControlError(
        "unsupported",
        "this daemon keeps no configuration versions (it runs with --no-persist)",
      );
    }
    return store;
  }

  /** Stored versions, newest first, and any change waiting for confirmation. */
  history(): HistoryView {
    const store = this.#store();
    return {
      versions: store.history(),
      current: store.currentId() ?? null,
      pending: this.#view(),
    };
  }

  /** Version `id` with its document text. */
  show(id: unknown): StoredVersion & { text: string } {
    const n = checkVersionId(id);
    const doc = this.#store().get(n);
    if (doc === undefined) throw this.#missing(n);
    return doc;
  }

  #missing(id: number): ControlError {
    const ids = this.#store().history().map((v) => v.id);
    const kept = ids.length === 0
      ? "none is stored yet"
      : `kept: ${ids[ids.length - 1]} to ${ids[0]}`;
    return invalid(`there is no configuration version ${id} (${kept}; see config history)`);
  }

  /** Applies version `id` as a change saved with reason "rollback to ID". */
  async rollback(id: unknown): Promise<ApplyResult & { rolledBackTo: number }> {
    const n = checkVersionId(id);
    const doc = this.#store().get(n);
    if (doc === undefined) throw this.#missing(n);
    if (this.#pending !== undefined) {
      throw invalid(
        `a change waits for confirmation until ${this.#pending.deadline}: ` +
          `'config confirm' it (or let it roll back) before rolling back by hand`,
      );
    }
    const result = await this.#o.batch(`rollback to ${n}`, () => this.#o.applyText(doc.text));
    if (result.changes.length > 0) {
      this.#rollbacks++;
      this.#o.log(`configuration rolled back to version ${n}: ${result.changes.length} change(s)`);
    }
    return { ...result, rolledBackTo: n };
  }

  /**
   * Applies `text` and arms the rollback: unless {@linkcode confirm} is called within
   * `seconds`, the version from before is applied again. A change that changes nothing arms
   * nothing.
   */
  async applyConfirmed(
    text: string,
    seconds: unknown,
  ): Promise<ApplyResult & { confirmBy?: string }> {
    const s = checkConfirmSeconds(seconds);
    if (this.#pending !== undefined) {
      throw invalid(
        `a change already waits for confirmation until ${this.#pending.deadline}: ` +
          `'config confirm' it (or let it roll back) first`,
      );
    }
    const store = this.#o.store();
    let pending: PendingConfirm | undefined;
    const result = await this.#o.batch("configApply", async () => {
      pending = {
        previousId: store?.currentId() ?? null,
        previousText: await this.#o.runningText(),
        appliedId: null,
        deadline: new Date(this.#now() + s * 1000).toISOString(),
      };
      // Recorded before the change, so a crash half-way still rolls back at the next start.
      store?.setPending(pending);
      try {
        const r = await this.#o.applyText(text);
        if (r.changes.length === 0) store?.clearPending();
        return r;
      } catch (e) {
        store?.clearPending();
        throw e;
      }
    });
    if (result.changes.length === 0 || pending === undefined) return result;
    // The batch's save ran as it ended: the newest version is the change.
    pending.appliedId = store?.currentId() ?? null;
    store?.setPending(pending);
    this.#arm(pending, s * 1000);
    this.#o.log(
      `configuration change waits for confirmation until ${pending.deadline}; ` +
        `without 'config confirm' it rolls back to ${this.#versionName(pending.previousId)}`,
    );
    return { ...result, confirmBy: pending.deadline };
  }

  #versionName(id: number | null): string {
    return id === null ? "the configuration before it" : `version ${id}`;
  }

  #arm(pending: PendingConfirm, ms: number): void {
    this.#pending = pending;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#rollBackUnconfirmed("not confirmed in time").catch(() => {});
    }, Math.max(0, ms));
    // A daemon stopping does not wait for this timer; the store remembers the rollback.
    Deno.unrefTimer(this.#timer);
  }

  /** Keeps the change waiting for confirmation. */
  confirm(): { confirmed: number | null } {
    const p = this.#pending;
    if (p === undefined) throw invalid("no configuration change waits for confirmation");
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = undefined;
    this.#o.store()?.clearPending();
    this.#o.log(`configuration change ${this.#versionName(p.appliedId)} confirmed`);
    return { confirmed: p.appliedId };
  }

  /** Rolls back an unconfirmed change left by a daemon that stopped before it was confirmed. */
  async resumeAtStart(): Promise<void> {
    const store = this.#o.store();
    const p = store?.pending();
    if (p === undefined) return;
    this.#pending = p;
    await this.#rollBackUnconfirmed("the daemon restarted before it was confirmed");
  }

  async #rollBackUnconfirmed(why: string): Promise<void> {
    const p = this.#pending;
    if (p === undefined) return;
    const to = p.previousId === null ? "the previous configuration" : String(p.previousId);
    try {
      const r = await this.#o.batch(
        `rollback to ${to}: ${why}`,
        () => this.#o.applyText(p.previousText),
      );
      this.#confirmRollbacks++;
      this.#o.log(
        `configuration change ${this.#versionName(p.appliedId)} rolled back to ` +
          `${this.#versionName(p.previousId)} (${why}): ${r.changes.length} change(s)`,
      );
    } catch (e) {
      this.#o.log(
        `rolling back the unconfirmed configuration change to ` +
          `${this.#versionName(p.previousId)} failed; the change stays: ${message(e)}`,
      );
    } finally {
      this.#pending = undefined;
      try {
        this.#o.store()?.clearPending();
      } catch (e) {
        this.#o.log(`forgetting the rolled-back change in the store failed: ${message(e)}`);
      }
    }
  }

  #view(): PendingView | null {
    const p = this.#pending;
    if (p === undefined) return null;
    return {
      previousId: p.previousId,
      appliedId: p.appliedId,
      deadline: p.deadline,
      secondsLeft: Math.max(0, Math.ceil((Date.parse(p.deadline) - this.#now()) / 1000)),
    };
  }

  /** For `status`. */
  status(): VersionsStatus {
    return {
      pendingConfirm: this.#view(),
      confirmRollbacks: this.#confirmRollbacks,
      rollbacks: this.#rollbacks,
    };
  }

  /** Stops the timer (the daemon is stopping; the store still holds what to roll back). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
