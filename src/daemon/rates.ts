/**
 * Rates for `ipvsadm -L --rate`, estimated as IPVS's `ip_vs_est` does: every 2 s each
 * service's and real server's counters are sampled, the change since the last sample divided
 * by the time between them is that interval's rate, and it moves a moving average a quarter of
 * the way (avg += (rate - avg) * W, W = 2^-2). IPVS runs this in a kernel timer; here it runs
 * on the daemon's main thread over the counters the workers report (merged, as `-L --stats`
 * shows them), so the packet path does nothing more. The estimates ride on the listing the
 * daemon already serves ({@linkcode withRates}): IPVS too hands rates out with the counters.
 *
 * @module
 */
import type { RemoteControl } from "../ctl/remote.ts";
import type { Rates, ServiceView, Stats } from "../fullnat/types.ts";

/** IPVS samples every 2 s. */
export const RATE_INTERVAL_MS = 2000;
/** IPVS's smoothing weight: each sample moves the average a quarter of the way. */
export const RATE_WEIGHT = 1 / 4;

/** Which counter each rate is estimated from. */
const FROM: ReadonlyArray<readonly [keyof Rates, keyof Stats]> = [
  ["cps", "conns"],
  ["inPps", "inPackets"],
  ["outPps", "outPackets"],
  ["inBps", "inBytes"],
  ["outBps", "outBytes"],
];

const NO_RATES: Readonly<Rates> = Object.freeze({
  cps: 0,
  inPps: 0,
  outPps: 0,
  inBps: 0,
  outBps: 0,
});

/** One service's or real server's estimate: the counters and time of the last sample. */
interface Estimate {
  last: Stats;
  atMs: number;
  /** Unrounded averages, per second. */
  avg: Rates;
}

/**
 * How IPVS reports an average: it keeps connection and packet rates in 1/1024 units and byte
 * rates in 1/32 units, and adds just under half a unit before dropping the fraction, so x.5
 * rounds down and anything above rounds up.
 */
function reported(avg: Rates): Rates {
  const round = (v: number, unit: number) => Math.max(0, Math.floor(v + (unit / 2 - 1) / unit));
  return {
    cps: round(avg.cps, 1024),
    inPps: round(avg.inPps, 1024),
    outPps: round(avg.outPps, 1024),
    inBps: round(avg.inBps, 32),
    outBps: round(avg.outBps, 32),
  };
}

const serviceId = (s: ServiceView) => `${s.protocol}|${s.address}|${s.port}`;

/** The estimates of every service and real server, fed by {@linkcode RateEstimator.sample}. */
export class RateEstimator {
  #estimates = new Map<string, Estimate>();

  /**
   * Folds a listing taken at `nowMs` into the averages. Something first seen starts from its
   * counters as they are, at rate 0; counters that went down were zeroed (`ipvsadm -Z`), which
   * starts the estimate over, as IPVS's zeroing does. What the listing lacks is forgotten, so a
   * service deleted and added again starts afresh.
   */
  sample(services: readonly ServiceView[], nowMs: number): void {
    const next = new Map<string, Estimate>();
    for (const s of services) {
      const id = serviceId(s);
      next.set(id, this.#fold(id, s.stats, nowMs));
      for (const r of s.realServers) {
        const rid = `${id}|${r.address}|${r.port}`;
        next.set(rid, this.#fold(rid, r.stats, nowMs));
      }
      const sorry = s.sorryServer;
      if (sorry !== undefined) {
        const sid = `${id}|sorry|${sorry.address}|${sorry.port}`;
        next.set(sid, this.#fold(sid, sorry.stats, nowMs));
      }
    }
    this.#estimates = next;
  }

  #fold(id: string, stats: Stats, nowMs: number): Estimate {
    const last = { ...stats };
    const before = this.#estimates.get(id);
    const zeroed = before !== undefined && FROM.some(([, c]) => stats[c] < before.last[c]);
    if (before === undefined || zeroed) return { last, atMs: nowMs, avg: { ...NO_RATES } };
    const seconds = (nowMs - before.atMs) / 1000;
    if (seconds <= 0) return before;
    const avg = { ...before.avg };
    for (const [rate, counter] of FROM) {
      const perSecond = (stats[counter] - before.last[counter]) / seconds;
      avg[rate] += (perSecond - avg[rate]) * RATE_WEIGHT;
    }
    return { last, atMs: nowMs, avg };
  }

  /** The listing with every service's and real server's rates (0 for what was never sampled). */
  annotate(services: readonly ServiceView[]): ServiceView[] {
    const rateOf = (id: string): Rates => {
      const e = this.#estimates.get(id);
      return e === undefined ? { ...NO_RATES } : reported(e.avg);
    };
    return services.map((s) => {
      const id = serviceId(s);
      return {
        ...s,
        rate: rateOf(id),
        realServers: s.realServers.map((r) => ({
          ...r,
          rate: rateOf(`${id}|${r.address}|${r.port}`),
        })),
        ...(s.sorryServer !== undefined && {
          sorryServer: {
            ...s.sorryServer,
            rate: rateOf(`${id}|sorry|${s.sorryServer.address}|${s.sorryServer.port}`),
          },
        }),
      };
    });
  }
}

/** `target` whose service listing carries the estimator's rates. */
export function withRates<T extends RemoteControl>(target: T, estimator: RateEstimator): T {
  return {
    ...target,
    listServices: async () => estimator.annotate(await target.listServices()),
  };
}

/** A running estimator: the target to serve, and how to stop sampling. */
export interface RateSampler<T> {
  readonly target: T;
  readonly estimator: RateEstimator;
  stop(): void;
}

/** Options of {@linkcode startRateSampler}. */
export interface RateSamplerOptions {
  log: (message: string) => void;
  intervalMs?: number;
  /** Milliseconds, monotonic. */
  clock?: () => number;
}

/**
 * Samples `target`'s listing now and every interval after, and returns `target` with the
 * rates added. A sample still running when the next is due is not doubled: the next one
 * measures over the longer time. A failing sample is logged once until one succeeds again.
 */
export function startRateSampler<T extends RemoteControl>(
  target: T,
  options: RateSamplerOptions,
): RateSampler<T> {
  const estimator = new RateEstimator();
  const clock = options.clock ?? (() => performance.now());
  let busy = false;
  let failing = false;
  let stopped = false;
  const tick = async () => {
    if (busy || stopped) return;
    busy = true;
    try {
      const services = await target.listServices();
      estimator.sample(services, clock());
      failing = false;
    } catch (e) {
      if (!failing && !stopped) {
        options.log(`estimating rates failed: ${e instanceof Error ? e.message : String(e)}`);
      }
      failing = true;
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(tick, options.intervalMs ?? RATE_INTERVAL_MS);
  void tick();
  return {
    target: withRates(target, estimator),
    estimator,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
