/**
 * The daemon's health monitor: runs the health checks of every real server on the daemon's
 * main thread (never on a packet worker), and tells the workers what they found, as
 * keepalived's checkers drive IPVS.
 *
 * - {@linkcode HealthMonitor.sync} keeps one {@linkcode CheckRunner} per (real server, check)
 *   in step with the running configuration: called after every change, it starts the checks
 *   of new servers, stops those of deleted ones and restarts a check whose settings changed
 *   (an unchanged check keeps its runner, its state and its counts). A first round is put at a
 *   random point within the check's delayLoop, so checks do not run in step.
 * - A server is up while every one of its checks is up (none: always up). Each change is
 *   logged (`health: tcp 198.51.100.10:80 rs 203.0.113.11:80 DOWN (connection refused)`),
 *   counted, and sent to every worker (`setHealth`), which sets the scheduling weight; the
 *   configured weight is never rewritten, so `config export` is unchanged.
 * - Per service, keepalived's quorum: the sum of the weights of its live servers; the quorum is
 *   lost when that sum is 0 or below `quorum - hysteresis`, regained at `quorum + hysteresis`
 *   or more. While it is lost the sorry server, if any, serves alone.
 * - {@linkcode HealthMonitor.report} is the `healthStatus` op: each server's state, reason,
 *   last result and counts; {@linkcode HealthMonitor.counters} goes into `status`.
 *
 * Sending to the workers never blocks a check or a configuration change: updates queue on a
 * chain of their own, and a refusal because the server or service was deleted meanwhile is
 * dropped (the next sync sees the new configuration).
 *
 * @module
 */
import { CheckRunner, type CheckStatus, type RunnerOptions } from "../health/runner.ts";
import { checkKey, type CheckSpec, type RsTarget } from "../health/spec.ts";
import { ControlError, DEFAULT_QUORUM } from "../fullnat/types.ts";
import type { HealthUpdate, ServiceKey, ServiceView, SorryServerSpec } from "../fullnat/types.ts";
import { describeCheck } from "../persist/plan.ts";
import { serviceName } from "../persist/document.ts";
import { formatEndpoint } from "../vocab/mod.ts";

/** What the monitor drives: the workers' health op. */
export interface MonitorTarget {
  setHealth(key: ServiceKey, update: HealthUpdate): Promise<void>;
}

/** What the monitor needs of a runner (a {@linkcode CheckRunner}, or a test's stand-in). */
export interface Runner {
  start(): void;
  stop(): void;
  readonly status: CheckStatus;
}

/** Makes a runner; the default makes a {@linkcode CheckRunner}. */
export type RunnerFactory = (
  spec: CheckSpec,
  rs: RsTarget,
  onChange: (s: CheckStatus) => void,
  opts: RunnerOptions,
) => Runner;

/** Options of {@linkcode HealthMonitor}. */
export interface HealthMonitorOptions {
  target: MonitorTarget;
  /** The daemon's log: one line per transition. */
  log: (message: string) => void;
  makeRunner?: RunnerFactory;
  /** In [0, 1): where in its delayLoop a new check's first round falls. */
  random?: () => number;
  /** Epoch milliseconds. */
  now?: () => number;
}

/** Counters of the monitor, in `status` (`health` section). */
export interface HealthCounters {
  /** Checks running now. */
  checks: number;
  /** Rounds run (all checks, since the daemon started). */
  checksRun: number;
  /** Rounds that failed. */
  checksFailed: number;
  /** Real servers that came up / went down. */
  transitionsUp: number;
  transitionsDown: number;
  /** Times a service lost / regained its quorum. */
  quorumLost: number;
  quorumRegained: number;
  /** Updates the workers refused for another reason than a deleted server or service. */
  updateErrors: number;
}

/** One check of one server in {@linkcode HealthReport}. */
export interface CheckHealth {
  /** The check in words (`http /health delayLoop 5`). */
  check: string;
  type: CheckSpec["type"];
  up: boolean;
  /** When `up` last changed, epoch ms. */
  since: number;
  reason: string;
  lastResult?: CheckStatus["lastResult"];
  rounds: number;
  failures: number;
  transitions: number;
  weight?: number;
}

/** One real server in {@linkcode HealthReport}. */
export interface ServerHealth {
  address: string;
  port: number;
  state: "up" | "down";
  /** When the server last changed state (or was first seen), epoch ms. */
  since: number;
  reason: string;
  /** The configured weight. */
  weight: number;
  /** A weight a dynamic misc check asked for. */
  dynamicWeight?: number;
  inhibitOnFailure: boolean;
  /** Summed over its checks. */
  rounds: number;
  failures: number;
  /** Times the server changed state. */
  transitions: number;
  checks: CheckHealth[];
}

/** One service in {@linkcode HealthReport}. */
export interface ServiceHealth extends ServiceKey {
  quorum: number;
  hysteresis: number;
  quorumUp: boolean;
  /** Sum of the weights of the live servers. */
  liveWeight: number;
  sorryServer?: SorryServerSpec & { active: boolean };
  realServers: ServerHealth[];
}

/** What the `healthStatus` op answers. */
export interface HealthReport {
  counters: HealthCounters;
  services: ServiceHealth[];
}

interface CheckState {
  key: string;
  spec: CheckSpec;
  runner: Runner;
}

interface ServerState {
  address: string;
  port: number;
  weight: number;
  inhibitOnFailure: boolean;
  checks: CheckState[];
  up: boolean;
  dynamicWeight: number | undefined;
  since: number;
  reason: string;
  transitions: number;
}

interface ServiceState {
  key: ServiceKey;
  quorum: number;
  hysteresis: number;
  sorry: SorryServerSpec | undefined;
  quorumUp: boolean;
  servers: Map<string, ServerState>;
}

const endpointId = (a: { address: string; port: number }) => formatEndpoint(a.address, a.port);
const serviceId = (k: ServiceKey) => `${k.protocol} ${formatEndpoint(k.address, k.port)}`;

/**
 * The next quorum state of a service (keepalived's `update_quorum_state`): lost when the live
 * weight is 0 or below `quorum - hysteresis`, regained at `quorum + hysteresis` or more.
 */
export function nextQuorumUp(
  up: boolean,
  liveWeight: number,
  quorum: number,
  hysteresis: number,
): boolean {
  if (up) return !(liveWeight === 0 || liveWeight < quorum - hysteresis);
  return liveWeight > 0 && liveWeight >= quorum + hysteresis;
}

const defaultFactory: RunnerFactory = (spec, rs, onChange, opts) =>
  new CheckRunner(spec, rs, onChange, opts);

/** See the module comment. */
export class HealthMonitor {
  readonly #target: MonitorTarget;
  readonly #log: (message: string) => void;
  readonly #makeRunner: RunnerFactory;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #services = new Map<string, ServiceState>();
  #updates: Promise<void> = Promise.resolve();
  #following: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  /** Rounds and failures of runners already stopped (their counts stay in the totals). */
  #retired = { rounds: 0, failures: 0 };
  readonly #counts = {
    transitionsUp: 0,
    transitionsDown: 0,
    quorumLost: 0,
    quorumRegained: 0,
    updateErrors: 0,
  };

  constructor(options: HealthMonitorOptions) {
    this.#target = options.target;
    this.#log = options.log;
    this.#makeRunner = options.makeRunner ?? defaultFactory;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Brings the checks in step with `services` (the running configuration, as listed by the
   * workers: configured weights, checks, and the health the workers hold now) and sends the
   * workers whatever of the monitor's state they do not hold yet.
   */
  sync(services: readonly ServiceView[]): void {
    if (this.#stopped) return;
    const seen = new Set<string>();
    let started = 0;
    let stopped = 0;
    for (const view of services) {
      const id = serviceId(view);
      seen.add(id);
      let svc = this.#services.get(id);
      if (svc === undefined) {
        svc = {
          key: { protocol: view.protocol, address: view.address, port: view.port },
          quorum: DEFAULT_QUORUM,
          hysteresis: 0,
          sorry: undefined,
          quorumUp: view.quorumUp ?? true,
          servers: new Map(),
        };
        this.#services.set(id, svc);
      }
      svc.quorum = view.quorum ?? DEFAULT_QUORUM;
      svc.hysteresis = view.hysteresis ?? 0;
      svc.sorry = view.sorryServer === undefined ? undefined : {
        address: view.sorryServer.address,
        port: view.sorryServer.port,
        method: view.sorryServer.method,
      };
      const present = new Set<string>();
      const update: NonNullable<HealthUpdate["servers"]> = [];
      for (const r of view.realServers) {
        const rid = endpointId(r);
        present.add(rid);
        let rs = svc.servers.get(rid);
        if (rs === undefined) {
          rs = {
            address: r.address,
            port: r.port,
            weight: r.weight,
            inhibitOnFailure: false,
            checks: [],
            up: true,
            dynamicWeight: undefined,
            since: this.#now(),
            reason: "",
            transitions: 0,
          };
          svc.servers.set(rid, rs);
        }
        rs.weight = r.weight;
        rs.inhibitOnFailure = r.inhibitOnFailure ?? false;
        const wasUp = rs.up;
        const counts = this.#syncChecks(svc, rs, r.checks ?? []);
        started += counts.started;
        stopped += counts.stopped;
        this.#combine(rs);
        // The check that held it down was removed (or the one that held it up).
        if (rs.up !== wasUp) this.#transition(svc, rs);
        // What the workers hold (view) against what the checks say.
        if ((r.up ?? true) !== rs.up || (r.healthWeight ?? undefined) !== rs.dynamicWeight) {
          update.push({
            address: rs.address,
            port: rs.port,
            up: rs.up,
            weight: rs.dynamicWeight ?? null,
          });
        }
      }
      for (const [rid, rs] of svc.servers) {
        if (present.has(rid)) continue;
        stopped += this.#stopChecks(rs);
        svc.servers.delete(rid);
      }
      this.#judgeQuorum(svc);
      const quorumDiffers = (view.quorumUp ?? true) !== svc.quorumUp;
      if (update.length > 0 || quorumDiffers) {
        this.#send(svc, { servers: update, quorumUp: svc.quorumUp });
      }
    }
    for (const [id, svc] of this.#services) {
      if (seen.has(id)) continue;
      for (const rs of svc.servers.values()) stopped += this.#stopChecks(rs);
      this.#services.delete(id);
    }
    if (started > 0 || stopped > 0) {
      this.#log(
        `health: ${this.#running()} check(s) running` +
          (started > 0 ? `, ${started} started` : "") +
          (stopped > 0 ? `, ${stopped} stopped` : ""),
      );
    }
  }

  /**
   * Syncs with what `list` answers, soon and without making the caller wait: the daemon calls
   * this on every configuration change, and a listing of many services takes a while. Calls
   * while one sync runs are folded into one more after it; a failed listing is logged.
   */
  follow(list: () => Promise<readonly ServiceView[]>): void {
    if (this.#stopped) return;
    if (this.#following !== undefined) {
      this.#again = true;
      return;
    }
    this.#following = (async () => {
      do {
        this.#again = false;
        try {
          this.sync(await list());
        } catch (e) {
          this.#log(
            `health: reading the configuration failed, checks not updated: ${
              e instanceof Error ? e.message : String(e)
            }`,
          );
        }
      } while (this.#again && !this.#stopped);
    })().finally(() => this.#following = undefined);
  }

  /** Resolves when the syncs {@linkcode follow} started have run (tests). */
  async followed(): Promise<void> {
    while (this.#following !== undefined) await this.#following;
  }

  /** Starts the runners `checks` asks for that `rs` lacks, stops those it no longer has. */
  #syncChecks(
    svc: ServiceState,
    rs: ServerState,
    checks: readonly CheckSpec[],
  ): { started: number; stopped: number } {
    const keep: CheckState[] = [];
    const spare = [...rs.checks];
    let started = 0;
    const fresh: CheckState[] = [];
    for (const spec of checks) {
      const key = checkKey(spec);
      const at = spare.findIndex((c) => c.key === key);
      if (at >= 0) {
        keep.push(spare[at]);
        spare.splice(at, 1);
        continue;
      }
      // A new or changed check starts in the server's state: a server its old check held
      // down stays down until the new one has seen it rise.
      const state: CheckState = { key, spec, runner: undefined as unknown as Runner };
      state.runner = this.#makeRunner(
        spec,
        { address: rs.address, port: rs.port },
        () => this.#changed(svc, rs, state),
        {
          firstDelayMs: Math.floor(this.#random() * spec.delayLoop * 1000),
          initiallyUp: rs.up,
        },
      );
      keep.push(state);
      fresh.push(state);
      started++;
    }
    let stopped = 0;
    for (const c of spare) {
      this.#retire(c);
      stopped++;
    }
    rs.checks = keep;
    for (const c of fresh) c.runner.start();
    return { started, stopped };
  }

  #retire(c: CheckState): void {
    c.runner.stop();
    const s = c.runner.status;
    this.#retired.rounds += s.rounds;
    this.#retired.failures += s.failures;
  }

  #stopChecks(rs: ServerState): number {
    for (const c of rs.checks) this.#retire(c);
    const n = rs.checks.length;
    rs.checks = [];
    return n;
  }

  /** Sets the server's state from its checks: up when all are; the lowest dynamic weight. */
  #combine(rs: ServerState): void {
    const statuses = rs.checks.map((c) => c.runner.status);
    rs.up = statuses.every((s) => s.up);
    const weights = statuses.map((s) => s.weight).filter((w): w is number => w !== undefined);
    rs.dynamicWeight = weights.length === 0 ? undefined : Math.min(...weights);
    rs.reason = this.#reasonOf(rs, statuses);
  }

  #reasonOf(rs: ServerState, statuses: CheckStatus[]): string {
    if (statuses.length === 0) return "no checks";
    const many = statuses.length > 1;
    const i = rs.up ? 0 : statuses.findIndex((s) => !s.up);
    const s = statuses[i];
    const spec = rs.checks[i].spec;
    // A check is down only after every attempt of a round failed.
    const tries = !s.up && s.rounds > 0 && spec.retry > 0 ? ` after ${spec.retry + 1} tries` : "";
    return (many ? `${spec.type}: ` : "") + s.reason + tries;
  }

  /** A runner's state changed: the server's may have, and with it the quorum. */
  #changed(svc: ServiceState, rs: ServerState, check: CheckState): void {
    if (this.#stopped || !rs.checks.includes(check)) return;
    const wasUp = rs.up;
    const wasWeight = rs.dynamicWeight;
    this.#combine(rs);
    if (rs.up !== wasUp) this.#transition(svc, rs);
    else if (rs.dynamicWeight !== wasWeight) {
      this.#log(
        `health: ${serviceName(svc.key)} rs ${endpointId(rs)} weight ${
          rs.dynamicWeight ?? `${rs.weight} (as configured)`
        } (${rs.reason})`,
      );
    } else return;
    this.#judgeQuorum(svc);
    this.#send(svc, {
      servers: [{
        address: rs.address,
        port: rs.port,
        up: rs.up,
        weight: rs.dynamicWeight ?? null,
      }],
      quorumUp: svc.quorumUp,
    });
  }

  /** Counts and logs the change of state `rs` just made. */
  #transition(svc: ServiceState, rs: ServerState): void {
    rs.since = this.#now();
    rs.transitions++;
    if (rs.up) this.#counts.transitionsUp++;
    else this.#counts.transitionsDown++;
    const effect = rs.up ? "" : rs.inhibitOnFailure ? ": weight 0" : ": out of rotation";
    this.#log(
      `health: ${serviceName(svc.key)} rs ${endpointId(rs)} ${rs.up ? "UP" : "DOWN"} ` +
        `(${rs.reason})${effect}`,
    );
  }

  #liveWeight(svc: ServiceState): number {
    let sum = 0;
    for (const rs of svc.servers.values()) if (rs.up) sum += rs.dynamicWeight ?? rs.weight;
    return sum;
  }

  /**
   * Moves the service's quorum state by keepalived's rule. Only a service that uses health
   * (checks on a server, a sorry server, or a quorum other than the default) has one: the
   * others keep theirs, whatever their weights.
   */
  #judgeQuorum(svc: ServiceState): void {
    const tracked = svc.sorry !== undefined || svc.quorum !== DEFAULT_QUORUM ||
      svc.hysteresis !== 0 ||
      [...svc.servers.values()].some((rs) => rs.checks.length > 0);
    const live = this.#liveWeight(svc);
    const next = tracked ? nextQuorumUp(svc.quorumUp, live, svc.quorum, svc.hysteresis) : true;
    if (next === svc.quorumUp) return;
    svc.quorumUp = next;
    const sorry = svc.sorry === undefined ? undefined : endpointId(svc.sorry);
    if (next) {
      this.#counts.quorumRegained++;
      this.#log(
        `health: ${serviceName(svc.key)} quorum regained: live weight ${live} >= ` +
          `quorum ${svc.quorum} + hysteresis ${svc.hysteresis}` +
          (sorry ? `; sorry server ${sorry} out of rotation` : ""),
      );
    } else {
      this.#counts.quorumLost++;
      this.#log(
        `health: ${serviceName(svc.key)} quorum lost: live weight ${live} < ` +
          `quorum ${svc.quorum} - hysteresis ${svc.hysteresis}` +
          (sorry ? `; sorry server ${sorry} in rotation` : "; no sorry server"),
      );
    }
  }

  /** Queues an update to the workers; never blocks the caller. */
  #send(svc: ServiceState, update: HealthUpdate): void {
    const key = { ...svc.key };
    this.#updates = this.#updates.then(async () => {
      if (this.#stopped) return;
      try {
        await this.#target.setHealth(key, update);
      } catch (e) {
        // Deleted meanwhile: the sync after that change has forgotten it already.
        if (e instanceof ControlError && (e.code === "no-service" || e.code === "no-dest")) return;
        this.#counts.updateErrors++;
        this.#log(
          `health: updating ${serviceName(key)} on the workers failed: ${
            e instanceof Error ? e.message : String(e)
          }`,
        );
      }
    });
  }

  /** Resolves when every update queued so far has been sent (tests, shutdown). */
  settled(): Promise<void> {
    return this.#updates;
  }

  #running(): number {
    let n = 0;
    for (const svc of this.#services.values()) {
      for (const rs of svc.servers.values()) n += rs.checks.length;
    }
    return n;
  }

  /** The counters for `status`. */
  counters(): HealthCounters {
    let rounds = this.#retired.rounds;
    let failures = this.#retired.failures;
    for (const svc of this.#services.values()) {
      for (const rs of svc.servers.values()) {
        for (const c of rs.checks) {
          const s = c.runner.status;
          rounds += s.rounds;
          failures += s.failures;
        }
      }
    }
    return {
      checks: this.#running(),
      checksRun: rounds,
      checksFailed: failures,
      ...this.#counts,
    };
  }

  /** Every service's and server's health, for the `healthStatus` op. */
  report(): HealthReport {
    const services: ServiceHealth[] = [];
    for (const svc of this.#services.values()) {
      const realServers: ServerHealth[] = [];
      for (const rs of svc.servers.values()) {
        const checks: CheckHealth[] = rs.checks.map((c) => {
          const s = c.runner.status;
          return {
            check: describeCheck(c.spec),
            type: c.spec.type,
            up: s.up,
            since: s.since,
            reason: s.reason,
            ...(s.lastResult !== undefined && { lastResult: s.lastResult }),
            rounds: s.rounds,
            failures: s.failures,
            transitions: s.transitions,
            ...(s.weight !== undefined && { weight: s.weight }),
          };
        });
        realServers.push({
          address: rs.address,
          port: rs.port,
          state: rs.up ? "up" : "down",
          since: rs.since,
          reason: rs.reason,
          weight: rs.weight,
          ...(rs.dynamicWeight !== undefined && { dynamicWeight: rs.dynamicWeight }),
          inhibitOnFailure: rs.inhibitOnFailure,
          rounds: checks.reduce((n, c) => n + c.rounds, 0),
          failures: checks.reduce((n, c) => n + c.failures, 0),
          transitions: rs.transitions,
          checks,
        });
      }
      services.push({
        ...svc.key,
        quorum: svc.quorum,
        hysteresis: svc.hysteresis,
        quorumUp: svc.quorumUp,
        liveWeight: this.#liveWeight(svc),
        ...(svc.sorry !== undefined &&
          { sorryServer: { ...svc.sorry, active: !svc.quorumUp } }),
        realServers,
      });
    }
    return { counters: this.counters(), services };
  }

  /** Stops every check; nothing more is sent. */
  stop(): void {
    this.#stopped = true;
    for (const svc of this.#services.values()) {
      for (const rs of svc.servers.values()) this.#stopChecks(rs);
    }
  }
}
