/**
 * `fullnat daemon`: the engine, the queue loop feeding it, the iptables diversion that keeps
 * the queue fed with exactly the configured traffic, the expiry timer, and the control socket,
 * all on one event loop. SIGINT/SIGTERM stop it cleanly: the loop ends, the diversion chains
 * are removed and the socket file is deleted.
 *
 * @module
 */
import { EngineControl } from "../fullnat/control.ts";
import { Engine } from "../fullnat/engine.ts";
import type { ControlTarget, DiversionSpec } from "../fullnat/types.ts";
import type { ControlMethod } from "../ctl/remote.ts";
import { ControlServer } from "../ctl/server.ts";
import { Diversion } from "../nfqueue/diversion.ts";
import { NfQueue } from "../nfqueue/queue.ts";
import { applyDataPathSysctls } from "../nfqueue/sysctl.ts";
import { attachPersistence } from "../persist/attach.ts";
import type { DaemonOptions } from "./options.ts";
import { statusReport } from "./status.ts";

/** Writes a line to the daemon's log (stderr, which systemd's journal collects). */
export function log(message: string): void {
  console.error(`fullnat: ${message}`);
}

/**
 * Wraps the engine's control operations so that every change that alters what must be
 * diverted has its iptables rules in place before the caller hears back.
 */
function syncingTarget(control: EngineControl, sync: () => Promise<void>): ControlTarget {
  // Typed against the contract's own method list, so a renamed method fails to compile
  // instead of silently skipping the iptables sync.
  const mutating = new Set<string>(
    [
      "addService",
      "editService",
      "deleteService",
      "addRealServer",
      "editRealServer",
      "deleteRealServer",
      "addLocalAddress",
      "deleteLocalAddress",
      "clear",
    ] satisfies ControlMethod[],
  );
  return new Proxy(control, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      if (typeof prop === "string" && mutating.has(prop)) {
        return (...args: unknown[]) => {
          value.apply(target, args);
          return sync();
        };
      }
      return value.bind(target);
    },
  });
}

/** Runs the daemon until SIGINT or SIGTERM. Throws (having cleaned up) if it cannot start. */
export async function runDaemon(options: DaemonOptions): Promise<void> {
  const engine = new Engine({
    clock: () => performance.now(),
    capacity: options.maxSessions,
    localPortRange: options.localPorts,
    rejectPolicy: options.rejectWithReset ? "reset" : "drop",
  });
  const control = new EngineControl(engine);

  if (!options.skipSysctl) {
    const changed = applyDataPathSysctls();
    if (changed.length) {
      log(
        `kernel settings changed: ${
          changed.map((c) => `${c.key}=${c.to} (was ${c.from})`).join(", ")
        }`,
      );
    }
  }

  const queue = NfQueue.open({ queueNum: options.queue });
  const diversion = new Diversion({
    queueNum: options.queue,
    prefix: options.chainPrefix,
    failOpen: options.failOpen,
  });
  let server: ControlServer | undefined;
  let expiryTimer: ReturnType<typeof setInterval> | undefined;
  try {
    await diversion.install();
    let syncing: Promise<void> = Promise.resolve();
    const sync = (): Promise<void> => {
      // Serialized, and each run installs the newest spec, so a burst of changes costs little.
      syncing = syncing.then(async () => {
        if (!engine.registry.diversionDirty) return;
        engine.registry.diversionDirty = false;
        const spec: DiversionSpec = control.diversion();
        try {
          await diversion.update(spec);
        } catch (e) {
          engine.registry.diversionDirty = true;
          throw e;
        }
      });
      return syncing;
    };

    // Restores the stored configuration, then saves after every change (src/persist).
    const persisted = await attachPersistence(syncingTarget(control, sync), {
      stateDir: options.stateDir,
      log,
    });
    server = new ControlServer(persisted.target, {
      onError: (e) => log(`control: ${e instanceof Error ? e.message : String(e)}`),
    });
    server.register("status", () => statusReport(engine, queue, diversion));
    persisted.register(server);
    await server.listen({ path: options.socket, mode: 0o660 });

    expiryTimer = setInterval(() => {
      engine.expire();
      if (engine.registry.diversionDirty) {
        sync().catch((e) =>
          log(`updating iptables diversion failed: ${e instanceof Error ? e.message : e}`)
        );
      }
    }, options.expiryIntervalMs);

    const stop = () => queue.stop();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    log(
      `running: queue ${options.queue}, chains ${options.chainPrefix}*, control socket ${options.socket}`,
    );
    try {
      await queue.run(engine);
    } finally {
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
    }
    log("stopping");
  } finally {
    if (expiryTimer !== undefined) clearInterval(expiryTimer);
    await server?.close();
    await diversion.remove().catch((e) =>
      log(`removing iptables chains failed: ${e instanceof Error ? e.message : e}`)
    );
    queue.close();
  }
}
