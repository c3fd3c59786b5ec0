/**
 * Durable configuration for a daemon: restores the stored document when the daemon starts,
 * saves the running configuration whenever the daemon's "configuration changed" event fires
 * ({@linkcode ConfigChanges}), and serves the `configExport` / `configApply` ops. All of it goes
 * through the async control contract ({@linkcode RemoteControl}), so the daemon's target may be
 * one engine or a fan-out over several. Applying a document is one batch: however many
 * services it touches, it is saved (and the diversion synced) once.
 *
 * @module
 */
import { join } from "node:path";
import { announcing, ConfigChanges, exclusiveChanges } from "../ctl/changes.ts";
import {
  type EncodedConnections,
  hasEncodedConnections,
  hasPagedConnections,
  localRemote,
  type PagedConnections,
  type RemoteControl,
  type ServedControl,
} from "../ctl/remote.ts";
import { ControlError } from "../fullnat/types.ts";
import { applyConfig, type ApplyResult, readRunning } from "./apply.ts";
import { type ConfigDocument, ConfigInvalidError, formatConfig, parseConfig } from "./document.ts";
import { ConfigStore, setAside, STORE_FILE, StoreUnreadableError } from "./store.ts";
import { describeSync, type SyncOps } from "./sync_section.ts";
import { checkConfirmSeconds, ConfigVersions } from "./versions.ts";
import { type NetworkOps, networkText } from "./network_section.ts";
import { checkNetworkSection } from "./network_section.ts";
import { Checker, serviceName } from "./document.ts";
import type { SyncDaemonSpec } from "../sync/sync_config.ts";

/** Options of {@linkcode attachPersistence}. */
export interface PersistenceOptions {
  /** Directory holding `config.db`; null keeps nothing (a throwaway run). */
  stateDir: string | null;
  /** The daemon's log. */
  log: (message: string) => void;
  /**
   * The daemon's change event, when the target announces its own changes there (the daemon's
   * fan-out does). Without it, every configuration-changing call made through the returned
   * target is announced on an event of its own.
   */
  changes?: ConfigChanges;
  /**
   * The daemon's sync daemons: the document's `sync` section is read from and applied to
   * them. They must announce their own changes on `changes` (as the fan-out does).
   */
  sync?: SyncOps;
  /**
   * The box's host network: the document's `network` section is read from and applied to it,
   * restored first at start, and the VIPs and local addresses of new services are admitted by
   * it (refused when the box could not own them).
   */
  network?: NetworkOps;
}

/** Anything that can serve extra ops (the daemon's `ControlServer`). */
export interface OpRegistry {
  register(op: string, handler: (...args: unknown[]) => unknown): unknown;
}

/** A target to serve, with its paged connection listing when it has one. */
export type PersistedTarget =
  & ServedControl
  & Partial<PagedConnections>
  & Partial<EncodedConnections>;

/** What {@linkcode attachPersistence} gives the daemon. */
export interface Persistence {
  /** The target to serve: like the one given, with its changes run one at a time. */
  readonly target: PersistedTarget;
  /** The store, or undefined when persistence is off. */
  readonly store: ConfigStore | undefined;
  /** History, rollback and commit-confirm (src/persist/versions.ts). */
  readonly versions: ConfigVersions;
  /**
   * Adds `configExport`, `configApply`, `configHistory`, `configShow`, `configRollback` and
   * `configConfirm` to the daemon's control server.
   */
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

/**
 * Restores the stored configuration onto `target` and returns the wrapped target to serve.
 * A stored document that no longer parses or validates is reported, its file set aside, and
 * the daemon starts empty; it never runs half a configuration.
 *
 * @throws {Error} when the state directory cannot be used at all (the message says how to fix).
 */
export async function attachPersistence(
  target: PersistedTarget,
  options: PersistenceOptions,
): Promise<Persistence> {
  const { log, sync } = options;
  const changes = options.changes ?? new ConfigChanges();
  // A network change is a configuration change like any other: announced, so it is saved
  // and the bindings follow.
  const given = options.network;
  const network: NetworkOps | undefined = given === undefined ? undefined : {
    current: () => given.current(),
    check: (next, before) => given.check(next, before),
    restore: (net) => given.restore(net),
    admit: (address, what) => given.admit(address, what),
    apply: async (next) => {
      await given.apply(next);
      await changes.announce("network");
    },
  };
  // What restoring, applying and saving call: changes go straight to the target (they run
  // inside a batch or an exclusive section already) and are announced on the event.
  const remote: RemoteControl = options.changes === undefined
    ? announcing(target, changes)
    : localRemote(target);
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
          // The box's own network first (management port on its own, never throws): the
          // services' addresses are bound on its interfaces.
          if (network !== undefined && doc.network !== undefined) {
            await network.restore(doc.network);
          }
          // Not durable: the store already holds it. The diversion still follows. The sync
          // daemons come after, each on its own: one that cannot start (its interface is not
          // up yet) costs no service.
          await changes.batch(
            "restore",
            // No network ops here: the network is restored above, and a stored service is
            // never refused for an address (bound or not, it is logged by the host network).
            () => applyConfig(remote, { ...doc!, sync: [], network: undefined }),
            false,
          );
          log(
            `restored configuration version ${stored.id} saved ${stored.savedAt} ` +
              `(${stored.reason}) from ${path}: ${summary(doc)}`,
          );
          if (sync !== undefined) await restoreSync(sync, doc.sync ?? [], changes, log);
        } catch (e) {
          log(
            `restoring the stored configuration version ${stored.id} from ${path} failed, ` +
              `starting empty (it stays in the store's history): ${message(e)}`,
          );
        }
      }
    }
  }

  let lastText: string | undefined = store === undefined
    ? undefined
    : formatConfig(await readRunning(remote, sync, network));

  const save = async (reason: string): Promise<void> => {
    if (store === undefined) return;
    try {
      const text = formatConfig(await readRunning(remote, sync, network));
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

  changes.on((change) => change.durable ? save(change.reason) : undefined);
  const applyText = (text: string) => applyConfig(remote, parseConfig(text), { sync, network });
  const versions = new ConfigVersions({
    store: () => store,
    batch: (reason, fn) => changes.batch(reason, fn),
    applyText,
    runningText: async () => formatConfig(await readRunning(remote, sync, network)),
    log,
  });
  const exclusive = exclusiveChanges(remote, changes);
  // A new service's VIP and a new local address must be ones the box can own (on one of its
  // subnets, named under network.vips/localAddresses, or floated by keepalived).
  const guarded: RemoteControl = network === undefined ? exclusive : {
    ...exclusive,
    addService: async (key, opts) => {
      await network.admit(key.address, `the VIP of ${serviceName(key)}`);
      return exclusive.addService(key, opts);
    },
    addLocalAddress: async (key, address) => {
      await network.admit(address, `a local address of ${serviceName(key)}`);
      return exclusive.addLocalAddress(key, address);
    },
  };
  // A change applied with --confirm-within that a stopped daemon never saw confirmed.
  await versions.resumeAtStart();
  // Listings are reads: they pass by the serialized changes.
  const served: PersistedTarget = {
    ...guarded,
    ...(hasPagedConnections(target) ? { connectionPages: () => target.connectionPages() } : {}),
    ...(hasEncodedConnections(target) ? { connectionJson: () => target.connectionJson() } : {}),
  };

  return {
    target: served,
    get store() {
      return store;
    },
    versions,
    register(server: OpRegistry) {
      server.register(
        "configExport",
        () => changes.exclusive(async () => formatConfig(await readRunning(remote, sync, network))),
      );
      server.register("configApply", (text: unknown, opts: unknown) => {
        const { dryRun, confirmWithin } = checkApplyArgs(text, opts);
        if (confirmWithin !== undefined) {
          return versions.applyConfirmed(text as string, confirmWithin);
        }
        const run = (): Promise<ApplyResult> =>
          applyConfig(remote, parseConfig(text as string), { dryRun, sync, network });
        return dryRun ? changes.exclusive(run) : changes.batch("configApply", run);
      });
      server.register("configHistory", () => versions.history());
      server.register("configShow", (id: unknown) => versions.show(id));
      server.register("configRollback", (id: unknown) => versions.rollback(id));
      server.register("configConfirm", () => versions.confirm());
      // The `network` section alone (the shell's interface/route/dns/ntp commands): `expect`
      // is the section's text the edit was made on, so two admins' edits never undo each other.
      server.register(
        "networkGet",
        () =>
          changes.exclusive(async () =>
            networkText((await readRunning(remote, sync, network)).network) ?? {}
          ),
      );
      server.register("networkApply", (section: unknown, opts: unknown) => {
        const { dryRun, expect } = checkNetworkArgs(opts);
        const run = async (): Promise<ApplyResult> => {
          const running = await readRunning(remote, sync, network);
          const now = JSON.stringify(networkText(running.network) ?? {});
          if (expect !== undefined && JSON.stringify(expect) !== now) {
            throw new ControlError(
              "invalid-argument",
              "the network configuration changed while this edit was made; run the command again",
            );
          }
          const c = new Checker("");
          const next = checkNetworkSection(c, section);
          if (next === undefined) throw new ConfigInvalidError(c.problems, "The network section");
          return applyConfig(remote, { ...running, network: next }, { dryRun, sync, network });
        };
        return dryRun ? changes.exclusive(run) : changes.batch("networkApply", run);
      });
    },
    async close() {
      versions.stop();
      await changes.drain();
      store?.close();
    },
  };
}

/** Starts the stored sync daemons one by one; one that fails is logged, the others still run. */
async function restoreSync(
  sync: SyncOps,
  specs: readonly SyncDaemonSpec[],
  changes: ConfigChanges,
  log: (m: string) => void,
): Promise<void> {
  for (const spec of specs) {
    await changes.batch("restore", async () => {
      try {
        await sync.start(spec);
      } catch (e) {
        log(
          `the stored ${describeSync(spec)} sync daemon did not start (start it with ` +
            `ipvsadm --start-daemon or config apply; the next save leaves it out): ${message(e)}`,
        );
      }
    }, false);
  }
}

function checkNetworkArgs(opts: unknown): { dryRun: boolean; expect?: unknown } {
  if (opts === undefined || opts === null) return { dryRun: false };
  if (typeof opts !== "object" || Array.isArray(opts)) {
    throw new ControlError(
      "invalid-argument",
      "networkApply options must be { dryRun?: boolean, expect?: object }",
    );
  }
  const o = opts as Record<string, unknown>;
  return { dryRun: o.dryRun === true, ...(o.expect !== undefined && { expect: o.expect }) };
}

const APPLY_OPTIONS = "configApply options must be { dryRun?: boolean, confirmWithin?: seconds }";

function checkApplyArgs(
  text: unknown,
  opts: unknown,
): { dryRun: boolean; confirmWithin?: number } {
  if (typeof text !== "string") {
    throw new ControlError("invalid-argument", "configApply takes the document text as a string");
  }
  if (opts === undefined || opts === null) return { dryRun: false };
  if (typeof opts !== "object" || Array.isArray(opts)) {
    throw new ControlError("invalid-argument", APPLY_OPTIONS);
  }
  const o = opts as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => k !== "dryRun" && k !== "confirmWithin");
  if (unknown.length > 0 || (o.dryRun !== undefined && typeof o.dryRun !== "boolean")) {
    throw new ControlError("invalid-argument", APPLY_OPTIONS);
  }
  const dryRun = o.dryRun === true;
  if (o.confirmWithin === undefined) return { dryRun };
  if (dryRun) {
    throw new ControlError(
      "invalid-argument",
      "a dry run changes nothing, so there is nothing to confirm: leave out confirmWithin",
    );
  }
  return { dryRun, confirmWithin: checkConfirmSeconds(o.confirmWithin) };
}
