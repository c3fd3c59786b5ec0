/**
 * What one benchmark run of one peer measured, and how runs are folded into medians.
 *
 * @module
 */

/** The workloads, in the order they run for each peer. */
export const WORKLOADS = ["bulk", "download", "conns", "udp", "burst"] as const;

/** One workload name. */
export type Workload = typeof WORKLOADS[number];

/**
 * CPU spent while one workload ran, in cores (1.0 = one CPU busy for the whole workload).
 * `proc` is every process in the balancer's namespace (daemon, HAProxy, pass-through; user +
 * system time of all their threads), `softirq` the whole machine's softirq time, which holds
 * the kernel's packet path of every namespace (client and real server included).
 */
export interface CpuUse {
  proc: number;
  softirq: number;
}

/** The figures of one peer in one run; a figure is absent when its workload failed. */
export interface Sample {
  /** Bulk TCP throughput, Gbit/s, as received by the real server. */
  gbps?: number;
  /**
   * Bulk TCP from the real server to the client (a download), Gbit/s, as the client received
   * it: the direction the kernel fast path takes over (an upload's session keeps TOA, and so
   * the engine, until its server sends data).
   */
  gbpsDown?: number;
  /** HTTP requests per second, each on a new TCP connection. */
  cps?: number;
  /** 99th percentile request latency of the connection workload, ms. */
  p99Ms?: number;
  /** UDP datagrams per second that reached the real server, thousands. */
  kpps?: number;
  /** UDP datagrams per second a frozen-then-thawed balancer drained from its queues, thousands. */
  burstKpps?: number;
  /** Share of the drain time some queue was empty while another was not (not a figure). */
  burstUneven?: number;
  /** What a fullnat daemon did per new session during the connection workload (not a figure). */
  perConn?: PerConnection;
  /** CPU per workload. */
  cpu: Partial<Record<Workload, CpuUse>>;
  /** Why a workload or the whole peer failed, e.g. `conns: wrk exited 1: ...`. */
  errors: string[];
  /** Workloads the peer cannot carry (HAProxy and UDP), shown as n/a rather than failed. */
  unsupported: Workload[];
}

/** A fullnat daemon's work per new session, from its counters around the connection workload. */
export interface PerConnection {
  /** Sessions created (the divisor). */
  sessions: number;
  /** Packets the queue received. */
  queued: number;
  /** Batches (recvmmsg rounds) they came in. */
  batches: number;
  /** Sessions handed to the kernel's conntrack. */
  offloaded: number;
  /** Packets of offloaded sessions that reached the queue anyway. */
  fallback: number;
  /** Offload requests (netlink messages) sent. */
  requests: number;
}

/** The numeric figures a {@linkcode Sample} may carry. */
export const FIGURES = ["gbps", "gbpsDown", "cps", "p99Ms", "kpps", "burstKpps"] as const;

/** One numeric figure name. */
export type Figure = typeof FIGURES[number];

/** The medians of one peer over all its runs. */
export interface Summary {
  /** Median of each figure over the runs that produced it (absent when none did). */
  median: Partial<Record<Figure, number>>;
  /**
   * Each figure run by run, in run order (undefined where that run did not produce it);
   * {@linkcode runsMeasured} counts the runs that did.
   */
  perRun: Record<Figure, (number | undefined)[]>;
  /** Median CPU per workload over the runs that measured it. */
  cpu: Partial<Record<Workload, CpuUse>>;
  /** Every distinct error seen, with how many runs it occurred in. */
  errors: string[];
  /** Workloads the peer cannot carry. */
  unsupported: Workload[];
  /** How many runs were made. */
  runs: number;
}

/** Median of a list of numbers (mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Folds the samples of one peer (one per run) into medians. */
export function summarize(samples: readonly Sample[]): Summary {
  const median_: Partial<Record<Figure, number>> = {};
  const perRun = {} as Record<Figure, (number | undefined)[]>;
  for (const f of FIGURES) {
    perRun[f] = samples.map((s) => s[f]);
    const values = perRun[f].filter((v): v is number => v !== undefined);
    if (values.length > 0) median_[f] = median(values);
  }
  const cpu: Partial<Record<Workload, CpuUse>> = {};
  for (const w of WORKLOADS) {
    const uses = samples.map((s) => s.cpu[w]).filter((c): c is CpuUse => c !== undefined);
    if (uses.length > 0) {
      cpu[w] = {
        proc: median(uses.map((u) => u.proc)),
        softirq: median(uses.map((u) => u.softirq)),
      };
    }
  }
  const seen = new Map<string, number>();
  for (const s of samples) {
    for (const e of new Set(s.errors)) seen.set(e, (seen.get(e) ?? 0) + 1);
  }
  const errors = [...seen].map((
    [e, n],
  ) => (samples.length > 1 ? `${e} (${n}/${samples.length})` : e));
  const unsupported = WORKLOADS.filter((w) => samples.some((s) => s.unsupported.includes(w)));
  return { median: median_, perRun, cpu, errors, unsupported, runs: samples.length };
}

/** How many runs produced figure `f`. */
export function runsMeasured(s: Summary, f: Figure): number {
  return s.perRun[f].filter((v) => v !== undefined).length;
}

/** `a / b`, or undefined when either is missing or `b` is not positive. */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || !(b > 0) || !Number.isFinite(a)) return undefined;
  return a / b;
}
