/**
 * `fullnat daemon`: packet workers (each a Deno Worker with its own NFQUEUE, engine, expiry
 * timer and raw socket, see `worker.ts`), the iptables diversion that feeds and steers their
 * queues, and the control socket, which stays on the main thread and fans every control op
 * out to the workers (`fan_out.ts`). SIGINT/SIGTERM stop it cleanly: the workers release
 * their queues, the diversion chains are removed and the socket file is deleted.
 *
 * @module
 */
import { showFirewall } from "../mgmt/firewall.ts";
import { refreshSyncOpenings } from "../mgmt/sync_openings.ts";
import type { DiversionSpec, Timeouts } from "../fullnat/types.ts";
import { ConfigChanges } from "../ctl/changes.ts";
import { localRemote } from "../ctl/remote.ts";
import { ControlServer } from "../ctl/server.ts";
import { Diversion } from "../kernel/diversion.ts";
import { DrRoutes } from "../kernel/dr_routes.ts";
import { portSlices } from "../kernel/diversion_rules.ts";
import {
  applyDataPathSysctls,
  applySysctls,
  restoreSysctls,
  type SysctlChange,
} from "../kernel/sysctl.ts";
import { carrySysctls, clearSysctlCarry } from "../kernel/sysctl_carry.ts";
import { attachPersistence } from "../persist/attach.ts";
import { DEFAULT_STATE_DIR } from "../persist/store.ts";
import { HostNetwork } from "../hostnet/host_network.ts";
import { liveNetwork } from "../hostnet/live.ts";
import { readInEffect } from "../hostnet/in_effect.ts";
import { followNetwork } from "../mgmt/network_follow.ts";
import { Drains } from "./drains.ts";
import { collectDiversion, collectTimeouts, fanOutControl } from "./fan_out.ts";
import { offloadSysctls } from "../kernel/offload_sysctls.ts";
import { HealthMonitor } from "./health_monitor.ts";
import { type DaemonOptions, OFFLOAD_INTERVAL_MS, readSyncKey } from "./options.ts";
import { SyncDaemons } from "./sync_daemon.ts";
import { checkSyncRole, checkSyncSpec } from "../sync/sync_config.ts";
import type { SyncOps } from "../persist/sync_section.ts";
import { daemonProcess } from "./process_info.ts";
import { hostPowerOp } from "./host_power.ts";
import { Captures } from "./capture.ts";
import { type RateSampler, startRateSampler } from "./rates.ts";
import { statusReport } from "./status.ts";
import { WorkerPool } from "./worker_pool.ts";
import {
  type ResumeReport,
  WORKER_END_SESSIONS_OP,
  WORKER_OFFLOAD_END_OP,
  WORKER_RESUME_OP,
  WORKER_STATUS_OP,
  type WorkerConfig,
  type WorkerStatus,
} from "./worker_protocol.ts";
import { checkWorkerCount, clearRunState } from "../kernel/run_state.ts";

/** Writes a line to the daemon's log (stderr, which systemd's journal collects). */
export function log(message: string): void {
  console.error(`fullnat: ${message}`);
}

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * One configuration per worker. Throws (before anything is changed) when the port range or
 * the queue numbers cannot be split across `options.workers`.
 */
export function workerConfigs(options: DaemonOptions): WorkerConfig[] {
  const n = options.workers;
  const slices = portSlices(options.localPorts, n);
  if (options.queue + n - 1 > 65535) {
    throw new RangeError(
      `--workers ${n} needs queues ${options.queue}..${options.queue + n - 1}, past 65535; ` +
        `lower --queue`,
    );
  }
  return slices.map((localPorts, index) => ({
    index,
    queueNum: options.queue + index,
    localPorts,
    capacity: Math.ceil(options.maxSessions / n),
    rejectPolicy: options.rejectWithReset ? "reset" : "drop",
    noSessionPolicy: options.noSessionPolicy,
    resetOnExpiry: options.expiryReset,
    expiryIntervalMs: options.expiryIntervalMs,
    mtu: options.mtu,
    tunnelSources: options.tunnelSources,
    queueMaxLen: options.queueMaxLen,
    queueBufferBytes: options.queueBufferBytes,
    workers: n,
    runDir: options.runDir,
    offloadMinBytes: options.offloadMinBytes,
    offloadIntervalMs: OFFLOAD_INTERVAL_MS,
  }));
}

/**
 * How the daemon ends: `stop` (SIGINT, SIGTERM: a deliberate stop) removes the diversion and
 * ends every session; `restart` (the control op, `fullnat restart`) leaves both for the next
 * daemon, which takes them over.
 */
export type DaemonEnd = "stop" | "restart";

/** Says what a worker found in the run state at start, when there is anything to say. */
function logResume(r: ResumeReport): void {
  const w = `worker ${r.index}`;
  if (r.refused) {
    log(`${w}: session table not taken over: ${r.refused.reason}; moved to ${r.refused.path}`);
  }
  if (r.countersProblem) log(`${w}: counters not carried over: ${r.countersProblem}`);
  if (r.counters) {
    log(
      `${w}: counters carried over: ${r.counters.engine} engine counter(s), ` +
        `${r.counters.services} service(s), ${r.counters.servers} real server(s)`,
    );
  }
  if (r.templatesProblem) {
    log(`${w}: persistence templates not carried over: ${r.templatesProblem}`);
  }
  if (r.templates) {
    const left = Object.entries(r.templates.dropped).map(([why, n]) => `${n} (${why})`);
    log(
      `${w}: took over ${r.templates.kept} persistence template(s)` +
        (left.length ? `; left ${left.join(", ")}` : ""),
    );
  }
  const dropped = Object.entries(r.dropped).map(([why, n]) => `${n} (${why})`);
  if (r.kept > 0 || dropped.length > 0) {
    log(
      `${w}: took over ${r.kept} session(s) in ${r.ms} ms` +
        (r.expired ? `, ${r.expired} of them expired while no daemon ran` : "") +
        (r.standIns ? `, ${r.standIns} deleted object(s) kept to drain them` : "") +
        (dropped.length ? `; dropped ${dropped.join(", ")}` : ""),
    );
  }
}

/**
 * Where `capture` files go: env `FULLNAT_CAPTURE_DIR`, else `captures` in the state directory
 * (the default one with --no-persist), so the admin's group can read them.
 */
function captureDir(stateDir: string | null): string {
  let fromEnv: string | undefined;
  try {
    fromEnv = Deno.env.get("FULLNAT_CAPTURE_DIR");
  } catch {
    // No env access: the default.
  }
  return fromEnv || `${stateDir ?? DEFAULT_STATE_DIR}/captures`;
}

/**
 * Runs the daemon until SIGINT or SIGTERM (or a restart request). Throws (having cleaned up)
 * if it cannot start.
 */
export async function runDaemon(options: DaemonOptions): Promise<DaemonEnd> {
  const configs = workerConfigs(options);
  const syncKey = options.syncKeyFile === null ? undefined : readSyncKey(options.syncKeyFile);
  if (options.runDir !== null) {
    if (options.failOpen) {
      throw new Error(
        "--fail-open lets service traffic through un-rewritten while no daemon runs, which " +
          "breaks the sessions kept in the run directory (and shows the real servers' " +
          "addresses to clients); use it only with --no-run-dir",
      );
    }
    checkWorkerCount(options.runDir, options.workers);
  }
  const diversion = new Diversion({
    queueNum: options.queue,
    prefix: options.chainPrefix,
    failOpen: options.failOpen,
    workers: options.workers,
    localPorts: options.localPorts,
  });

  // DR servers' policy rules and routes, beside the chains (src/kernel/dr_routes.ts).
  const drRoutes = new DrRoutes();
  let drSynced = "[]";

  // What the box had before the data path's settings, put back at the final stop.
  let sysctlsBefore: SysctlChange[] = [];
  if (!options.skipSysctl) {
    const changed = applyDataPathSysctls();
    if (changed.length) {
      log(
        `kernel settings changed: ${
          changed.map((c) => `${c.key}=${c.to} (was ${c.from})`).join(", ")
        }`,
      );
    }
    sysctlsBefore = changed;
    if (options.runDir !== null) {
      const carry = carrySysctls(options.runDir, changed);
      if (carry.problem !== undefined) log(`kernel settings to restore lost: ${carry.problem}`);
      sysctlsBefore = carry.changes;
    }
  }

  /**
   * Sets the fast path's kernel settings (`offload_sysctls.ts`) for `timeouts`, again on every
   * change while it is on (so `--set` reaches the kernel); what they were before is put back
   * with the rest at the final stop.
   */
  const offloadKernel = (timeouts: Timeouts) => {
    const fresh = applySysctls(offloadSysctls(timeouts));
    if (fresh.length === 0) return;
    log(
      `kernel settings changed: ${fresh.map((c) => `${c.key}=${c.to} (was ${c.from})`).join(", ")}`,
    );
    // A setting changed twice keeps its first original value.
    const known = new Set(sysctlsBefore.map((c) => c.path));
    sysctlsBefore = [...sysctlsBefore, ...fresh.filter((c) => !known.has(c.path))];
    if (options.runDir !== null) {
      const carry = carrySysctls(options.runDir, fresh);
      if (carry.problem !== undefined) log(`kernel settings to restore lost: ${carry.problem}`);
      sysctlsBefore = carry.changes;
    }
  };

  // Set by a signal, a restart request or a worker that died; the main thread waits for it.
  let end = "stop" as DaemonEnd;
  let adopted = false;
  let stopRequested!: (reason?: Error) => void;
  const stopped = new Promise<Error | undefined>((resolve) => stopRequested = resolve);
  let dirtyTimer: ReturnType<typeof setTimeout> | undefined;
  // The one "configuration changed" event: it syncs the diversion (below) and saves (attached
  // by the persistence).
  const changes = new ConfigChanges();

  // Queues are bound before any traffic is diverted into them.
  const pool = await WorkerPool.start({
    configs,
    onDiversionDirty: () => {
      // Coalesced: several workers' expiry scans in one tick cost one iptables update.
      if (dirtyTimer !== undefined) return;
      dirtyTimer = setTimeout(() => {
        dirtyTimer = undefined;
        changes.exclusive(() => changes.announce("expiry", false)).catch((e) =>
          log(`updating iptables diversion failed: ${errText(e)}`)
        );
      }, 50);
    },
    onCrash: (index, error) => {
      log(`worker ${index} failed, stopping: ${error.message}`);
      // What a crash leaves (rules, sessions) is for the next daemon, as after a kill.
      end = "restart";
      stopRequested(error);
    },
  });
  let server: ControlServer | undefined;
  let rates: RateSampler<ReturnType<typeof fanOutControl>> | undefined;
  let drains: Drains | undefined;
  let health: HealthMonitor | undefined;
  let sync: SyncDaemons | undefined;
  let failure: Error | undefined;
  let captures: Captures | undefined;
  try {
    adopted = await diversion.adopt();
    if (adopted) {
      log("kept the diversion rules a previous daemon left; its sessions are taken over");
    }
    // Changes run one at a time (ConfigChanges.exclusive), so syncs do too. Each installs
    // what the workers need now, and only if it differs from what is installed.
    changes.on(async () => {
      const spec: DiversionSpec = await collectDiversion(pool);
      // The fast path's kernel settings come before its rules: with conntrack's loose pickup
      // still on, the first mid-stream packets would leave junk entries.
      if (spec.offload === true && !options.skipSysctl) offloadKernel(await collectTimeouts(pool));
      if (JSON.stringify(spec) !== JSON.stringify(diversion.spec)) await diversion.update(spec);
      const dr = JSON.stringify(spec.drRealServers ?? []);
      if (dr !== drSynced) {
        drSynced = dr;
        for (const p of await drRoutes.sync(spec.drRealServers ?? [])) log(p);
      }
    });

    const workers = fanOutControl(pool, (reason) => changes.announce(reason), log);
    // `ipvsadm -L --rate`: estimated here, from the workers' merged counters.
    rates = startRateSampler(workers, { log });
    const target = rates.target;
    // The sync daemons (src/daemon/sync_daemon.ts), before the stored configuration that
    // may start them; starting or stopping one is a configuration change (its `sync` section).
    const daemons = sync = new SyncDaemons({
      workers: pool,
      localPorts: configs.map((c) => c.localPorts),
      key: syncKey,
      refreshMs: options.syncRefreshMs,
      log,
    });
    // The host firewall admits sync datagrams on the running daemons' interfaces (src/mgmt).
    const openSync = () =>
      refreshSyncOpenings(
        options.stateDir,
        daemons.list().map((d) => ({ interface: d.spec.mcastInterface, port: d.spec.port })),
      ).then((done) => done && log(done), (e) => log(`host firewall: ${errText(e)}`));
    const syncOps: SyncOps = {
      list: () => Promise.resolve(daemons.list().map((d) => d.spec)),
      start: async (spec) => {
        await daemons.start(spec);
        await changes.announce("syncStart");
        await openSync();
      },
      stop: async (role) => {
        daemons.stop(role);
        await changes.announce("syncStop");
        await openSync();
      },
    };
    // The box's own network (src/hostnet): restored before the services, and after every
    // change the services' VIPs and local addresses are bound on its interfaces (awaited: a
    // VIP answers ARP when the change that added it returns).
    const hostNet = new HostNetwork({
      manage: options.manageHostNetwork,
      filesDir: options.hostNetworkDir,
      keepalivedConf: options.keepalivedConf,
      log,
      // sshd's listen addresses and the host firewall follow the management port (src/mgmt).
      onApplied: async (net) => (await followNetwork(options.stateDir, net))?.forEach(log),
    });
    changes.on(async (change) => {
      if (change.reason === "expiry") return;
      const services = (await workers.listServices()).map((s) => ({
        protocol: s.protocol,
        address: s.address,
        port: s.port,
        localAddresses: s.localAddresses.map((l) => l.address),
      }));
      const full = ["start", "restore", "configApply", "networkApply"].includes(change.reason);
      await hostNet.follow(services, full);
    });
    // Restores the stored configuration, then saves on every change event (src/persist).
    const persisted = await attachPersistence(target, {
      stateDir: options.stateDir,
      log,
      changes,
      sync: syncOps,
      network: hostNet,
    });
    server = new ControlServer(persisted.target, {
      onError: (e) => log(`control: ${errText(e)}`),
    });
    persisted.register(server);
    // `--offload`, when given, wins over the saved configuration (and is saved with it).
    if (options.offload !== undefined) {
      await persisted.target.setTunables({ offload: options.offload });
    }
    // Health checks run here, on the main thread, and follow every configuration change (the
    // "start" announcement below brings up those of the restored configuration). Sessions
    // ending (expiry) change no configuration.
    const monitor = health = new HealthMonitor({ target: workers, log });
    changes.on((change) => {
      // Not awaited: a change does not wait for the checks to follow it.
      if (change.reason !== "expiry") monitor.follow(() => workers.listServices());
    });
    // The configuration is back: take the sessions over, then read the queues.
    for (const r of await pool.all(WORKER_RESUME_OP) as ResumeReport[]) logResume(r);
    await changes.exclusive(() => changes.announce("start", false));
    server.register("restart", () => {
      end = "restart";
      // After the reply is sent.
      setTimeout(() => stopRequested(), 50);
      return { restarting: true, ...daemonProcess(options.runDir) };
    });
    // A client that restarted the daemon tells the new one by its pid (src/shell daemon restart).
    server.register("daemonInfo", () => daemonProcess(options.runDir));
    // `reboot` / `shutdown` of the admin shell, whose user is not root.
    server.register("hostPower", hostPowerOp(log));
    // `capture`: tcpdump run as root for the admin, files in the state directory.
    const pcaps = captures = new Captures({ dir: captureDir(options.stateDir), log });
    server.register("captureStart", (req) => pcaps.start(req));
    server.register("captureStop", (name) => pcaps.stop(name));
    server.register("captureList", () => pcaps.list());
    server.register("captureDelete", (name) => pcaps.delete(name));
    // `rs drain --within`: weight 0 now, removal when the sessions are gone or at the deadline.
    const live = drains = new Drains({
      control: localRemote(persisted.target),
      endSessions: async (key, rs) => {
        const all = await pool.all(WORKER_END_SESSIONS_OP, [key, rs]) as {
          ended: number;
          reset: number;
        }[];
        return {
          ended: all.reduce((n, r) => n + r.ended, 0),
          reset: all.reduce((n, r) => n + r.reset, 0),
        };
      },
      log,
    });
    server.register("drainStart", (key, rs, opts) => live.start(key, rs, opts));
    server.register("drainList", () => live.list());
    server.register("status", async () => ({
      ...statusReport(
        await pool.all(WORKER_STATUS_OP) as WorkerStatus[],
        diversion.spec,
        monitor.counters(),
      ),
      drains: live.list(),
      sync: daemons.list(),
      config: persisted.versions.status(),
      captures: pcaps.counters,
      network: hostNet.status(),
    }));
    server.register("healthStatus", () => monitor.report());
    // `network status`, `show interfaces|routes|arp`: what is configured and what is live.
    server.register("networkStatus", () => hostNet.status());
    server.register("networkLive", (kind) => liveNetwork(kind));
    // `dns show`, `ntp show`: what systemd-resolved / systemd-timesyncd have in effect.
    server.register("networkInEffect", (kind) => readInEffect(kind));
    // `ipvsadm --start-daemon` / `--stop-daemon` / `-L --daemon`: one change at a time, saved.
    server.register("syncStart", (spec) => {
      const checked = checkSyncSpec(spec);
      return changes.exclusive(() => syncOps.start(checked));
    });
    server.register("syncStop", (role) => {
      const checked = checkSyncRole(role);
      return changes.exclusive(() => syncOps.stop(checked));
    });
    server.register("syncList", () => daemons.list());
    // `show firewall`: the host firewall's counters (src/mgmt), read as root for the admin.
    server.register("hostFirewall", () => showFirewall({}));
    await server.listen({ path: options.socket, mode: 0o660 });

    const stop = () => stopRequested();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    const queues = options.workers === 1
      ? `queue ${options.queue}`
      : `${options.workers} workers on queues ${options.queue}-${
        options.queue + options.workers - 1
      }`;
    log(`running: ${queues}, chains ${options.chainPrefix}*, control socket ${options.socket}`);
    try {
      failure = await stopped;
    } finally {
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
    }
    log(end === "restart" ? "stopping for a restart: rules and sessions kept" : "stopping");
  } catch (e) {
    // A daemon that failed to start leaves adopted rules and sessions to the next one, and
    // removes what it set up itself.
    end = adopted ? "restart" : "stop";
    throw e;
  } finally {
    clearTimeout(dirtyTimer);
    sync?.close();
    await captures?.close();
    drains?.stop();
    health?.stop();
    rates?.stop();
    await server?.close();
    if (end === "stop") {
      // Before the rules go: entries left behind would match packets nothing translates.
      await pool.all(WORKER_OFFLOAD_END_OP).catch((e) =>
        log(`deleting the kernel's offloaded entries failed: ${errText(e)}`)
      );
    }
    await pool.stop();
    if (end === "stop") {
      await diversion.remove().catch((e) => log(`removing iptables chains failed: ${errText(e)}`));
      await drRoutes.remove().catch((e) =>
        log(`removing DR rules and routes failed: ${errText(e)}`)
      );
      if (options.runDir !== null) {
        try {
          clearRunState(options.runDir, options.workers);
        } catch (e) {
          log(`removing the session tables failed: ${errText(e)}`);
        }
      }
      try {
        restoreSysctls(sysctlsBefore);
        if (options.runDir !== null) clearSysctlCarry(options.runDir);
        if (sysctlsBefore.length > 0) {
          log(
            `kernel settings restored: ${
              sysctlsBefore.map((c) => `${c.key}=${c.from}`).join(", ")
            }`,
          );
        }
      } catch (e) {
        log(`restoring kernel settings failed: ${errText(e)}`);
      }
    }
  }
  if (failure !== undefined) throw failure;
  return end;
}
