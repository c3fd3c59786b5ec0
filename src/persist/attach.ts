/**
 * Durable configuration for a daemon: restores the stored document when the daemon starts,
 * saves the running configuration after every mutating control operation, and serves the
 * `configExport` / `configApply` ops. All of it goes through the async control contract
 * ({@linkcode RemoteControl}), so the daemon's target may be one engine or a fan-out over several.
 *
 * @module
 */
import { join } from "node:path";
import { CONFIG_CHANGES, localRemote, type RemoteControl } from "../ctl/remote.ts";
import { ControlError, type ControlTarget } from "../fullnat/types.ts";
import { applyConfig, type ApplyResult, readRunning } from "./apply.ts";
import { type ConfigDocument, formatConfig, parseConfig } from "./document.ts";
import { ConfigStore, setAside, STORE_FILE, StoreUnreadableError } from "./store.ts";

/** Control methods after which the configuration is saved. */
export const MUTATING_METHODS: ReadonlySet<string> = CONFIG_CHANGES;

/** Options of {@linkcode attachPersistence}. */
export interface PersistenceOptions {
  /** Directory holding `config.db`; null keeps nothing (a throwaway run). */
  stateDir: string | null;
  /** The daemon's log. */
  log: (message: string) => void;
}

/** Anything that can serve extra ops (the daemon's `ControlServer`). */
export interface OpRegistry {
  register(op: string, handler: (...args: unknown[]) => unknown): unknown;
}

/** What {@linkcode attachPersistence} gives the daemon. */
export interface Persistence<T> {
  /** The target to serve: like the one given, but mutating calls save once they finish. */
  readonly target: T;
  /** The store, or undefined when persistence is off. */
  readonly store: ConfigStore | undefined;
  /** Adds `configExport` and `configApply` to the daemon's control server. */
  register(server: OpRegistry): void;
  /** Waits for a save in progress and closes the store. */
  close(): Promise<void>;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

function summary(doc: ConfigDocument): string {
  const rs = doc.services.reduce((n, s) => n + s.realServers.length, 0);
  const la = doc.services.reduce((n, s) => n + s.localAddresses.length, 0);
  return `${doc.services.length} service(s), ${rs} real server(s), ${la} local address(es)`;
}

/** Opens the store, setting an unreadable one aside for a fresh one. */
function openStore(path: string, log: (m: string) => void): ConfigStore {
  try {
    return ConfigStore.open(path);
  } catch (e) {
    if (!(e instanceof StoreUnreadableError)) {
      throw new Error(
        `cannot open the configuration store ${path}: ${message(e)} ` +
          `(choose another place with --state-dir DIR, or run without one with --no-persist)`,
      );
    }
    const aside = setAside(path);
    log(`${e.message}; moved it to ${aside} and starting with an empty configuration`);
    return ConfigStore.open(path);
  }
}

/** Serializes configuration changes and saves so each save sees a settled configuration. */
class Queue {
  #tail: Promise<unknown> = Promise.resolve();
  run<R>(fn: () => Promise<R> | R): Promise<R> {
    const next = this.#tail.then(fn, fn);
    this.#tail = next.catch(() => {});
    return next;
  }
  drain(): Promise<unknown> {
    return this.#tail;
  }
}

/**
 * Restores the stored configuration onto `target` and returns the wrapped target to serve.
 * A stored document that no longer parses or validates is reported, its file set aside, and
 * the daemon starts empty; it never runs half a configuration.
 *
 * @throws {Error} when the state directory cannot be used at all (the message says how to fix).
 */
export async function attachPersistence<T extends object>(
  target: T,
  options: PersistenceOptions,
): Promise<Persistence<T>> {
  const { log } = options;
  // The target's methods may return values or promises; localRemote adopts either.
  const remote: RemoteControl = localRemote(target as unknown as ControlTarget);
  const path = options.stateDir === null ? undefined : join(options.stateDir, STORE_FILE);
  let store = path === undefined ? undefined : openStore(path, log);
  if (path === undefined) log("configuration persistence is off (--no-persist)");

  if (store !== undefined && path !== undefined) {
    const stored = store.load();
    if (stored === undefined) {
      log(`no stored configuration in ${path}; starting empty`);
    } else {
      let doc: ConfigDocument | undefined;
      try {
        doc = parseConfig(stored.text);
      } catch (e) {
        store.close();
        const aside = setAside(path);
        log(
          `stored configuration version ${stored.id} (${stored.savedAt}) in ${path} is invalid, ` +
            `starting empty; the file is kept as ${aside}. ${message(e)}`,
        );
        store = ConfigStore.open(path);
      }
      if (doc !== undefined) {
        try {
          await applyConfig(remote, doc);
          log(
            `restored configuration version ${stored.id} saved ${stored.savedAt} ` +
              `(${stored.reason}) from ${path}: ${summary(doc)}`,
          );
        } catch (e) {
          log(
            `restoring the stored configuration version ${stored.id} from ${path} failed, ` +
              `starting empty (it stays in the store's history): ${message(e)}`,
          );
        }
      }
    }
  }

  const queue = new Queue();
  let lastText: string | undefined = store === undefined
    ? undefined
    : formatConfig(await readRunning(remote));

  const save = async (reason: string): Promise<void> => {
    if (store === undefined) return;
    try {
      const text = formatConfig(await readRunning(remote));
      if (text === lastText) return;
      store.save(text, reason);
      lastText = text;
    } catch (e) {
      log(
        `saving the configuration (${reason}) failed; the change is live but not durable: ${
          message(e)
        }`,
      );
    }
  };

  const wrapped = new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver);
      if (typeof value !== "function") return value;
      if (typeof prop !== "string" || !MUTATING_METHODS.has(prop)) return value.bind(obj);
      return (...args: unknown[]) =>
        queue.run(async () => {
          try {
            return await value.apply(obj, args);
          } finally {
            // Saved even after a refusal: a wrapper may have changed something before failing,
            // and an unchanged configuration costs only the comparison.
            await save(prop);
          }
        });
    },
  });

  return {
    target: wrapped,
    get store() {
      return store;
    },
    register(server: OpRegistry) {
      server.register(
        "configExport",
        () => queue.run(async () => formatConfig(await readRunning(remote))),
      );
      server.register("configApply", (text: unknown, opts: unknown) => {
        const { dryRun } = checkApplyArgs(text, opts);
        return queue.run(async (): Promise<ApplyResult> => {
          const doc = parseConfig(text as string);
          try {
            return await applyConfig(remote, doc, { dryRun });
          } finally {
            if (!dryRun) await save("configApply");
          }
        });
      });
    },
    async close() {
      await queue.drain();
      store?.close();
    },
  };
}

function checkApplyArgs(text: unknown, opts: unknown): { dryRun: boolean } {
  if (typeof text !== "string") {
    throw new ControlError("invalid-argument", "configApply takes the document text as a string");
  }
  if (opts === undefined || opts === null) return { dryRun: false };
  if (typeof opts !== "object" || Array.isArray(opts)) {
    throw new ControlError("invalid-argument", "configApply options must be { dryRun?: boolean }");
  }
  const o = opts as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => k !== "dryRun");
  if (unknown.length > 0 || (o.dryRun !== undefined && typeof o.dryRun !== "boolean")) {
    throw new ControlError("invalid-argument", "configApply options must be { dryRun?: boolean }");
  }
  return { dryRun: o.dryRun === true };
}
