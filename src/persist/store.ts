/**
 * The durable store of configuration documents: one SQLite file (`node:sqlite`), one row per
 * saved version, the newest row being the configuration to restore. Each save is one
 * transaction (insert the new version, prune the oldest), so a crash or a failing write leaves
 * the previous version whole: SQLite's rollback journal undoes an unfinished transaction the
 * next time the file is opened, and `synchronous=EXTRA` makes a finished one durable before
 * `save` returns.
 *
 * EXTRA, not FULL: in rollback-journal mode a transaction commits when its journal is unlinked,
 * and only EXTRA makes SQLite fsync the directory after that unlink. Under FULL the unlink sat in
 * ext4's 5 s journal commit interval: a power cut a second after an acknowledged change left the
 * journal on disk, and the next open rolled the committed change back as a hot journal (issue 12).
 *
 * The rollback journal (not WAL) is chosen on purpose: writes are rare and single-writer, and
 * with no transaction open the `.db` file alone is the whole state, so setting a bad file aside
 * is one rename.
 *
 * @module
 */
import { mkdirSync, renameSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";

/** Default directory of the daemon's state. Env `FULLNAT_STATE_DIR` or `--state-dir` move it. */
export const DEFAULT_STATE_DIR = "/var/lib/fullnat";
/** File name of the configuration store inside the state directory. */
export const STORE_FILE = "config.db";
/** Versions kept by default: the current one and some before it. */
export const DEFAULT_KEEP = 20;

const SCHEMA_VERSION = 1;

/** One saved version, without its document text. */
export interface StoredVersion {
  id: number;
  /** ISO 8601, UTC. */
  savedAt: string;
  /** What caused the save (the control op, "configApply", ...). */
  reason: string;
}

/** A saved version with its document text. */
export interface StoredDocument extends StoredVersion {
  text: string;
}

/**
 * A change applied with `--confirm-within` that is not confirmed yet: what to go back to, and
 * when. Kept in the store (table `pending_confirm`, at most one row) so a daemon that restarts
 * inside the window still knows to roll back.
 */
export interface PendingConfirm {
  /** The version that was current before the change (its text is kept here too). */
  previousId: number | null;
  /** The document to go back to. */
  previousText: string;
  /** The version the unconfirmed change was saved as. */
  appliedId: number | null;
  /** ISO 8601, UTC: when the change rolls back unless confirmed. */
  deadline: string;
}

/** The store file exists but cannot be used (not a database, damaged, or from a newer fullnat). */
export class StoreUnreadableError extends Error {
  constructor(readonly path: string, detail: string) {
    super(`configuration store ${path} is unreadable: ${detail}`);
    this.name = "StoreUnreadableError";
  }
}

/** Options of {@linkcode ConfigStore.open}. */
export interface StoreOptions {
  /** Versions kept, at least 1 (default {@linkcode DEFAULT_KEEP}). */
  keep?: number;
  /** Wall clock for the timestamps (tests inject one). */
  now?: () => Date;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Configuration versions in a SQLite file. */
export class ConfigStore {
  readonly #db: DatabaseSync;
  readonly #keep: number;
  readonly #now: () => Date;

  private constructor(readonly path: string, db: DatabaseSync, options: StoreOptions) {
    this.#db = db;
    this.#keep = Math.max(1, options.keep ?? DEFAULT_KEEP);
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Opens (creating if needed, with its directory) the store at `path`.
   * @throws {StoreUnreadableError} when the file is there but is not a usable store.
   */
  static open(path: string, options: StoreOptions = {}): ConfigStore {
    mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (e) {
      throw new StoreUnreadableError(path, message(e));
    }
    try {
      db.exec("PRAGMA busy_timeout = 2000");
      db.exec("PRAGMA journal_mode = DELETE");
      db.exec("PRAGMA synchronous = EXTRA");
      const check = db.prepare("PRAGMA quick_check").get() as Record<string, unknown>;
      if (check?.quick_check !== "ok") {
        throw new Error(`integrity check: ${String(check?.quick_check)}`);
      }
      const v = Number(
        (db.prepare("PRAGMA user_version").get() as Record<string, unknown>).user_version,
      );
      if (v > SCHEMA_VERSION) {
        throw new Error(
          `schema version ${v} is newer than this fullnat understands (${SCHEMA_VERSION})`,
        );
      }
      db.exec(`CREATE TABLE IF NOT EXISTS config_versions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        saved_at TEXT NOT NULL,
        reason TEXT NOT NULL,
        document TEXT NOT NULL
      )`);
      // Added beside version 1's table: an older fullnat ignores it.
      db.exec(`CREATE TABLE IF NOT EXISTS pending_confirm (
        only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
        previous_id INTEGER,
        previous_text TEXT NOT NULL,
        applied_id INTEGER,
        deadline TEXT NOT NULL
      )`);
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    } catch (e) {
      db.close();
      throw new StoreUnreadableError(path, message(e));
    }
    return new ConfigStore(path, db, options);
  }

  /** The newest saved version, or undefined when nothing was ever saved. */
  load(): StoredDocument | undefined {
    const row = this.#db.prepare(
      "SELECT id, saved_at, reason, document FROM config_versions ORDER BY id DESC LIMIT 1",
    ).get() as Record<string, unknown> | undefined;
    return row === undefined ? undefined : toDocument(row);
  }

  /** One version by id, or undefined when it was pruned or never existed. */
  get(id: number): StoredDocument | undefined {
    const row = this.#db.prepare(
      "SELECT id, saved_at, reason, document FROM config_versions WHERE id = ?",
    ).get(id) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : toDocument(row);
  }

  /** Saved versions, newest first. */
  history(): StoredVersion[] {
    const rows = this.#db.prepare(
      "SELECT id, saved_at, reason FROM config_versions ORDER BY id DESC",
    ).all() as Record<string, unknown>[];
    return rows.map(toVersion);
  }

  /**
   * Saves `text` as the newest version and prunes beyond the kept count, in one transaction.
   * Returns the new version's id. On any failure nothing is changed and the error is thrown.
   */
  save(text: string, reason: string): number {
    const db = this.#db;
    db.exec("BEGIN IMMEDIATE");
    try {
      const r = db.prepare(
        "INSERT INTO config_versions (saved_at, reason, document) VALUES (?, ?, ?)",
      ).run(this.#now().toISOString(), reason, text);
      const id = Number(r.lastInsertRowid);
      db.prepare("DELETE FROM config_versions WHERE id <= ?").run(id - this.#keep);
      db.exec("COMMIT");
      return id;
    } catch (e) {
      try {
        db.exec("ROLLBACK");
      } catch {
        // SQLite already rolled back (some errors end the transaction themselves).
      }
      throw e;
    }
  }

  /** The change waiting for confirmation, if any. */
  pending(): PendingConfirm | undefined {
    const row = this.#db.prepare(
      "SELECT previous_id, previous_text, applied_id, deadline FROM pending_confirm",
    ).get() as Record<string, unknown> | undefined;
    if (row === undefined) return undefined;
    const id = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    return {
      previousId: id(row.previous_id),
      previousText: String(row.previous_text),
      appliedId: id(row.applied_id),
      deadline: String(row.deadline),
    };
  }

  /** Records (replacing any) the change waiting for confirmation; durable when it returns. */
  setPending(p: PendingConfirm): void {
    this.#db.prepare(
      "INSERT OR REPLACE INTO pending_confirm " +
        "(only_row, previous_id, previous_text, applied_id, deadline) VALUES (1, ?, ?, ?, ?)",
    ).run(p.previousId, p.previousText, p.appliedId, p.deadline);
  }

  /** Forgets the change waiting for confirmation (confirmed, or rolled back). */
  clearPending(): void {
    this.#db.exec("DELETE FROM pending_confirm");
  }

  /** The id of the newest version, or undefined when nothing was ever saved. */
  currentId(): number | undefined {
    const row = this.#db.prepare("SELECT MAX(id) AS id FROM config_versions").get() as
      | Record<string, unknown>
      | undefined;
    return row?.id === null || row?.id === undefined ? undefined : Number(row.id);
  }

  /** Closes the file. */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}

function toVersion(row: Record<string, unknown>): StoredVersion {
  return { id: Number(row.id), savedAt: String(row.saved_at), reason: String(row.reason) };
}

function toDocument(row: Record<string, unknown>): StoredDocument {
  return { ...toVersion(row), text: String(row.document) };
}

/**
 * Moves an unusable store (and its journal, if any) aside as `PATH.bad-TIMESTAMP` so the
 * daemon can start a fresh one and an admin can still inspect the old; returns the new name.
 */
export function setAside(path: string, now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[:.]/g, "-");
  const aside = `${path}.bad-${stamp}`;
  renameSync(path, aside);
  for (const suffix of ["-journal", "-wal", "-shm"]) {
    try {
      statSync(path + suffix);
    } catch {
      continue;
    }
    renameSync(path + suffix, aside + suffix);
  }
  return aside;
}
