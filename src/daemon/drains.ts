/**
 * Drains with a deadline (`rs drain PROTO VIP:PORT RS:PORT --within SECONDS`): the daemon sets
 * the real server's weight to 0, so it takes no new sessions, and watches its sessions; when
 * none is left, or when the deadline passes, it ends what is left (TCP sessions reset at both
 * ends, UDP sessions ended: `Engine.endServerSessions` in every worker) and deletes the server.
 * The daemon tracks a drain, not the client that asked: the op answers at once and the drain
 * goes on; `drainList` (and `status`) tell how far each one is.
 *
 * A drain lives in the daemon's memory only: the weight 0 is saved with the configuration, so
 * after a restart the server stays out of rotation, but nobody removes it at the deadline.
 *
 * @module
 */
import { checkArgs } from "../ctl/validate.ts";
import type { RemoteControl } from "../ctl/remote.ts";
import { ControlError, type Endpoint, type ServiceKey } from "../fullnat/types.ts";
import { COMMAND_MAX_SECONDS, formatEndpoint } from "../vocab/mod.ts";

/** One drain, running or finished, as `drainList` and `status` show it. */
export interface DrainView {
  /** Its number within this daemon's run. */
  id: number;
  service: ServiceKey;
  server: Endpoint;
  state: "draining" | "done" | "failed";
  /** When it started and when its deadline is (ms since the epoch). */
  startedAt: number;
  deadlineAt: number;
  withinSeconds: number;
  /** Sessions of the server when the drain started, and at the last look. */
  sessionsAtStart: number;
  sessions: number;
  /** How it ended: the sessions ended by themselves, or the deadline ended them. */
  outcome?: "no sessions left" | "deadline" | "server gone";
  endedAt?: number;
  /** At the deadline: sessions ended, and of those TCP sessions reset at both ends. */
  ended?: number;
  reset?: number;
  /** Why a failed drain failed. */
  error?: string;
}

/** What the drains need of the daemon. */
export interface DrainDeps {
  /** The daemon's served (and persisted) control target. */
  control: RemoteControl;
  /** Ends every session of a server in every worker. */
  endSessions(key: ServiceKey, server: Endpoint): Promise<{ ended: number; reset: number }>;
  /** Milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
  /** How often the sessions are counted, ms (default 250). */
  pollMs?: number;
  log?: (message: string) => void;
}

/** Finished drains kept for `drainList`. */
const KEPT = 16;

/** A running drain's timers. */
interface Running {
  view: DrainView;
  poll: ReturnType<typeof setInterval>;
  deadline: ReturnType<typeof setTimeout>;
  busy: boolean;
}

const sameEndpoint = (a: Endpoint, b: Endpoint) => a.address === b.address && a.port === b.port;
const name = (v: DrainView) =>
  `${formatEndpoint(v.server.address, v.server.port)} of ${v.service.protocol} ` +
  formatEndpoint(v.service.address, v.service.port);

/** The drains of one daemon. */
export class Drains {
  readonly #deps: DrainDeps;
  readonly #now: () => number;
  readonly #running = new Map<number, Running>();
  readonly #finished: DrainView[] = [];
  #next = 1;

  constructor(deps: DrainDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  /**
   * Starts draining `server` of `service` for at most `within` seconds (arguments as they came
   * over the socket: checked here). Refused, changing nothing, when the server does not exist
   * or is being drained already.
   */
  async start(service: unknown, server: unknown, options?: unknown): Promise<DrainView> {
    const checked = checkArgs("deleteRealServer", [service, server]);
    if (!checked.ok) throw new ControlError("invalid-argument", checked.message);
    const [key, ep] = checked.args;
    const within = (options as { within?: unknown } | undefined)?.within ?? 300;
    if (
      typeof within !== "number" || !Number.isInteger(within) || within < 0 ||
      within > COMMAND_MAX_SECONDS
    ) {
      throw new ControlError(
        "invalid-argument",
        `a drain's deadline is whole seconds from 0 to ${COMMAND_MAX_SECONDS} (got ${
          String(within)
        })`,
      );
    }
    for (const r of this.#running.values()) {
      if (sameService(r.view.service, key) && sameEndpoint(r.view.server, ep)) {
        throw new ControlError(
          "invalid-argument",
          `${name(r.view)} is being drained already (drain ${r.view.id}, deadline in ${
            Math.max(0, Math.ceil((r.view.deadlineAt - this.#now()) / 1000))
          } s)`,
        );
      }
    }
    // Refuses a missing service or server with the usual messages.
    await this.#deps.control.editRealServer(key, { ...ep, weight: 0 });
    const sessions = (await this.#sessions(key, ep)) ?? 0;
    const now = this.#now();
    const view: DrainView = {
      id: this.#next++,
      service: key,
      server: ep,
      state: "draining",
      startedAt: now,
      deadlineAt: now + within * 1000,
      withinSeconds: within,
      sessionsAtStart: sessions,
      sessions,
    };
    const run: Running = {
      view,
      busy: false,
      poll: setInterval(() => this.#step(run, false), this.#deps.pollMs ?? 250),
      deadline: setTimeout(() => this.#step(run, true), within * 1000),
    };
    this.#running.set(view.id, run);
    this.#deps.log?.(
      `draining ${name(view)}: weight 0, ${sessions} session(s), deadline in ${within} s`,
    );
    // Nothing to wait for: done now.
    if (sessions === 0 || within === 0) await this.#step(run, within === 0);
    return { ...view };
  }

  /** Every running drain, then the most recent finished ones. */
  list(): DrainView[] {
    return [...[...this.#running.values()].map((r) => ({ ...r.view })), ...this.#finished];
  }

  /** Stops watching (the daemon is stopping); running drains are left where they are. */
  stop(): void {
    for (const r of this.#running.values()) {
      clearInterval(r.poll);
      clearTimeout(r.deadline);
    }
    this.#running.clear();
  }

  /** The server's sessions in every worker, or undefined when it is no longer listed. */
  async #sessions(key: ServiceKey, ep: Endpoint): Promise<number | undefined> {
    const services = await this.#deps.control.listServices();
    const svc = services.find((s) => sameService(s, key));
    const rs = svc?.realServers.find((r) => sameEndpoint(r, ep));
    return rs === undefined ? undefined : rs.activeConns + rs.inactiveConns;
  }

  /** Looks at a drain: ends it when its sessions are gone or (`deadline`) its time is up. */
  async #step(run: Running, deadline: boolean): Promise<void> {
    if (run.busy || !this.#running.has(run.view.id)) return;
    run.busy = true;
    const v = run.view;
    try {
      const left = await this.#sessions(v.service, v.server);
      if (left === undefined) return this.#finish(run, "server gone");
      v.sessions = left;
      if (left > 0 && !deadline && this.#now() < v.deadlineAt) return;
      if (left > 0) {
        const r = await this.#deps.endSessions(v.service, v.server);
        v.ended = r.ended;
        v.reset = r.reset;
        v.sessions = 0;
      }
      await this.#deps.control.deleteRealServer(v.service, v.server);
      this.#finish(run, left > 0 ? "deadline" : "no sessions left");
    } catch (e) {
      v.error = e instanceof Error ? e.message : String(e);
      this.#finish(run, undefined);
    } finally {
      run.busy = false;
    }
  }

  #finish(run: Running, outcome: DrainView["outcome"]): void {
    clearInterval(run.poll);
    clearTimeout(run.deadline);
    this.#running.delete(run.view.id);
    const v = run.view;
    v.state = outcome === undefined ? "failed" : "done";
    if (outcome !== undefined) v.outcome = outcome;
    v.endedAt = this.#now();
    this.#finished.unshift(v);
    this.#finished.length = Math.min(this.#finished.length, KEPT);
    const took = ((v.endedAt - v.startedAt) / 1000).toFixed(2);
    this.#deps.log?.(
      v.state === "failed"
        ? `drain of ${name(v)} failed after ${took} s: ${v.error}`
        : `drained ${name(v)} in ${took} s (${outcome}` +
          (v.ended ? `: ${v.ended} session(s) ended, ${v.reset} reset` : "") + "); removed",
    );
  }
}

function sameService(a: ServiceKey, b: ServiceKey): boolean {
  return a.protocol === b.protocol && a.address === b.address && a.port === b.port;
}
